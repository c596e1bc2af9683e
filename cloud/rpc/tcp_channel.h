// The `tcp` transport's client: one persistent connection to one peer, shared by every
// caller. Calls are pipelined (each frame carries a request id, replies come back in any
// order), each frame leaves in one gather write, TCP_NODELAY is on. A lost connection is
// re-established on the next call, no sooner than the reconnect backoff allows.
//
// Error kinds: could not connect or send -> transport (not executed); connection lost after
// the frame went out -> unknown_outcome; no reply by the deadline -> timeout; the server's
// refusals (unauthenticated, too_large, ...) come through as they are.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cloud/rpc/channel.h"

namespace homestead::rpc {

struct TcpChannelOptions {
  std::string credential;  // the cluster secret or this client's token
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds reconnect_min{10};
  std::chrono::milliseconds reconnect_max{1000};
  std::size_t max_reply_bytes = 64 << 20;
};

class TcpChannel : public Channel {
 public:
  TcpChannel(std::string host, int port, TcpChannelOptions options = {});
  ~TcpChannel() override;

  void start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) override;
  bool connected() const;
  std::uint64_t connects() const { return connects_.load(); }

 private:
  struct Connection;
  struct Pending {
    ReplyCallback done;
    std::uint64_t timer = 0;
  };
  // Returns the live connection or makes one; on failure sets `error`.
  std::shared_ptr<Connection> connection(Clock::time_point deadline, RawReply& error);
  void read_loop(std::shared_ptr<Connection> connection);
  void fail_pending(Connection& connection, ErrorKind kind, const std::string& why);
  void expire(std::uint64_t id);

  std::string host_;
  int port_;
  TcpChannelOptions options_;
  std::mutex connect_mutex_;  // one connect attempt at a time
  mutable std::mutex mutex_;  // current_, pending_, backoff
  std::shared_ptr<Connection> current_;
  std::vector<std::shared_ptr<Connection>> dead_readers_;  // lost connections whose reader to join
  std::unordered_map<std::uint64_t, std::pair<std::shared_ptr<Connection>, Pending>> pending_;
  std::uint64_t next_id_ = 1;
  Clock::time_point next_connect_at_{};
  std::chrono::milliseconds backoff_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<bool> closing_{false};
};

}  // namespace homestead::rpc
