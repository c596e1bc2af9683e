#include "cloud/snapshot/loss_closer.h"

#include <iterator>
#include <set>

namespace homestead::snapshot {

std::vector<LostChannel> LossCloser::tick(LiveParticipant& participant, TimePoint now) {
  std::vector<LostChannel> closed;
  std::set<std::pair<SnapshotId, ProcessId>> waiting;
  for (auto& channel : participant.waiting_for_gaps()) {
    auto [it, fresh] = since_.emplace(channel, now);
    if (!fresh && now - it->second >= wait_) {
      closed.push_back(LostChannel{channel.first, channel.second, participant.close_lost(channel.first, channel.second)});
      since_.erase(it);
      continue;
    }
    waiting.insert(channel);
  }
  // Forget channels that closed by themselves (the late frames came) or were retired.
  for (auto it = since_.begin(); it != since_.end();) it = waiting.count(it->first) ? std::next(it) : since_.erase(it);
  return closed;
}

}  // namespace homestead::snapshot
