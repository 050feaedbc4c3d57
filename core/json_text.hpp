#pragma once
// JSON values as text: the canonical (minified) form stored for payloads, and the short form
// quoted in error messages.
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace pmdb {

// `v` as minified JSON, members in their original order.
inline std::string minified(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// `v` as minified JSON cut to 60 characters, for quoting the value found in an error message.
inline std::string json_excerpt(const rapidjson::Value& v) {
  std::string s = minified(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace pmdb
