// common/net/listen_backlog: raising a listening socket's backlog after the fact (cpp-httplib
// 0.11 listens with 5 and has no setting for it).
#include "common/net/listen_backlog.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "tests/support/process.h"

namespace homestead::net {
namespace {

// A listener that never accepts, like a busy cpp-httplib server (backlog 5): after
// raise_listen_backlog, 40 clients connecting at once all complete their handshake into the
// accept queue instead of having their SYNs dropped (resent only after 1 s).
TEST(ListenBacklog, RaisedBacklogLetsManyClientsConnectAtOnce) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 5), 0);
  socklen_t len = sizeof address;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &len), 0);
  const int port = ntohs(address.sin_port);
  EXPECT_EQ(raise_listen_backlog(port, 128), 1);
  EXPECT_EQ(raise_listen_backlog(port == 65535 ? 1 : port + 1, 128), 0) << "only sockets bound to the port";

  constexpr int kClients = 40;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS);
    clients.push_back(fd);
  }
  // Connected = writable with no error. A dropped SYN is only resent after 1 s, so the
  // deadline is below that: with the old backlog at most ~6 of them get through by then.
  std::size_t connected = 0;
  homestead::testing::wait_until(
      [&] {
        connected = 0;
        for (const int fd : clients) {
          pollfd p{fd, POLLOUT, 0};
          int error = 0;
          socklen_t error_len = sizeof error;
          if (::poll(&p, 1, 0) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) == 0 && error == 0) {
            ++connected;
          }
        }
        return connected == clients.size();
      },
      std::chrono::milliseconds(800), std::chrono::milliseconds(10));
  EXPECT_EQ(connected, clients.size());
  for (const int fd : clients) ::close(fd);
  ::close(listener);
}

}  // namespace
}  // namespace homestead::net
