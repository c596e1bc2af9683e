#include "cloud/dht/identifier.h"

#include <stdexcept>
#include <string>

#include "cloud/dht/sha1.h"

namespace homestead::dht {

IdSpace::IdSpace(unsigned bits) : bits_(bits) {
  if (bits < 1 || bits > kMaxBits) {
    throw std::invalid_argument("bits: must be between 1 and " + std::to_string(kMaxBits) + ", got " +
                                std::to_string(bits));
  }
}

bool IdSpace::in_open(Id x, Id a, Id b) const {
  if (a == b) return x != a;
  const std::uint64_t dx = distance(a, x);
  return dx > 0 && dx < distance(a, b);
}

bool IdSpace::in_half_open(Id x, Id a, Id b) const {
  if (a == b) return true;
  const std::uint64_t dx = distance(a, x);
  return dx > 0 && dx <= distance(a, b);
}

Id IdSpace::hash(std::string_view name) const {
  const Sha1Digest digest = sha1(name);
  std::uint64_t prefix = 0;
  for (int i = 0; i < 8; ++i) prefix = (prefix << 8) | digest[i];
  return prefix >> (64 - bits_);
}

}  // namespace homestead::dht
