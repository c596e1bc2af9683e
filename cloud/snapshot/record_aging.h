// How long a live snapshot's record keeps marking and is kept, for the adapters around
// LiveParticipant (cloudd's SnapshotChannels, the gateway's snapshot agent); their clock is
// passed in. Marks ride on messages for `mark_for` after the record (a peer may still wait
// for this process's cut); the record is kept `retire_after` for the API, then retired.
//
// Records are noted in the order they are made, so in time order: the ones still marking
// are the newest and the ones to retire the oldest, and both passes pop from the front
// instead of walking every record kept (thousands when snapshots run back to back).
#pragma once

#include <chrono>
#include <deque>
#include <vector>

#include "cloud/snapshot/live_participant.h"

namespace homestead::snapshot {

class RecordAging {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  RecordAging(std::chrono::milliseconds mark_for, std::chrono::milliseconds retire_after)
      : mark_for_(mark_for), retire_after_(retire_after) {}

  // `participant` recorded snapshot `id` at `at` (not before the last one noted).
  void recorded(SnapshotId id, TimePoint at);
  // Stops marking the records older than mark_for and retires those older than
  // retire_after, in `participant`; returns the retired ids (the adapter drops its own data
  // about them).
  std::vector<SnapshotId> advance(LiveParticipant& participant, TimePoint now);
  // Whether a record made within mark_for of `now` still marks.
  bool marking(TimePoint now) const { return !marking_.empty() && now - marking_.back().at <= mark_for_; }

 private:
  struct Record {
    SnapshotId id;
    TimePoint at;
  };
  std::chrono::milliseconds mark_for_;
  std::chrono::milliseconds retire_after_;
  std::deque<Record> marking_;  // still marking, oldest first
  std::deque<Record> kept_;     // every record not yet retired, oldest first
};

}  // namespace homestead::snapshot
