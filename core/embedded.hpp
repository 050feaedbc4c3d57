#pragma once
// Files compiled into the binary, keyed by file name: schemas/store.sql ("store.sql"),
// schemas/events/*.schema.json ("status.schema.json") and the demo incidents
// examples/*.jsonl ("openai-2024-12-11.jsonl").
#include <map>
#include <string_view>

namespace pmdb {
const std::map<std::string_view, std::string_view>& embedded_files();
}
