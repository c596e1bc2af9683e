// SHA-1 (FIPS 180-4), used only to place names (node addresses, home ids) on the Chord
// ring as the Chord paper does. Not used for anything security related.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace homestead::dht {

using Sha1Digest = std::array<std::uint8_t, 20>;

Sha1Digest sha1(std::string_view data);

}  // namespace homestead::dht
