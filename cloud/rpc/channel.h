// The client side of a transport: sends one raw call and reports its reply exactly once.
// TcpChannel, HttpChannel and the FaultInjectingChannel wrapper implement it; the stubs
// (stub.h) sit on top and never know which one they use.
#pragma once

#include <functional>

#include "cloud/rpc/server.h"

namespace homestead::rpc {

using ReplyCallback = std::function<void(RawReply)>;

class Channel {
 public:
  virtual ~Channel() = default;
  // Starts the call; `done` runs exactly once, on some transport thread (or inline when the
  // call fails before it is sent). A reply that does not arrive by `deadline` is a timeout.
  virtual void start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) = 0;
  // The same, blocking. Transports that work per-thread (http) override it to skip a hop.
  virtual RawReply call(RawRequest request, Clock::time_point deadline);
};

}  // namespace homestead::rpc
