#include "common/fs/write_zeros.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace homestead::fs {

bool write_zeros(int fd, std::uint64_t from, std::uint64_t to) {
  static const std::string zeros(1 << 20, '\0');
  while (from < to) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(to - from, zeros.size()));
    const ssize_t written = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(from));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      if (written == 0) errno = EIO;
      return false;
    }
    from += static_cast<std::uint64_t>(written);
  }
  return true;
}

}  // namespace homestead::fs
