#pragma once
// A buffered reader of bytes from a std::istream: what the streaming importers (CSV records,
// Statuspage documents) read through, 64 KiB at a time, so memory stays flat.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <istream>
#include <optional>
#include <string>

namespace pmdb {

class byte_reader {
 public:
  explicit byte_reader(std::istream& in) : in_(in) {}

  bool at_end() { return pos_ == end_ && !fill(); }
  // The next byte (0–255) without consuming it; -1 at the end.
  int peek() { return at_end() ? -1 : static_cast<unsigned char>(buf_[pos_]); }
  // The next byte (0–255), consumed; -1 at the end.
  int get() {
    if (at_end()) return -1;
    ++offset_;
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  // Reads one line (up to a '\n', consumed but not stored) into `line`, keeping at most `max`
  // bytes of it: the rest of a longer line is read and dropped, so memory stays bounded however
  // long the line. Returns the line's full length (without the '\n'), or nullopt at the end of
  // the input.
  std::optional<std::size_t> read_line(std::string& line, std::size_t max) {
    line.clear();
    if (at_end()) return std::nullopt;
    std::size_t length = 0;
    while (!at_end()) {
      const char* begin = buf_.data() + pos_;
      const std::size_t avail = end_ - pos_;
      const void* nl = std::memchr(begin, '\n', avail);
      const std::size_t n = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - begin) : avail;
      if (line.size() < max) line.append(begin, std::min(n, max - line.size()));
      length += n;
      pos_ += n;
      offset_ += n;
      if (nl) {
        ++pos_;
        ++offset_;
        break;
      }
    }
    return length;
  }
  // Bytes consumed so far.
  std::size_t offset() const { return offset_; }
  // True when the stream failed for another reason than its end.
  bool bad() const { return in_.bad(); }

 private:
  bool fill() {
    if (!in_) return false;
    in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    end_ = static_cast<std::size_t>(in_.gcount());
    pos_ = 0;
    return end_ > 0;
  }

  std::istream& in_;
  std::array<char, 1 << 16> buf_{};
  std::size_t pos_ = 0, end_ = 0, offset_ = 0;
};

}  // namespace pmdb
