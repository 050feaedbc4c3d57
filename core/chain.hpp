#pragma once
// The store's hash chain (schemas/README.md, "The hash chain"): every event of the log is
// linked to all those before it, so that a changed, removed, inserted or reordered row shows.
//
//   hash(0) = 32 zero bytes
//   hash(n) = SHA-256(hash(n-1) ‖ row(n))
//
// row(n) is the canonical encoding of the log's row at position n: its columns, in the order
// of `hashed_columns`, each encoded by its SQLite storage class as
//   NULL: 0x00 · INTEGER: 0x01, 8 bytes big-endian two's complement · REAL: 0x02, the 8 bytes
//   of the IEEE 754 binary64, big-endian · TEXT: 0x03, the length as 8 bytes big-endian, the
//   UTF-8 bytes · BLOB: 0x04, the length as 8 bytes big-endian, the bytes.
// SHA-256 is OpenSSL's.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pmdb::db { class statement; }

namespace pmdb::chain {

using digest = std::array<unsigned char, 32>;

// The hashed columns of `events`, in encoding order: every column but `hash` itself.
inline constexpr std::string_view hashed_columns =
    "seq, id, incident, version, type, at, recorded_at, source, approx, data, text, status, channel, author, "
    "metric, value, unit, component, state, kind, target, appended_at, recorded_by";
inline constexpr int hashed_column_count = 23;

// The canonical encoding of one row, built column by column.
class row_bytes {
 public:
  void null();
  void integer(std::int64_t v);
  void real(double v);
  void text(std::string_view s);
  void text(const std::optional<std::string>& s) { s ? text(std::string_view(*s)) : null(); }
  void real(const std::optional<double>& v) { v ? real(*v) : null(); }
  // Column `i` of the current row of `st`, by its storage class.
  void column(const db::statement& st, int i);

  std::string_view bytes() const { return buf_; }
  void clear() { buf_.clear(); }

 private:
  void word(std::uint64_t v);
  std::string buf_;
};

digest genesis();
// SHA-256(prev ‖ row).
digest link(const digest& prev, std::string_view row);

std::string hex(const digest& d);
// A digest stored as a BLOB (nullopt unless exactly 32 bytes).
std::optional<digest> from_blob(const void* p, int size);

}  // namespace pmdb::chain
