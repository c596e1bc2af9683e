// Bearer tokens for the REST API. A token is 256 random bits (from the kernel), shown once
// and stored only as its SHA-256; a presented token is hashed and compared against every
// stored hash in constant time, so neither the lookup nor the compare leaks by timing.
#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/records.h"

namespace homestead::gateway {

// 32 bytes from getrandom(), hex-encoded with a "hst_" prefix (so a leaked token is
// recognisable in a secret scanner).
std::string generate_token();
// n random bytes, hex-encoded (also used for broker passwords and ids).
std::string random_hex(std::size_t bytes);
std::string sha256_hex(std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);

// Writes `content` to a new file created with mode 0600 (replacing any old one atomically).
void write_secret_file(const std::filesystem::path& path, const std::string& content);

class TokenTable {
 public:
  void replace(std::vector<TokenRecord> tokens);
  void add(TokenRecord token);
  // The scope of a valid token, nullopt for an unknown one.
  std::optional<Scope> check(std::string_view token) const;
  bool empty() const;
  bool has_admin() const;

 private:
  mutable std::mutex mutex_;
  std::vector<TokenRecord> tokens_;
};

}  // namespace homestead::gateway
