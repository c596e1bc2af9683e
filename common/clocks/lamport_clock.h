// Lamport's scalar clock (seed section 3.4). Consistent (a -> b implies C(a) < C(b)) but
// not strongly consistent: C(a) < C(b) says nothing about causality.
#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>

namespace homestead::clocks {

using ProcessId = std::uint32_t;

// A Lamport time plus the process that produced it. Ordering by (time, process) turns the
// clock's partial order into the total order every process agrees on (tie-break by id).
struct LamportTimestamp {
  std::uint64_t time = 0;
  ProcessId process = 0;
  auto operator<=>(const LamportTimestamp&) const = default;
};

class LamportClock {
 public:
  explicit LamportClock(ProcessId self) : self_(self) {}

  // Rule 1: increment between successive events of this process.
  LamportTimestamp local_event() { return {++time_, self_}; }
  // A send is an event; the message carries the returned time.
  LamportTimestamp send() { return local_event(); }
  // Rule 2: the receive is later than the send and than everything before it here.
  LamportTimestamp receive(std::uint64_t message_time) {
    time_ = std::max(time_, message_time) + 1;
    return {time_, self_};
  }

  std::uint64_t time() const { return time_; }
  ProcessId self() const { return self_; }

 private:
  ProcessId self_;
  std::uint64_t time_ = 0;
};

}  // namespace homestead::clocks
