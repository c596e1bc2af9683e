#include "tests/cloud/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace homestead::cloud_testing {

FaultProxy::FaultProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("fault proxy: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mutex_);
  for (auto& t : pumps_) t.join();
}

void FaultProxy::set_blocked(bool blocked) {
  blocked_ = blocked;
  ++epoch_;
}

void FaultProxy::accept_loop() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    std::lock_guard lock(mutex_);
    pumps_.emplace_back([this, fd] { pump(fd); });
  }
}

void FaultProxy::pump(int client_fd) {
  const std::uint64_t epoch = epoch_.load();
  const bool forward = !blocked_.load();
  int server_fd = -1;
  if (forward) {
    server_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(target_port_));
    if (::connect(server_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(server_fd);
      ::close(client_fd);
      return;
    }
    const int one = 1;
    ::setsockopt(server_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  char buffer[64 * 1024];
  // A blocked connection swallows what it gets; any block/heal ends every connection, so
  // a frame is never cut in the middle and then continued.
  while (!stopping_ && epoch_.load() == epoch) {
    pollfd fds[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
    const int ready = ::poll(fds, forward ? 2 : 1, 50);
    if (ready <= 0) continue;
    bool closed = false;
    for (int i = 0; i < (forward ? 2 : 1) && !closed; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      if (!forward) continue;
      const int out = i == 0 ? server_fd : client_fd;
      ssize_t sent = 0;
      while (sent < n) {
        const ssize_t w = ::send(out, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
        if (w <= 0) {
          closed = true;
          break;
        }
        sent += w;
      }
    }
    if (closed) break;
  }
  ::close(client_fd);
  if (server_fd >= 0) ::close(server_fd);
}

}  // namespace homestead::cloud_testing
