// When to give up on a seq gap in a live snapshot channel (the adapters' clock, passed in:
// no clock is read here).
//
// A channel whose sender's cut is known but which still misses seqs <= cut is waiting for
// frames that are either late (reordered: a reconnect racing the old connection, a retried
// Sync call) or lost on the wire (a connection dropped after the frame left; Raft and the
// gateway's sync loop retransmit the content under new seqs, so that is legal). Only time
// tells them apart: a channel that has waited `wait` since the cut became known here is
// closed with the missing seqs recorded as lost (LiveParticipant::close_lost).
//
// The wait must be longer than any frame can stay in transit: a Raft frame lives at most
// as long as its TCP connection (one sender thread per link; a reconnect first closes the
// old socket, and the kernel drops what it has not delivered), a Sync call at most its
// HTTP timeout. A lost frame that arrives after all is counted in the record's `late`.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <utility>
#include <vector>

#include "cloud/snapshot/live_participant.h"

namespace homestead::snapshot {

struct LostChannel {
  SnapshotId id = 0;
  ProcessId from;
  std::size_t lost = 0;
};

class LossCloser {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit LossCloser(std::chrono::milliseconds wait) : wait_(wait) {}

  // Call under the participant's lock, now and then (the adapters do it on every
  // housekeeping pass). Starts the wait for newly gapped channels and closes those whose
  // wait is over; returns the channels it closed.
  std::vector<LostChannel> tick(LiveParticipant& participant, TimePoint now);

 private:
  std::chrono::milliseconds wait_;
  std::map<std::pair<SnapshotId, ProcessId>, TimePoint> since_;
};

}  // namespace homestead::snapshot
