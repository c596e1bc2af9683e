#include "cloud/cloudd/snapshot_channels.h"

#include <algorithm>
#include <charconv>
#include <random>

#include "cloud/snapshot/live_report.h"
#include "cloud/snapshot/stamp_codec.h"
#include "common/log/log.h"
#include "replication/raft/codec.h"

namespace homestead::cloudd {
namespace {

std::uint64_t random_u64() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

std::shared_ptr<SnapshotChannels>& installed() {
  static std::shared_ptr<SnapshotChannels> instance;
  return instance;
}
std::mutex& installed_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

std::string cloud_process_name(std::uint64_t node_id) { return "cloud-" + std::to_string(node_id); }

std::uint64_t cloud_member_id(std::string_view process) {
  constexpr std::string_view prefix = "cloud-";
  if (process.substr(0, prefix.size()) != prefix) return 0;
  const std::string_view digits = process.substr(prefix.size());
  std::uint64_t id = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  return error == std::errc{} && end == digits.data() + digits.size() && !digits.empty() ? id : 0;
}

std::string encode_stamp(const snapshot::Stamp& stamp) { return snapshot::encode_stamp_bytes(stamp); }

snapshot::Stamp decode_stamp(std::string_view bytes) {
  try {
    return snapshot::decode_stamp_bytes(bytes);
  } catch (const snapshot::StampError& e) {
    throw raft::CodecError(e.what());
  }
}

SnapshotChannels::SnapshotChannels(std::string self, StateFn state)
    : self_(std::move(self)), state_(std::move(state)), participant_(self_, random_u64() | 1),
      self_member_(cloud_member_id(self_)) {
  if (self_member_ > 0xffff) self_member_ = 0;  // not nameable in an id's low 16 bits: no pushes to it
}

void SnapshotChannels::set_part_sender(PartSender send) {
  std::lock_guard lock(mutex_);
  send_part_ = std::move(send);
}

std::vector<SnapshotChannels::Push> SnapshotChannels::collect_pushes_locked() {
  std::vector<Push> out;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = to_push_.begin(); it != to_push_.end();) {
    const snapshot::SnapshotId id = it->first;
    const snapshot::LiveLocal* local = participant_.find(id);
    if (local == nullptr || now - it->second > kPushAbandon) {
      it = to_push_.erase(it);
      continue;
    }
    if (!local->complete || !gateway_parts_in_locked(id, *local)) {
      ++it;
      continue;
    }
    std::vector<snapshot::LiveLocal> gateways;
    if (auto held = gateway_parts_.find(id); held != gateway_parts_.end()) {
      for (const auto& [process, part] : held->second) gateways.push_back(part);
    }
    out.push_back(Push{initiator_of(id), snapshot::encode_member_part(*local, gateways)});
    it = to_push_.erase(it);
  }
  return out;
}

std::pair<std::vector<SnapshotChannels::Push>, SnapshotChannels::PartSender>
SnapshotChannels::pushes_after_change_locked() {
  if (!send_part_ || to_push_.empty()) return {};
  auto pushes = collect_pushes_locked();
  if (pushes.empty()) return {};
  return {std::move(pushes), send_part_};
}

void SnapshotChannels::send_pushes(const std::vector<Push>& pushes, const PartSender& send) const {
  for (const auto& push : pushes) send(push.to, push.frame);
}

bool SnapshotChannels::add_member_part(std::string_view frame) {
  snapshot::MemberPart part;
  try {
    part = snapshot::decode_member_part(frame);
  } catch (const snapshot::PartCodecError& e) {
    static const log::Logger logger("snapshot");
    logger.warn("bad snapshot part frame", {{"error", e.what()}});
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    if (!participant_.known(part.own.id)) return true;  // retired, or an id of another scheme
    const std::string process = part.own.process;
    member_parts_[part.own.id][process] = std::move(part);
    ++member_parts_added_;
    take_wake_locked();
  }
  changed_.notify_all();
  return true;
}

std::map<std::string, snapshot::MemberPart> SnapshotChannels::member_parts(snapshot::SnapshotId id) const {
  std::lock_guard lock(mutex_);
  auto it = member_parts_.find(id);
  return it == member_parts_.end() ? std::map<std::string, snapshot::MemberPart>{} : it->second;
}

bool SnapshotChannels::wait_member_parts(snapshot::SnapshotId id, const std::vector<std::string>& members,
                                         std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] {
    auto it = member_parts_.find(id);
    for (const auto& member : members) {
      if (it == member_parts_.end() || !it->second.count(member)) return false;
    }
    return true;
  });
}

void SnapshotChannels::set_marker_sender(std::function<void()> send_markers) {
  std::lock_guard lock(mutex_);
  send_markers_ = std::move(send_markers);
}

void SnapshotChannels::add_peer(const std::string& peer) {
  std::lock_guard lock(mutex_);
  add_peer_locked(peer);
}

void SnapshotChannels::add_peer_locked(const std::string& peer) {
  if (std::find(peers_.begin(), peers_.end(), peer) == peers_.end()) peers_.push_back(peer);
  participant_.set_ordered_start(peer);  // one connection per link, frames in stamp order
  update_channels_locked();
}

void SnapshotChannels::remove_peer(const std::string& peer) {
  std::lock_guard lock(mutex_);
  peers_.erase(std::remove(peers_.begin(), peers_.end(), peer), peers_.end());
  update_channels_locked();
}

bool SnapshotChannels::is_gateway(const std::string& peer) const { return peer.rfind("gateway:", 0) == 0; }

void SnapshotChannels::update_channels_locked() {
  std::vector<std::string> channels = peers_;
  const auto now = std::chrono::steady_clock::now();
  last_channels_update_ = now;
  for (auto it = gateways_.begin(); it != gateways_.end();) {
    if (now - it->second > kGatewayIdle) {
      it = gateways_.erase(it);
    } else {
      channels.push_back(it->first);
      ++it;
    }
  }
  participant_.set_channels(channels, channels);
}

bool SnapshotChannels::add_gateway_part(snapshot::LiveLocal part) {
  std::pair<std::vector<Push>, PartSender> pushes;
  {
    std::lock_guard lock(mutex_);
    if (!participant_.known(part.id)) return false;
    // An older copy arriving late (a request retried after a timeout) does not replace a newer one.
    auto& kept = gateway_parts_[part.id];
    snapshot::keep_most_channels(kept, std::move(part));
    ++gateway_parts_added_;
    take_wake_locked();
    pushes = pushes_after_change_locked();
  }
  changed_.notify_all();
  if (pushes.second) send_pushes(pushes.first, pushes.second);
  return true;
}

bool SnapshotChannels::take_wake_locked() {
  const std::uint64_t generation = generation_locked();
  if (generation == woken_generation_) return false;
  woken_generation_ = generation;
  return true;
}

bool SnapshotChannels::gateway_parts_in_locked(snapshot::SnapshotId id, const snapshot::LiveLocal& local) const {
  const auto held = gateway_parts_.find(id);
  for (const auto& [from, channel] : local.incoming) {
    if (!is_gateway(from)) continue;
    if (held == gateway_parts_.end()) return false;
    const auto part = held->second.find(from);
    if (part == held->second.end() || !part->second.sent_through.count(self_)) return false;
  }
  return true;
}

bool SnapshotChannels::wait_settled(snapshot::SnapshotId id, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  const auto complete = [&] {
    const snapshot::LiveLocal* local = participant_.find(id);
    return local != nullptr && local->complete;
  };
  if (!participant_.known(id)) return false;
  if (!changed_.wait_until(lock, deadline, complete)) return false;
  const auto gateways_deadline = std::min(deadline, std::chrono::steady_clock::now() + kGatewayPartWait);
  return changed_.wait_until(lock, gateways_deadline,
                             [&] { return complete() && gateway_parts_in_locked(id, *participant_.find(id)); });
}

void SnapshotChannels::wait_change(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  const std::uint64_t seen = generation_locked();
  changed_.wait_until(lock, deadline, [&] { return generation_locked() != seen; });
}

std::vector<snapshot::LiveLocal> SnapshotChannels::gateway_parts(snapshot::SnapshotId id) const {
  std::lock_guard lock(mutex_);
  std::vector<snapshot::LiveLocal> out;
  auto it = gateway_parts_.find(id);
  if (it == gateway_parts_.end()) return out;
  for (const auto& [process, part] : it->second) out.push_back(part);
  return out;
}

snapshot::Stamp SnapshotChannels::stamp(const std::string& to) {
  std::lock_guard lock(mutex_);
  return participant_.stamp(to);
}

bool SnapshotChannels::on_receive(const snapshot::Stamp& stamp,
                                  const std::function<snapshot::InFlightMessage()>& describe) {
  std::function<void()> send_markers;
  bool deliver = true;
  bool wake = false;
  std::pair<std::vector<Push>, PartSender> pushes;
  {
    std::lock_guard lock(mutex_);
    if (is_gateway(stamp.from)) {
      // The channel list changes when a gateway appears or goes quiet (kGatewayIdle, 30 s):
      // rebuilt then, not on every Sync call (a gateway pushes hundreds a second).
      const auto now = std::chrono::steady_clock::now();
      auto [heard, added] = gateways_.try_emplace(stamp.from, now);
      heard->second = now;
      if (added || now - last_channels_update_ >= kChannelsRecheck) update_channels_locked();
    } else if (std::find(peers_.begin(), peers_.end(), stamp.from) == peers_.end()) {
      // A member we have no link to yet (its address comes with the directory): count it as
      // a channel from now on, so its frames are accounted like the others.
      add_peer_locked(stamp.from);
    }
    const auto result = participant_.on_receive(stamp, state_, describe);
    deliver = !result.duplicate;
    const auto now = std::chrono::steady_clock::now();
    for (auto id : result.recorded) {
      aging_.recorded(id, now);
      const std::uint64_t initiator = initiator_of(id);
      if (initiator != 0 && initiator != self_member_) to_push_.emplace(id, now);
    }
    const bool repeat_markers = housekeeping_locked();
    if (!result.recorded.empty()) last_markers_ = now;
    if (!result.recorded.empty() || repeat_markers) send_markers = send_markers_;
    wake = take_wake_locked();
    if (wake) pushes = pushes_after_change_locked();
  }
  if (wake) changed_.notify_all();
  if (send_markers) send_markers();
  if (pushes.second) send_pushes(pushes.first, pushes.second);
  return deliver;
}

snapshot::SnapshotId SnapshotChannels::initiate() {
  std::function<void()> send_markers;
  snapshot::SnapshotId id = 0;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    housekeeping_locked();
    // Unique across the cluster without coordination: 64 random bits mixed with a counter.
    // The low 16 bits name this member (initiator_of): the others push their parts here.
    do {
      id = (random_u64() ^ (++counter_ * 0x9E3779B97F4A7C15ull)) >> 1;
      if (self_member_ != 0) id = (id & ~0xffffull) | self_member_;
    } while (id == 0 || participant_.known(id));
    update_channels_locked();  // drop gateways gone quiet before they become channels
    participant_.initiate(id, state_());
    last_markers_ = std::chrono::steady_clock::now();
    aging_.recorded(id, last_markers_);
    send_markers = send_markers_;
    wake = take_wake_locked();
  }
  if (wake) changed_.notify_all();
  if (send_markers) send_markers();
  return id;
}

std::optional<snapshot::LiveLocal> SnapshotChannels::local(snapshot::SnapshotId id) const {
  std::lock_guard lock(mutex_);
  return participant_.local(id);
}

std::vector<snapshot::SnapshotId> SnapshotChannels::snapshots() const {
  std::lock_guard lock(mutex_);
  return participant_.snapshots();
}

std::vector<std::string> SnapshotChannels::members() const {
  std::lock_guard lock(mutex_);
  return peers_;
}

bool SnapshotChannels::housekeeping_locked() {
  const auto now = std::chrono::steady_clock::now();
  // Frames arrive thousands of times a second; the timers below are seconds long.
  if (now - last_retire_check_ < std::chrono::milliseconds(100)) return false;
  last_retire_check_ = now;
  for (const auto& closed : loss_closer_.tick(participant_, now)) {
    // Operators see why a snapshot reports lost frames (a reconnect, a dropped connection).
    static const log::Logger logger("snapshot");
    logger.warn("channel closed with frames lost on the wire",
                {{"snapshot", std::to_string(closed.id)}, {"from", closed.from}, {"lost", std::to_string(closed.lost)}});
  }
  for (auto id : aging_.advance(participant_, now)) {
    gateway_parts_.erase(id);
    member_parts_.erase(id);
  }
  const bool marking = aging_.marking(now);
  // Every receiver acknowledged every mark (the usual case within a frame's round trip):
  // no repeat needed, the links stay quiet.
  if (!marking || now - last_markers_ < kMarkerRepeat || !participant_.marks_unacknowledged()) return false;
  last_markers_ = now;
  return true;
}

void install_snapshot_channels(std::shared_ptr<SnapshotChannels> channels) {
  std::lock_guard lock(installed_mutex());
  installed() = std::move(channels);
}

std::shared_ptr<SnapshotChannels> installed_snapshot_channels() {
  std::lock_guard lock(installed_mutex());
  return installed();
}

}  // namespace homestead::cloudd
