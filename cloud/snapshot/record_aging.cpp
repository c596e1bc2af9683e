#include "cloud/snapshot/record_aging.h"

namespace homestead::snapshot {

void RecordAging::recorded(SnapshotId id, TimePoint at) {
  marking_.push_back({id, at});
  kept_.push_back({id, at});
}

std::vector<SnapshotId> RecordAging::advance(LiveParticipant& participant, TimePoint now) {
  while (!marking_.empty() && now - marking_.front().at > mark_for_) {
    participant.stop_marking(marking_.front().id);
    marking_.pop_front();
  }
  std::vector<SnapshotId> retired;
  while (!kept_.empty() && now - kept_.front().at > retire_after_) {
    participant.retire(kept_.front().id);
    retired.push_back(kept_.front().id);
    kept_.pop_front();
  }
  return retired;
}

}  // namespace homestead::snapshot
