#include "cloud/cloudd/secrets.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace homestead::cloudd {
std::string random_hex(std::size_t bytes) {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::string raw(bytes, '\0');
  if (!urandom.read(raw.data(), static_cast<std::streamsize>(bytes))) {
    throw std::runtime_error("cannot read /dev/urandom");
  }
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

namespace {

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string load_or_create_secret(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    const std::string secret = random_hex(32);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const std::string line = secret + "\n";
      const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) throw std::runtime_error(path.string() + ": cannot write secret: " + std::strerror(errno));
      return secret;
    }
    if (errno != EEXIST) throw std::runtime_error(path.string() + ": cannot create secret: " + std::strerror(errno));
    // Another process created it meanwhile: read theirs.
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot read secret");
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = trim(text.str());
  if (secret.empty()) throw std::runtime_error(path.string() + ": secret file is empty");
  return secret;
}

bool secrets_equal(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

}  // namespace homestead::cloudd
