// Coordinated checkpointing (seed chapter 8.3.2) built on Chandy-Lamport: a snapshot is the
// checkpoint. Each process saves its local part (state + messages in flight to it at the
// cut) to stable storage when its part completes and tells the coordinator; once every
// process has saved checkpoint k, k is the recovery line. After a failure every process
// rolls back to the recovery line and handles the saved in-flight messages again. Because
// the cut is consistent there are no orphan messages (a receive whose send was rolled
// back), and because channel state is replayed none is lost. Messages of the abandoned
// execution must be discarded after the rollback (an epoch number in each message).
//
// Pure: the adapter does the storage and the messaging.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cloud/snapshot/chandy_lamport.h"

namespace homestead::snapshot {

class CheckpointCoordinator {
 public:
  // first_id: where numbering starts (after a rollback to line L, L + 1).
  explicit CheckpointCoordinator(std::vector<ProcessId> processes, SnapshotId first_id = 0,
                                 std::optional<SnapshotId> recovery_line = std::nullopt);

  // A new checkpoint id; the caller initiates that snapshot.
  SnapshotId begin();
  // Checkpoints begun and not yet saved everywhere.
  bool idle() const { return pending_.empty(); }
  // `process` has its part of checkpoint `id` on stable storage. Returns true when this
  // made `id` the new recovery line (the caller then persists the line).
  bool saved(SnapshotId id, const ProcessId& process);
  // The newest checkpoint every process has saved: where to roll back to.
  std::optional<SnapshotId> recovery_line() const { return line_; }

 private:
  std::set<ProcessId> processes_;
  SnapshotId next_id_;
  std::optional<SnapshotId> line_;
  std::map<SnapshotId, std::set<ProcessId>> pending_;  // id -> processes not yet saved
};

// What one process does to roll back to its saved part of a checkpoint: restore `state`,
// then handle `replay` (the messages that were in flight to it at the cut) in order.
template <class State, class Payload>
struct RecoveryPlan {
  State state{};
  std::vector<std::pair<ProcessId, Payload>> replay;  // (sender, message), FIFO per sender
};

template <class State, class Payload>
RecoveryPlan<State, Payload> plan_recovery(const LocalSnapshot<State, Payload>& saved) {
  RecoveryPlan<State, Payload> plan;
  plan.state = saved.state;
  for (const auto& [from, messages] : saved.channels) {
    for (const auto& message : messages) plan.replay.emplace_back(from, message);
  }
  return plan;
}

}  // namespace homestead::snapshot
