// The second heavy Spirit X3 translation unit: the write statements (`new incident`,
// `record`, `correct`, `retract`), instantiated for the iterator and context the read
// grammar's `statement` rule calls them with (config.hpp; parser.cpp checks that context).
#include "query/write_parser_def.hpp"

namespace pmdb::query::parser {

BOOST_SPIRIT_INSTANTIATE(write_stmt_type, iterator_type, context_type)

}  // namespace pmdb::query::parser
