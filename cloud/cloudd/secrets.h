// Credentials on disk: the client bearer token and the cluster secret. Generated on first
// start (32 random bytes, hex) with mode 0600; never logged.
#pragma once

#include <filesystem>
#include <string>

namespace homestead::cloudd {

// Reads the secret at `path`, creating it (mode 0600) when missing. Throws std::runtime_error
// naming the file when it cannot be read or written, or is empty.
std::string load_or_create_secret(const std::filesystem::path& path);

// `bytes` random bytes from /dev/urandom as lower-case hex (tokens, secrets).
std::string random_hex(std::size_t bytes);

// Constant-time comparison, so response timing does not reveal how much of a guess matched.
bool secrets_equal(const std::string& a, const std::string& b);

}  // namespace homestead::cloudd
