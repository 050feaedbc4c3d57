#pragma once
// The SQL engine a store runs on, for code that writes SQL (the PMQL compiler, the projection,
// the shell's reports): each says the same thing in its engine's words.
namespace pmdb {
enum class sql_dialect { sqlite, postgresql };
}
