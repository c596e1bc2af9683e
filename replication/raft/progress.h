// What a leader knows about one follower's log (etcd's Progress): how far it matches, what
// to send next, and whether to probe one message at a time, stream a pipeline of appends,
// or feed it a snapshot in chunks.
#pragma once

#include <deque>
#include <optional>

#include "replication/raft/types.h"

namespace homestead::raft {

struct Progress {
  enum class State : std::uint8_t { probe, replicate, snapshot };

  Index match = 0;
  Index next = 1;
  State state = State::probe;
  bool probe_sent = false;       // probe: one append in flight, wait for its answer or a heartbeat
  std::deque<Index> inflight;    // replicate: last index of each unacknowledged append
  bool recent_active = false;    // heard from since the last check-quorum round
  std::uint64_t read_acked = 0;  // highest read-index context this follower confirmed
  int lease_acked_tick = -1;
  Index match_at_heartbeat = 0;  // replicate: detects a pipeline whose appends were lost
  int stalled_heartbeats = 0;     // leader tick at which the heartbeat it last answered was sent
  // snapshot state: which snapshot is streaming and how many of its bytes the follower has.
  Index snapshot_index = 0;
  std::uint64_t snapshot_acked = 0;
  int snapshot_idle_ticks = 0;

  bool paused(std::size_t max_inflight) const {
    switch (state) {
      case State::probe: return probe_sent;
      case State::replicate: return inflight.size() >= max_inflight;
      case State::snapshot: return true;
    }
    return true;
  }
  void become_probe() {
    state = State::probe;
    stalled_heartbeats = 0;
    probe_sent = false;
    inflight.clear();
    next = match + 1;
  }
  void become_replicate() {
    state = State::replicate;
    inflight.clear();
    next = match + 1;
  }
  void become_snapshot(Index index) {
    state = State::snapshot;
    inflight.clear();
    snapshot_index = index;
    snapshot_acked = 0;
    snapshot_idle_ticks = 0;
  }
  // An acknowledgement up to index; false when it tells us nothing new.
  bool maybe_update(Index index) {
    bool updated = false;
    if (index > match) {
      match = index;
      updated = true;
      probe_sent = false;
    }
    next = std::max(next, index + 1);
    while (!inflight.empty() && inflight.front() <= index) inflight.pop_front();
    return updated;
  }
};

}  // namespace homestead::raft
