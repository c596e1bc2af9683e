// A TCP proxy on 127.0.0.1 in front of one cloudd peer port, for one direction of one link
// (node A's connections to node B). Blocking it cuts the link like a partition: live
// connections are closed and new ones are accepted but nothing is forwarded until healed.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace homestead::cloud_testing {

class FaultProxy {
 public:
  explicit FaultProxy(int target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  void set_blocked(bool blocked);
  bool blocked() const { return blocked_.load(); }

 private:
  void accept_loop();
  void pump(int client_fd);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> blocked_{false};
  std::atomic<std::uint64_t> epoch_{0};  // bumped on every block/heal: connections of older epochs close
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> pumps_;
};

}  // namespace homestead::cloud_testing
