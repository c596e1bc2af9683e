#include "cloud/snapshot/checkpoint.h"

#include <stdexcept>

namespace homestead::snapshot {

CheckpointCoordinator::CheckpointCoordinator(std::vector<ProcessId> processes, SnapshotId first_id,
                                             std::optional<SnapshotId> recovery_line)
    : processes_(processes.begin(), processes.end()), next_id_(first_id), line_(recovery_line) {}

SnapshotId CheckpointCoordinator::begin() {
  const SnapshotId id = next_id_++;
  pending_[id] = processes_;
  return id;
}

bool CheckpointCoordinator::saved(SnapshotId id, const ProcessId& process) {
  auto it = pending_.find(id);
  if (it == pending_.end() || !it->second.erase(process)) {
    throw std::logic_error("unexpected save of checkpoint " + std::to_string(id) + " by " + process);
  }
  if (!it->second.empty()) return false;
  pending_.erase(it);
  if (line_ && *line_ > id) return false;  // an older one finishing late changes nothing
  line_ = id;
  return true;
}

}  // namespace homestead::snapshot
