// The `tcp` transport's listener: accepts connections, checks each connection's hello
// credential, reads length-prefixed frames and hands requests to the Server's worker pool.
// Replies go back as soon as each call finishes, in any order, matched by request id.
// Bad frames are answered with an error and the connection keeps serving.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cloud/rpc/server.h"

namespace homestead::rpc {

class TcpListener {
 public:
  // Binds at once (port 0 picks a free one; see port()); serving starts in start().
  TcpListener(Server& server, const std::string& host, int port);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  void start();
  // Closes the listening socket and every connection; calls in flight still finish in the
  // Server but their replies are dropped. Call Server::drain() first for a graceful stop.
  void stop();
  int port() const { return port_; }
  std::size_t connections() const;

 private:
  struct Connection;
  void accept_loop();
  void serve(std::shared_ptr<Connection> connection);

  Server& server_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<std::thread> readers_;
};

}  // namespace homestead::rpc
