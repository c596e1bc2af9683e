#include "gateway/auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <stdexcept>

namespace homestead::gateway {
namespace {

std::string hex(const unsigned char* data, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<std::size_t>(n);
  }
  return hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string generate_token() { return "hst_" + random_hex(32); }

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("sha256 failed");
  }
  return hex(digest, len);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // sizes are public (hashes are fixed length)
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void write_secret_file(const std::filesystem::path& path, const std::string& content) {
  const auto tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  // O_EXCL + mode 0600 at creation: the secret is never readable by others, not even briefly.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      throw std::runtime_error("cannot write " + tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  ::fchmod(fd, 0600);
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp + " to " + path.string());
}

void TokenTable::replace(std::vector<TokenRecord> tokens) {
  std::lock_guard lock(mutex_);
  tokens_ = std::move(tokens);
}

void TokenTable::add(TokenRecord token) {
  std::lock_guard lock(mutex_);
  std::erase_if(tokens_, [&](const TokenRecord& t) { return t.id == token.id; });
  tokens_.push_back(std::move(token));
}

std::optional<Scope> TokenTable::check(std::string_view token) const {
  const std::string hash = sha256_hex(token);
  std::lock_guard lock(mutex_);
  std::optional<Scope> found;
  // No early exit: every stored hash is compared.
  for (const auto& t : tokens_) {
    if (constant_time_equal(hash, t.hash)) found = t.scope;
  }
  return found;
}

bool TokenTable::empty() const {
  std::lock_guard lock(mutex_);
  return tokens_.empty();
}

bool TokenTable::has_admin() const {
  std::lock_guard lock(mutex_);
  for (const auto& t : tokens_) {
    if (t.scope == Scope::admin) return true;
  }
  return false;
}

}  // namespace homestead::gateway
