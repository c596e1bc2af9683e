// The REST admin API on cpp-httplib, tuned as DESIGN.md section 4 says: TCP_NODELAY, a large
// keep-alive max count, a worker pool sized to the keep-alive clients, no SO_REUSEPORT (a
// stale server on the same port would silently steal connections), a request body limit and
// read/write timeouts so slow or huge requests cannot pin the daemon.
#pragma once

#include <memory>
#include <thread>

#include "gateway/config.h"
#include "gateway/slow_client_guard.h"

namespace httplib {
class Server;
}

namespace homestead::gateway {

class Gateway;

class HttpApi {
 public:
  HttpApi(Gateway& gateway, HttpSettings settings);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds (port 0 = any) and serves on a thread; returns the port. Throws if it cannot bind.
  int start();
  void stop();

 private:
  void install_routes();
  Gateway& gateway_;
  HttpSettings settings_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<SlowClientGuard> slow_client_guard_;  // started with the server
  std::thread thread_;
};

}  // namespace homestead::gateway
