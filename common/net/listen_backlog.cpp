#include "common/net/listen_backlog.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <exception>
#include <filesystem>
#include <string>

namespace homestead::net {

int raise_listen_backlog(int port, int backlog) {
  int changed = 0;
  std::error_code ec;
  for (const auto& link : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(link.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) continue;
    sockaddr_storage address{};
    socklen_t address_len = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_len) != 0) continue;
    int bound = -1;
    if (address.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    if (address.ss_family == AF_INET6) bound = ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    if (bound == port && ::listen(fd, backlog) == 0) ++changed;
  }
  return changed;
}

}  // namespace homestead::net
