#pragma once
// The words of PMQL, in one place: its keywords, its functions, and the closed sets of values a
// pattern names (statuses, component states, channels, event types). The grammar's symbol
// tables, the compiler's "did you mean" lists, tab completion and the documentation tests all
// draw from here. The closed sets are read from the event schemas (schemas/events/*.schema.json,
// compiled into the binary), so a value added to a schema is known everywhere at once.
//
// Not a Spirit translation unit: nothing here includes X3.
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pmdb::query::words {

// What a keyword does. A word with several roles (`report` starts a statement and is a pattern;
// `in` is an operator, names an incident and is a write item) has one row per role.
enum class word_kind {
  statement,      // starts a statement: use, time, show, report, history, new, record, correct, retract
  source,         // a pipeline's source: incidents, events, log, timeline
  pipe,           // a pipe operator: where, let, summarize, order, limit, select, per
  clause,         // continues a statement: from, to, in, as, of, by, asc, desc, after, on, ...
  pattern,        // a pattern of events: any, report, status, comm, component, metric, ...
  measure,        // a word of a `let` measure or a milestone: count, value, gap, start, end, ...
  literal,        // null, true, false, now
  operator_word,  // an operator written as a word: and, or, not, in, is, matches, has, contains
  setting,        // sets a property of the event a write statement appends: at, source, id, in, set, because
};

struct keyword {
  std::string_view word;     // lowercase; keywords are matched case-insensitively
  word_kind kind;
  bool reserved;             // never a NAME (a field or binding): it ends an expression
  std::string_view summary;  // one line, for help and the docs
};

// Every keyword of PMQL, read and write statements, one row per (word, role); a word's rows
// agree on `reserved`.
std::span<const keyword> keywords();

// The distinct words of one kind, in table order.
std::vector<std::string_view> words_of(word_kind kind);

// The distinct words of the table, in table order.
std::vector<std::string_view> keyword_words();

// Whether `word` (any case) is a reserved word.
bool is_reserved(std::string_view word);

enum class fn_kind {
  scalar,     // one value per row
  aggregate,  // one value per group, only in `summarize`
  window,     // one value per row, from the neighbouring rows of the same incident
};

struct function {
  std::string_view name;       // lowercase; function names are matched case-insensitively
  fn_kind kind;
  int min_args;                // arguments in the parentheses; a `where COND` counts as one
  int max_args;                // -1 = unbounded
  std::string_view signature;  // "percentile(x, N)"
  std::string_view summary;    // one line
};

// Every function of PMQL.
std::span<const function> functions();

// The function named `name` (any case), or nullptr.
const function* find_function(std::string_view name);

// The names of the functions, all or of one kind, in table order.
std::vector<std::string_view> function_names();
std::vector<std::string_view> function_names(fn_kind kind);

// The names among `among` that `word` is likely a misspelling of, best first (fewest edits, as
// pmdb::edit_distance counts them, ignoring case; ties in the order of `among`), at most 3.
// Empty when nothing is close: a name is close when it is at most 1 edit away from a word of up
// to 4 letters, 2 up to 8, 3 beyond, and fewer edits away than the shorter of the two has
// letters. So 'weekdy' gives 'weekday', but 'weekday' never gives 'week' (3 edits for 7 letters)
// nor 'x' gives 'on'. A name equal to `word` but for case is the only answer.
std::vector<std::string> close_to(std::string_view word, std::span<const std::string_view> among);
std::vector<std::string> close_to(std::string_view word, std::span<const std::string> among);

// The closed sets, from the event schemas' enums, in schema order.
std::span<const std::string> statuses();          // status.schema.json: status
std::span<const std::string> component_states();  // component.schema.json: state
std::span<const std::string> channels();          // comm.schema.json: channel
std::span<const std::string> event_types();       // envelope.schema.json: type (one <type>.schema.json each)

// The payload fields `record` and `new incident` take: the `data` properties of every event
// type but correction and retraction, in schema order (types as event_types() lists them).
std::span<const std::string> payload_fields();

}  // namespace pmdb::query::words
