#pragma once
// A buffered reader of bytes from a std::istream: what the streaming importers (CSV records,
// Statuspage documents) read through, 64 KiB at a time, so memory stays flat.
#include <array>
#include <cstddef>
#include <istream>

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
