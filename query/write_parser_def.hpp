#pragma once
// The write statements of PMQL (Spirit X3): `new incident`, `record`, `correct`, `retract`.
// Included by write_parser.cpp only, the second heavy translation unit; the read grammar
// (parser_def.hpp) reaches this part through the declared top rule `write_stmt`
// (write_parser.hpp). The reading guide at the top of parser_def.hpp applies here too.
//
// The grammar keeps what was written, with spans; which positional value is which field, the
// fields a type has, the allowed values and the time are checked when the statement is bound
// to an event (query/write.hpp), against the type's JSON Schema.
//
// Grammar (EBNF-ish; {x} = repetition, [x] = option, keywords case-insensitive):
//   write       = new | record | correct | retract
//   new         = 'new' 'incident' INCIDENT {item}
//   record      = 'record' TYPE {item}
//   item        = 'at' time | 'source' STRING | 'id' STRING | 'in' INCIDENT | FIELD value | value
//   correct     = 'correct' target change {change} 'because' STRING {'source' STRING | 'id' STRING}
//   change      = 'at' time | 'set' NAME '=' value {',' NAME '=' value}
//   retract     = 'retract' target 'because' STRING {'source' STRING | 'id' STRING}
//   target      = 'last' | EVENT_ID | STRING
//   time        = ['~'] ('now' [('+' | '-') DURATION] | TIMESTAMP | TIME_OF_DAY)
//   value       = STRING | WORD | ['-'] NUMBER ['%'] | DATE | '(' [(STRING | WORD) {',' (STRING | WORD)}] ')'
// FIELD is one of the payload fields of the event types (text, owner, due, kind, tracker, url,
// lang, unit, tags, title, org, services, severity, summary, shortlink, channel, author,
// component, state, status, name, value, count) or `on` / `by` (a comm's channel and author);
// a WORD is never a FIELD nor one of at, source, id, in, set, because.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "query/write_parser.hpp"

namespace pmdb::query::parser {

// ---------------------------------------------------------------- lexical parsers

// A time of day: `H:MM`, `HH:MM` or `HH:MM:SS`, as milliseconds since midnight. Digits and a
// colon that do not make a valid time are an "invalid time of day" error.
struct time_of_day_parser : lexical_parser<time_of_day_parser, std::int64_t> {
  template <typename Iterator>
  std::optional<std::int64_t> scan(Iterator const first, Iterator& end, Iterator const last) const {
    Iterator i = first;
    unsigned hh = 0;
    int digits = 0;
    for (; i != last && detail::is_digit(*i) && digits < 2; ++i, ++digits) hh = hh * 10 + static_cast<unsigned>(*i - '0');
    if (digits == 0 || i == last || *i != ':') return std::nullopt;
    auto const invalid = [&] {
      return message_failure<Iterator>(first, "invalid time of day '" + detail::token_text(first, last) +
                                                  "' (the form is HH:MM or HH:MM:SS)");
    };
    ++i;
    unsigned mm = 0, ss = 0;
    if (!detail::read_digits(i, last, 2, mm)) throw invalid();
    if (i != last && *i == ':') {
      ++i;
      if (!detail::read_digits(i, last, 2, ss)) throw invalid();
    }
    if (hh > 23 || mm > 59 || ss > 59 || (i != last && (detail::is_word_char(*i) || *i == ':' || *i == '.')))
      throw invalid();
    end = i;
    return ((static_cast<std::int64_t>(hh) * 60 + mm) * 60 + ss) * 1000;
  }
};

// A number as a value: `[-]digits[.digits][e[+-]digits][%]`, not glued to a word.
struct value_number_parser : lexical_parser<value_number_parser, ast::write_value> {
  template <typename Iterator>
  std::optional<ast::write_value> scan(Iterator const first, Iterator& end, Iterator const last) const {
    Iterator i = first;
    if (i != last && *i == '-') ++i;
    Iterator const digits = i;
    bool integer = true;
    i = detail::scan_number(digits, last, integer);
    if (i == digits) return std::nullopt;
    Iterator const end_of_number = i;
    bool const percent = i != last && *i == '%';
    if (percent) ++i;
    if (i != last && (detail::is_word_char(*i) || *i == '.')) return std::nullopt;
    ast::write_value v;
    v.kind = percent ? ast::value_kind::percent : ast::value_kind::number;
    v.text.assign(first, i);
    v.is_integer = integer;
    std::from_chars(&*digits, &*digits + (end_of_number - digits), v.number);
    if (first != digits) v.number = -v.number;
    end = i;
    return v;
  }
};

inline constexpr time_of_day_parser time_of_day{};
inline constexpr value_number_parser value_number{};

// ---------------------------------------------------------------- symbols

// The event types `record` names. correction and retraction are parsed too, so that binding
// can point to `correct` and `retract`.
struct event_type_words_t : x3::symbols<x3::unused_type> {
  event_type_words_t() {
    for (auto const& t : words::event_types()) add(t);
  }
};
inline event_type_words_t const event_type_words;

// The payload fields of the recordable types (from their schemas, query/words.hpp), and `on` /
// `by` (a comm's channel and author).
struct field_words_t : x3::symbols<x3::unused_type> {
  field_words_t() {
    for (auto const& f : words::payload_fields()) add(f);
    add("on")("by");
  }
};
inline field_words_t const field_words;

// Words that introduce something in a write statement: never a value.
struct write_keywords_t : x3::symbols<x3::unused_type> {
  write_keywords_t() { add("at")("source")("id")("in")("set")("because"); }
};
inline write_keywords_t const write_keywords;

inline auto word_of(auto const& table) { return x3::lexeme[x3::no_case[table] >> !(x3::alnum | x3::lit('_'))]; }

// ---------------------------------------------------------------- rule declarations

struct record_class : annotate_span {};
struct new_incident_class : annotate_span {};
struct correct_class : annotate_span {};
struct retract_class : annotate_span {};
struct write_item_class : annotate_span {};
struct at_item_class : annotate_span {};
struct source_item_class : annotate_span {};
struct id_item_class : annotate_span {};
struct in_item_class : annotate_span {};
struct field_item_class : annotate_span {};
struct value_item_class : annotate_span {};
struct assignment_class : annotate_span {};
struct correct_change_class {};
struct because_class {};
struct time_spec_class : annotate_span {};
struct time_body_class : annotate_span {};
struct write_value_class : annotate_span {};
struct record_type_class : annotate_span {};
struct incident_word_class : annotate_span {};
struct field_name_class : annotate_span {};
struct field_ident_class : annotate_span {};
struct event_ref_class : annotate_span {};
struct write_string_class : annotate_span {};
struct write_incident_class : annotate_span {};

x3::rule<record_class, ast::write_stmt> const record = "record";
x3::rule<new_incident_class, ast::write_stmt> const new_incident = "new incident";
x3::rule<correct_class, ast::write_stmt> const correct = "correct";
x3::rule<retract_class, ast::write_stmt> const retract = "retract";
x3::rule<write_item_class, ast::write_item> const write_item = names::record_item;
x3::rule<at_item_class, ast::write_item> const at_item = "at TIME";
x3::rule<source_item_class, ast::write_item> const source_item = "source";
x3::rule<id_item_class, ast::write_item> const id_item = "id";
x3::rule<in_item_class, ast::write_item> const in_item = "in";
x3::rule<field_item_class, ast::write_item> const field_item = "a field";
x3::rule<value_item_class, ast::write_item> const value_item = names::write_value;
x3::rule<assignment_class, ast::write_item> const assignment = names::assignment;
x3::rule<correct_change_class, std::vector<ast::write_item>> const correct_change = names::correct_change;
x3::rule<because_class, ast::string_lit> const because = names::because;
x3::rule<time_spec_class, ast::time_spec> const time_spec = names::time;
x3::rule<time_body_class, ast::time_spec> const time_body = names::time;
x3::rule<write_value_class, ast::write_value> const write_value = names::write_value;
x3::rule<record_type_class, ast::identifier> const record_type = names::record_type;
x3::rule<incident_word_class, ast::identifier> const incident_word = names::incident_keyword;
x3::rule<field_name_class, ast::identifier> const field_name = "a field name";
x3::rule<field_ident_class, ast::identifier> const field_ident = "a field name";
x3::rule<event_ref_class, ast::event_ref> const event_ref = names::event_ref;
x3::rule<write_string_class, ast::string_lit> const write_string = "a string in quotes";
x3::rule<write_incident_class, ast::incident_ref> const write_incident = names::incident;

// ---------------------------------------------------------------- small named pieces

auto const item_end = x3::rule<struct item_end_id>{names::record_item} = &(x3::lit(';') | x3::eoi);
auto const write_end = x3::rule<struct write_end_id>{names::write_end} = &(x3::lit(';') | x3::eoi);
auto const write_equals = x3::rule<struct write_equals_id>{"'='"} = x3::lit('=');
auto const write_close_paren = x3::rule<struct write_close_paren_id>{"')'"} = x3::lit(')');
auto const duration_value = x3::rule<struct duration_value_id, ast::duration_lit>{"a duration (5m, 1h30m)"} = duration;
// A bare word as a value: never a field name nor a keyword of the write statements.
auto const value_word = !word_of(write_keywords) >> !word_of(field_words) >> bare_word;
auto const trailing_item = x3::rule<struct trailing_item_id, ast::write_item>{names::write_end} = source_item | id_item;
auto const list_item = x3::rule<struct list_item_id, std::string>{"a string in quotes"} = quoted | value_word;

// ---------------------------------------------------------------- semantic actions

namespace write_act {

using x3::_attr;
using x3::_val;

inline auto const assign = [](auto& ctx) { _val(ctx) = std::move(_attr(ctx)); };
inline auto const push_item = [](auto& ctx) { _val(ctx).items.push_back(std::move(_attr(ctx))); };
inline auto const push_back = [](auto& ctx) { _val(ctx).push_back(std::move(_attr(ctx))); };
inline auto const name_from_range = [](auto& ctx) {
  auto const& r = _attr(ctx);
  _val(ctx).name = errors::lowercase(std::string_view(&*r.begin(), static_cast<std::size_t>(r.end() - r.begin())));
};

}  // namespace write_act

// ---------------------------------------------------------------- statements

auto const write_stmt_def = record | new_incident | correct | retract;

auto const record_def = build[
    (kw("record") > record_type)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::write_kind::record;
      x3::_val(ctx).type = std::move(x3::_attr(ctx));
    })]
    >> *write_item[write_act::push_item] > item_end];

auto const new_incident_def = build[
    (kw("new") > incident_word > write_incident)[([](auto& ctx) {
      auto& a = x3::_attr(ctx);
      x3::_val(ctx).kind = ast::write_kind::new_incident;
      x3::_val(ctx).type = std::move(boost::fusion::at_c<0>(a));
      x3::_val(ctx).incident = std::move(boost::fusion::at_c<1>(a));
    })]
    >> *write_item[write_act::push_item] > item_end];

inline auto const append_items = [](auto& ctx) {
  for (auto& i : x3::_attr(ctx)) x3::_val(ctx).items.push_back(std::move(i));
};
inline auto const set_target = [](auto& ctx) { x3::_val(ctx).target = std::move(x3::_attr(ctx)); };
inline auto const set_reason = [](auto& ctx) { x3::_val(ctx).reason = std::move(x3::_attr(ctx)); };

auto const correct_def = build[
    (kw("correct") > event_ref)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::write_kind::correct;
      x3::_val(ctx).target = std::move(x3::_attr(ctx));
    })]
    >> x3::expect[correct_change][append_items] >> *correct_change[append_items]
    >> x3::expect[because][set_reason]
    >> *trailing_item[write_act::push_item] > write_end];

auto const retract_def = build[
    (kw("retract") > event_ref)[([](auto& ctx) {
      x3::_val(ctx).kind = ast::write_kind::retract;
      x3::_val(ctx).target = std::move(x3::_attr(ctx));
    })]
    >> x3::expect[because][set_reason]
    >> *trailing_item[write_act::push_item] > write_end];

auto const correct_change_def = build[
    at_item[write_act::push_back]
  | (kw("set") >> x3::expect[assignment][write_act::push_back] >>
     *(',' >> x3::expect[assignment][write_act::push_back]))];

auto const because_def = build[(kw("because") > write_string)[write_act::assign]];

// ---------------------------------------------------------------- items

auto const write_item_def = at_item | source_item | id_item | in_item | field_item | value_item;

auto const in_item_def = build[(kw("in") > write_incident)[([](auto& ctx) {
  x3::_val(ctx).kind = ast::item_kind::in;
  x3::_val(ctx).incident = std::move(x3::_attr(ctx));
})]];

auto const field_item_def = build[(field_name > write_value)[([](auto& ctx) {
  auto& a = x3::_attr(ctx);
  x3::_val(ctx).kind = ast::item_kind::field;
  x3::_val(ctx).name = std::move(boost::fusion::at_c<0>(a));
  x3::_val(ctx).value = std::move(boost::fusion::at_c<1>(a));
})]];

auto const value_item_def = build[write_value[([](auto& ctx) {
  x3::_val(ctx).kind = ast::item_kind::value;
  x3::_val(ctx).value = std::move(x3::_attr(ctx));
})]];

auto const at_item_def = build[(kw("at") > time_spec)[([](auto& ctx) {
  x3::_val(ctx).kind = ast::item_kind::at;
  x3::_val(ctx).time = std::move(x3::_attr(ctx));
})]];

auto const source_item_def = build[(kw("source") > write_string)[([](auto& ctx) {
  x3::_val(ctx).kind = ast::item_kind::source;
  x3::_val(ctx).text = std::move(x3::_attr(ctx));
})]];

auto const id_item_def = build[(kw("id") > write_string)[([](auto& ctx) {
  x3::_val(ctx).kind = ast::item_kind::id;
  x3::_val(ctx).text = std::move(x3::_attr(ctx));
})]];

// `set NAME = VALUE`: any name here; binding checks it against the target's type.
auto const assignment_def = build[(field_ident > write_equals > write_value)[([](auto& ctx) {
  auto& a = x3::_attr(ctx);
  x3::_val(ctx).kind = ast::item_kind::field;
  x3::_val(ctx).name = std::move(boost::fusion::at_c<0>(a));
  x3::_val(ctx).value = std::move(boost::fusion::at_c<1>(a));
})]];

// ---------------------------------------------------------------- times

auto const time_spec_def = build[
    (x3::lit('~') > time_body)[([](auto& ctx) {
      x3::_val(ctx) = std::move(x3::_attr(ctx));
      x3::_val(ctx).approx = true;
    })]
  | time_body[write_act::assign]];

auto const time_body_def = build[
    (kw("now") >> -(x3::char_("+-") > duration_value))[([](auto& ctx) {
      x3::_val(ctx).kind = ast::time_kind::now;
      if (auto const& off = x3::_attr(ctx)) {
        std::int64_t const ms = boost::fusion::at_c<1>(*off).ms;
        x3::_val(ctx).offset = boost::fusion::at_c<0>(*off) == '-' ? -ms : ms;
      }
    })]
  | timestamp[([](auto& ctx) {
      x3::_val(ctx).kind = ast::time_kind::timestamp;
      x3::_val(ctx).ms = x3::_attr(ctx).ms;
    })]
  | time_of_day[([](auto& ctx) {
      x3::_val(ctx).kind = ast::time_kind::time_of_day;
      x3::_val(ctx).ms = x3::_attr(ctx);
    })]];

// ---------------------------------------------------------------- values and names

inline auto const push_list_item = [](auto& ctx) { x3::_val(ctx).items.push_back(std::move(x3::_attr(ctx))); };

auto const write_value_def = build[
    ('(' >> -(list_item[push_list_item] >> *(',' >> x3::expect[list_item][push_list_item])) > write_close_paren)[(
        [](auto& ctx) { x3::_val(ctx).kind = ast::value_kind::list; })]
  | quoted[([](auto& ctx) {
      x3::_val(ctx).kind = ast::value_kind::string;
      x3::_val(ctx).text = std::move(x3::_attr(ctx));
    })]
  | x3::raw[timestamp][([](auto& ctx) {
      auto const& r = x3::_attr(ctx);
      x3::_val(ctx).kind = ast::value_kind::date;
      x3::_val(ctx).text.assign(r.begin(), r.end());
    })]
  | value_number[write_act::assign]
  | value_word[([](auto& ctx) {
      x3::_val(ctx).kind = ast::value_kind::word;
      x3::_val(ctx).text = std::move(x3::_attr(ctx));
    })]];

auto const record_type_def = build[x3::raw[word_of(event_type_words)][write_act::name_from_range]];
auto const incident_word_def = build[x3::raw[kw("incident")][write_act::name_from_range]];
auto const field_name_def = build[x3::raw[word_of(field_words)][write_act::name_from_range]];
auto const field_ident_def = build[(!word_of(write_keywords) >> x3::raw[bare_word])[write_act::name_from_range]];

auto const event_ref_def = build[
    (kw("last") >> !x3::char_("_.:/@+-"))[([](auto& ctx) { x3::_val(ctx).last = true; })]
  | quoted[([](auto& ctx) { x3::_val(ctx).id = std::move(x3::_attr(ctx)); })]
  | x3::raw[x3::lexeme[+(x3::alnum | x3::char_("_.:/@+-"))]][([](auto& ctx) {
      auto const& r = x3::_attr(ctx);
      x3::_val(ctx).id.assign(r.begin(), r.end());
    })]];

auto const write_string_def = build[quoted[([](auto& ctx) { x3::_val(ctx).value = std::move(x3::_attr(ctx)); })]];

auto const write_incident_def = build[(!word_of(write_keywords) >> x3::raw[slug])[([](auto& ctx) {
  auto const& r = x3::_attr(ctx);
  x3::_val(ctx).id.assign(r.begin(), r.end());
})]];

BOOST_SPIRIT_DEFINE(write_stmt, record, new_incident, correct, retract, write_item, at_item, source_item, id_item, in_item,
                    field_item, value_item,
                    assignment, correct_change, because, time_spec, time_body, write_value, record_type, incident_word,
                    field_name, field_ident, event_ref, write_string, write_incident)

}  // namespace pmdb::query::parser
