#include "cloud/snapshot/stamp_codec.h"

namespace homestead::snapshot {
namespace {

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) throw StampError("snapshot stamp: truncated");
      const auto byte = static_cast<unsigned char>(in_[pos_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    throw StampError("snapshot stamp: varint too long");
  }
  std::string text() {
    const std::uint64_t size = varint();
    if (size > in_.size() - pos_) throw StampError("snapshot stamp: truncated name");
    std::string out(in_.substr(pos_, size));
    pos_ += size;
    return out;
  }
  bool done() const { return pos_ == in_.size(); }
  std::size_t size() const { return in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string encode_stamp_bytes(const Stamp& stamp) {
  std::string out;
  put_varint(out, stamp.from.size());
  out += stamp.from;
  put_varint(out, stamp.incarnation);
  put_varint(out, stamp.seq);
  put_varint(out, stamp.marks.size());
  for (const auto& mark : stamp.marks) {
    put_varint(out, mark.id);
    put_varint(out, mark.cut_seq);
  }
  return out;
}

Stamp decode_stamp_bytes(std::string_view bytes) {
  Reader in(bytes);
  Stamp stamp;
  stamp.from = in.text();
  stamp.incarnation = in.varint();
  stamp.seq = in.varint();
  const std::uint64_t marks = in.varint();
  if (marks > in.size()) throw StampError("snapshot stamp: mark count exceeds size");
  for (std::uint64_t i = 0; i < marks; ++i) {
    CutMark mark;
    mark.id = in.varint();
    mark.cut_seq = in.varint();
    stamp.marks.push_back(mark);
  }
  if (!in.done()) throw StampError("snapshot stamp: trailing bytes");
  return stamp;
}

std::string encode_stamp_hex(const Stamp& stamp) {
  static const char* digits = "0123456789abcdef";
  const std::string bytes = encode_stamp_bytes(stamp);
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

Stamp decode_stamp_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw StampError("snapshot stamp: not hex");
  };
  if (hex.size() % 2) throw StampError("snapshot stamp: odd hex length");
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) bytes.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  return decode_stamp_bytes(bytes);
}

}  // namespace homestead::snapshot
