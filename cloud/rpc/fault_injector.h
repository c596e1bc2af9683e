// Fault injection for tests: a Channel wrapper that, with a seeded generator, drops requests
// (the server never sees them), drops replies after the server executed, sends duplicates,
// and delays calls (so concurrent calls and duplicates overtake each other: reordering).
// The caller sees what a real network would show: a dropped request or reply becomes a
// timeout at the attempt's deadline. Decisions depend only on the seed and the order of
// calls on this wrapper, so one wrapper per sequential client gives reproducible faults.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "cloud/rpc/channel.h"
#include "common/sim/rng.h"

namespace homestead::rpc {

struct FaultOptions {
  double drop_request = 0;
  double drop_reply = 0;
  double duplicate = 0;
  std::chrono::microseconds max_delay{0};  // each copy waits uniform [0, max_delay]
  std::uint64_t seed = 1;
};

struct FaultStats {
  std::uint64_t calls = 0;
  std::uint64_t requests_dropped = 0;
  std::uint64_t replies_dropped = 0;
  std::uint64_t duplicated = 0;
};

class FaultInjectingChannel : public Channel {
 public:
  FaultInjectingChannel(std::shared_ptr<Channel> inner, FaultOptions options);
  void start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) override;
  FaultStats stats() const;

 private:
  struct Plan {
    bool drop_request, drop_reply, duplicate;
    std::chrono::microseconds delay, duplicate_delay;
  };
  Plan decide();

  std::shared_ptr<Channel> inner_;
  FaultOptions options_;
  mutable std::mutex mutex_;
  sim::Rng rng_;
  FaultStats stats_;
};

}  // namespace homestead::rpc
