// The `tcp` transport's client: one persistent connection to one peer, shared by every
// caller. Calls are pipelined (each frame carries a request id, replies come back in any
// order), each frame leaves in one gather write, TCP_NODELAY is on. A lost connection is
// re-established on the next call, no sooner than the reconnect backoff allows. A one-way
// call (RawRequest::one_way) is done once its frame is written: ok, or transport when the
// write failed; the server sends no reply.
//
// Error kinds: could not connect or send -> transport (not executed); connection lost after
// the frame went out -> unknown_outcome; no reply by the deadline -> timeout; the server's
// refusals (unauthenticated, too_large, ...) come through as they are.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "cloud/rpc/channel.h"

namespace homestead::rpc {

struct TcpChannelOptions {
  std::string credential;  // the cluster secret or this client's token
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds reconnect_min{10};
  std::chrono::milliseconds reconnect_max{1000};
  std::size_t max_reply_bytes = 64 << 20;
  // Called on the connection's reader thread when an established connection ends while the
  // channel is open (the server closed it, its process died, or the socket broke); not
  // when this channel is closed. Raft uses it to notice a dead leader before its election
  // timeout (cloudd's PeerTransport). Keep it short: hand the news off.
  std::function<void()> on_connection_lost;
};

class TcpChannel : public Channel {
 public:
  TcpChannel(std::string host, int port, TcpChannelOptions options = {});
  // Fails calls still waiting with unknown_outcome. Safe to run from a reply callback: the
  // connection state lives on until its (detached) reader thread has finished.
  ~TcpChannel() override;

  void start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) override;
  // A one-way call written by the calling thread only if that cannot block: false (nothing
  // sent) when not connected or the socket is full, so the caller can queue it for a thread
  // that may wait. True once written, or lost with a connection that broke mid-frame.
  bool try_send_one_way(const RawRequest& request);
  bool connected() const;
  std::uint64_t connects() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace homestead::rpc
