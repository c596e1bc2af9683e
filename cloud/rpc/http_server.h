// The `http` transport's listener (cpp-httplib 0.11): POST /rpc/v1/<Service>/<Method> and
// GET /rpc/v1/_describe in front of an rpc::Server (wire format in http_protocol.h).
//
// Tuned as DESIGN.md section 4 says, because the Debian build is ~350x slower otherwise:
// TCP_NODELAY on accepted sockets; the keep-alive max count raised (the default closes every
// fifth response); a fixed pool of connection threads sized to the keep-alive connections we
// expect (each keep-alive connection holds a thread for its lifetime, so extra connections
// would starve silently: they are counted, logged and, past `max_waiting_connections`,
// answered `overloaded` and closed); only SO_REUSEADDR on the listening socket (httplib's
// default SO_REUSEPORT lets a stale server on the same port steal connections silently).
// Handlers run on the connection thread (Server::execute), so that pool is the bounded
// worker pool for this transport. Bodies are never compressed by our clients' choice (they
// send no Accept-Encoding; application/msgpack is never compressed by httplib).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "cloud/rpc/server.h"

namespace httplib {
class Server;
}

namespace homestead::rpc {

// Installs POST /rpc/v1/<Service>/<Method> and GET /rpc/v1/_describe for `server` on an
// existing httplib server (e.g. a daemon's admin API, so clients use one address). The
// caller owns that server's tuning (TCP_NODELAY, keep-alive count, thread pool); `server`
// must outlive it. Authentication is the rpc::Server's (credentials + authenticator), so a
// host server with its own auth must let /rpc/v1/ paths through.
void install_rpc_routes(httplib::Server& http, Server& server);

struct HttpListenerOptions {
  // Connection threads: at least the number of keep-alive connections clients will hold.
  std::size_t threads = 32;
  // Connections waiting for a thread beyond this are refused (503 overloaded, then closed).
  std::size_t max_waiting_connections = 64;
  std::size_t keep_alive_max_count = 1'000'000;
  std::chrono::seconds keep_alive_timeout{30};
  std::chrono::seconds read_timeout{30};  // a client that stalls mid-request
};

class HttpListener {
 public:
  // Binds at once (port 0 picks a free one; see port()); throws std::runtime_error naming
  // host:port when the port is taken. Serving starts in start().
  HttpListener(Server& server, const std::string& host, int port, HttpListenerOptions options = {});
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Returns once the listener accepts connections (throws if it could not start).
  void start();
  // Stops accepting, closes every connection (calls still executing finish in the Server but
  // their replies are lost; call Server::drain() first for a graceful stop) and joins the
  // connection threads, which waits for running handlers.
  void stop();
  int port() const { return port_; }
  // Connections that had to wait for a free thread, and those refused for lack of one.
  std::uint64_t connections_waited() const;
  std::uint64_t connections_refused() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace homestead::rpc
