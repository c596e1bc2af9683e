// Matrix clock (seed section 3.6): row i is this process's vector clock, row k is what it
// knows of process k's vector clock. The column minimum tells what *everyone* has seen of a
// process, which is what garbage collection needs: once every process has seen event t of
// process j, state kept for j's events up to t can be dropped.
#pragma once

#include <cstdint>
#include <vector>

#include "common/clocks/lamport_clock.h"
#include "common/clocks/vector_clock.h"

namespace homestead::clocks {

using MatrixTimestamp = std::vector<VectorTimestamp>;

class MatrixClock {
 public:
  MatrixClock(ProcessId self, std::size_t processes);

  const MatrixTimestamp& local_event();
  const MatrixTimestamp& send() { return local_event(); }
  // Merge the sender's whole matrix, take its row as our knowledge of its vector clock,
  // fold that into our own row, then count the receive event.
  const MatrixTimestamp& receive(ProcessId from, const MatrixTimestamp& message);

  const MatrixTimestamp& now() const { return rows_; }
  const VectorTimestamp& vector() const { return rows_[self_]; }

  // min over k of m[k][j]: every process is known to have seen j's events up to this.
  std::uint64_t seen_by_all(ProcessId j) const;
  // True when every process is known to have seen event `time` of process j, so state kept
  // about it may be garbage-collected.
  bool everyone_has_seen(ProcessId j, std::uint64_t time) const { return seen_by_all(j) >= time; }

 private:
  ProcessId self_;
  MatrixTimestamp rows_;
};

}  // namespace homestead::clocks
