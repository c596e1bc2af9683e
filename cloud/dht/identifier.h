// The m-bit Chord identifier circle: identifiers are integers in [0, 2^m), arithmetic is
// modulo 2^m, and intervals are read clockwise, so (a, b] may wrap past zero.
//
// Hash: an identifier for a name (a node address, a home id) is the first m bits of its
// SHA-1 digest, read big-endian (the Chord paper uses SHA-1 with m = 160; we keep m <= 63
// so an identifier fits one machine word and 2^m does not overflow).
#pragma once

#include <cstdint>
#include <string_view>

namespace homestead::dht {

using Id = std::uint64_t;

class IdSpace {
 public:
  static constexpr unsigned kMaxBits = 63;

  // Throws std::invalid_argument unless 1 <= bits <= kMaxBits.
  explicit IdSpace(unsigned bits);

  unsigned bits() const { return bits_; }
  std::uint64_t size() const { return std::uint64_t{1} << bits_; }
  bool contains(Id id) const { return id < size(); }
  Id wrap(std::uint64_t value) const { return value & (size() - 1); }
  // Start of finger i (0-based): n + 2^i mod 2^m.
  Id finger_start(Id node, unsigned i) const { return wrap(node + (std::uint64_t{1} << i)); }
  // Clockwise distance from a to b, in [0, 2^m).
  std::uint64_t distance(Id from, Id to) const { return wrap(to - from); }

  // x in (a, b): strictly between going clockwise. (a, a) is the whole circle except a.
  bool in_open(Id x, Id a, Id b) const;
  // x in (a, b]. (a, a] is the whole circle.
  bool in_half_open(Id x, Id a, Id b) const;

  // First m bits of SHA-1(name).
  Id hash(std::string_view name) const;

 private:
  unsigned bits_;
};

}  // namespace homestead::dht
