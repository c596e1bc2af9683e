// Varints and length-prefixed text: the building blocks of the live snapshot's binary wire
// forms (stamp_codec.h, part_codec.h). The reader throws `Error` (a std::runtime_error
// subclass) naming `what` on malformed input, so each form keeps its own error type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace homestead::snapshot {

inline void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

inline void put_text(std::string& out, std::string_view text) {
  put_varint(out, text.size());
  out += text;
}

template <class Error>
class VarintReader {
 public:
  VarintReader(std::string_view in, const char* what) : in_(in), what_(what) {}
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) fail("truncated");
      const auto byte = static_cast<unsigned char>(in_[pos_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    fail("varint too long");
  }
  std::string text() { return std::string(text_view()); }
  std::string_view text_view() {
    const std::uint64_t size = varint();
    if (size > in_.size() - pos_) fail("truncated text");
    const std::string_view out = in_.substr(pos_, size);
    pos_ += size;
    return out;
  }
  // A count of items that each take at least one byte: more than the bytes left is malformed
  // (and would make the caller reserve or loop absurdly).
  std::uint64_t count() {
    const std::uint64_t n = varint();
    if (n > in_.size() - pos_) fail("count exceeds size");
    return n;
  }
  bool done() const { return pos_ == in_.size(); }
  std::size_t size() const { return in_.size(); }
  [[noreturn]] void fail(const char* why) const { throw Error(std::string(what_) + ": " + why); }

 private:
  std::string_view in_;
  const char* what_;
  std::size_t pos_ = 0;
};

}  // namespace homestead::snapshot
