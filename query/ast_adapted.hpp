#pragma once
// Fusion adaptation of the AST nodes whose grammar rules fill them by plain attribute
// propagation (a sequence of sub-parsers, one per member, in member order). The other nodes
// are built by semantic actions in parser_def.hpp. Only parser_def.hpp includes this header.
#include <boost/fusion/include/adapt_struct.hpp>

#include "query/ast.hpp"

BOOST_FUSION_ADAPT_STRUCT(pmdb::query::ast::time_between, from, to)
BOOST_FUSION_ADAPT_STRUCT(pmdb::query::ast::time_stmt, span, incident, as_of)
BOOST_FUSION_ADAPT_STRUCT(pmdb::query::ast::report_stmt, incident, format, path, as_of)
BOOST_FUSION_ADAPT_STRUCT(pmdb::query::ast::summarize_op, aggregates, by)
BOOST_FUSION_ADAPT_STRUCT(pmdb::query::ast::pipeline, from, ops)
