// CRC-32C (Castagnoli), the checksum on every durable log record. Table-driven in software:
// fast enough next to an fsync, and identical on x86 and aarch64.
#pragma once

#include <cstdint>
#include <string_view>

namespace homestead::storage {

std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace homestead::storage
