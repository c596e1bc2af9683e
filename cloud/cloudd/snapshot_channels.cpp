#include "cloud/cloudd/snapshot_channels.h"

#include <algorithm>
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

std::string encode_stamp(const snapshot::Stamp& stamp) { return snapshot::encode_stamp_bytes(stamp); }

snapshot::Stamp decode_stamp(std::string_view bytes) {
  try {
    return snapshot::decode_stamp_bytes(bytes);
  } catch (const snapshot::StampError& e) {
    throw raft::CodecError(e.what());
  }
}

SnapshotChannels::SnapshotChannels(std::string self, StateFn state)
    : self_(std::move(self)), state_(std::move(state)), participant_(self_, random_u64() | 1) {}

void SnapshotChannels::set_marker_sender(std::function<void()> send_markers) {
  std::lock_guard lock(mutex_);
  send_markers_ = std::move(send_markers);
}

void SnapshotChannels::set_part_sharer(std::function<void(std::string)> share) {
  std::lock_guard lock(mutex_);
  share_ = std::move(share);
}

void SnapshotChannels::share_changed_parts_locked() {
  if (!participant_.has_changed()) return;
  for (auto id : participant_.take_changed()) {
    // Complete, or changed since it was (a channel that appeared late): the others replace
    // their copy, and use it for reports only while it is complete.
    if (const snapshot::LiveLocal* local = participant_.find(id)) {
      pending_share_.push_back(SharedPart{id, local->process, false, local->complete, snapshot::channel_count(*local),
                                          snapshot::to_json(*local).dump()});
    }
  }
}

// A Snapshot/Parts frame: varint count, then per part: varint id, bytes process, byte flags
// (1: a gateway's part, 2: complete), varint channels, bytes part JSON. The index in front
// lets a receiver file a part without parsing its JSON, which only a report needs.
std::function<void()> SnapshotChannels::take_share_locked() {
  if (pending_share_.empty() || !share_) {
    pending_share_.clear();
    return {};
  }
  raft::ByteWriter frame;
  frame.varint(pending_share_.size());
  for (const auto& part : pending_share_) {
    frame.varint(part.id);
    frame.bytes(part.process);
    frame.byte(static_cast<std::uint8_t>((part.gateway ? 1 : 0) | (part.complete ? 2 : 0)));
    frame.varint(part.channels);
    frame.bytes(part.json);
  }
  pending_share_.clear();
  return [share = share_, frame = frame.take()]() mutable { share(std::move(frame)); };
}

void SnapshotChannels::add_shared_parts(std::string_view frame) {
  std::vector<SharedPart> parts;
  try {
    raft::ByteReader in(frame, "shared snapshot parts");
    const std::uint64_t count = in.varint();
    if (count > frame.size()) throw raft::CodecError("shared snapshot parts: count exceeds size");
    for (std::uint64_t i = 0; i < count; ++i) {
      SharedPart part;
      part.id = in.varint();
      part.process = in.bytes();
      const std::uint8_t flags = in.byte();
      part.gateway = flags & 1;
      part.complete = flags & 2;
      part.channels = in.varint();
      part.json = in.bytes();
      parts.push_back(std::move(part));
    }
  } catch (const raft::CodecError& e) {
    static const log::Logger logger("snapshot");
    logger.warn("bad shared snapshot parts", {{"error", e.what()}});
    return;
  }
  std::lock_guard lock(mutex_);
  for (auto& part : parts) {
    if (!participant_.known(part.id)) continue;
    auto& kept = (part.gateway ? shared_gateway_parts_ : member_parts_)[part.id];
    auto it = kept.find(part.process);
    // A newer version has at least as many channels (late channels only add).
    if (it == kept.end() || part.channels >= it->second.channels) kept[part.process] = std::move(part);
  }
}

namespace {

// Parsed copies of shared parts (a malformed one is left out: the report then asks its member).
std::vector<snapshot::LiveLocal> parse_shared(const std::vector<std::string>& texts) {
  std::vector<snapshot::LiveLocal> out;
  for (const auto& text : texts) {
    try {
      out.push_back(snapshot::live_local_from_json(nlohmann::json::parse(text)));
    } catch (const std::exception& e) {
      static const log::Logger logger("snapshot");
      logger.warn("bad shared snapshot part", {{"error", e.what()}});
    }
  }
  return out;
}

}  // namespace

std::map<std::string, snapshot::LiveLocal> SnapshotChannels::shared_member_parts(snapshot::SnapshotId id) const {
  std::vector<std::string> texts;
  {
    std::lock_guard lock(mutex_);
    auto it = member_parts_.find(id);
    if (it == member_parts_.end()) return {};
    for (const auto& [process, part] : it->second) {
      if (part.complete) texts.push_back(part.json);
    }
  }
  std::map<std::string, snapshot::LiveLocal> out;
  for (auto& part : parse_shared(texts)) out[part.process] = std::move(part);
  return out;
}

void SnapshotChannels::add_peer(const std::string& peer) {
  std::lock_guard lock(mutex_);
  if (std::find(peers_.begin(), peers_.end(), peer) == peers_.end()) peers_.push_back(peer);
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
  std::function<void()> share;
  {
    std::lock_guard lock(mutex_);
    SharedPart shared{part.id, part.process, true, part.complete, snapshot::channel_count(part), snapshot::to_json(part).dump()};
    if (!keep_gateway_part_locked(std::move(part))) return false;
    pending_share_.push_back(std::move(shared));
    share = take_share_locked();
  }
  if (share) share();
  return true;
}

bool SnapshotChannels::keep_gateway_part_locked(snapshot::LiveLocal part) {
  if (!participant_.known(part.id)) return false;
  // A gateway ships a part again when a channel joined it (more channels); an older copy
  // arriving late (a request retried after a timeout) does not replace the newer one.
  auto& kept = gateway_parts_[part.id];
  auto it = kept.find(part.process);
  if (it == kept.end()) {
    kept.emplace(part.process, std::move(part));
  } else if (snapshot::channel_count(part) >= snapshot::channel_count(it->second)) {
    it->second = std::move(part);
  }
  return true;
}

std::vector<snapshot::LiveLocal> SnapshotChannels::gateway_parts(snapshot::SnapshotId id) const {
  std::vector<snapshot::LiveLocal> out;
  std::vector<std::string> shared;
  {
    std::lock_guard lock(mutex_);
    if (auto it = gateway_parts_.find(id); it != gateway_parts_.end()) {
      for (const auto& [process, part] : it->second) out.push_back(part);
    }
    if (auto it = shared_gateway_parts_.find(id); it != shared_gateway_parts_.end()) {
      for (const auto& [process, part] : it->second) shared.push_back(part.json);
    }
  }
  // Both kinds may hold a version of the same gateway's part: the report keeps the one with
  // the most channels.
  for (auto& part : parse_shared(shared)) out.push_back(std::move(part));
  return out;
}

snapshot::Stamp SnapshotChannels::stamp(const std::string& to) {
  std::lock_guard lock(mutex_);
  return participant_.stamp(to);
}

bool SnapshotChannels::on_receive(const snapshot::Stamp& stamp,
                                  const std::function<snapshot::InFlightMessage()>& describe) {
  std::function<void()> send_markers;
  std::function<void()> share;
  bool deliver = true;
  {
    std::lock_guard lock(mutex_);
    if (is_gateway(stamp.from)) {
      gateways_[stamp.from] = std::chrono::steady_clock::now();
      update_channels_locked();
    } else if (std::find(peers_.begin(), peers_.end(), stamp.from) == peers_.end()) {
      // A member we have no link to yet (its address comes with the directory): count it as
      // a channel from now on, so its frames are accounted like the others.
      peers_.push_back(stamp.from);
      update_channels_locked();
    }
    const auto result = participant_.on_receive(stamp, state_, describe);
    deliver = !result.duplicate;
    for (auto id : result.recorded) aging_.recorded(id, std::chrono::steady_clock::now());
    const bool repeat_markers = housekeeping_locked();
    share_changed_parts_locked();
    if (!result.recorded.empty()) last_markers_ = std::chrono::steady_clock::now();
    if (!result.recorded.empty() || repeat_markers) send_markers = send_markers_;
    share = take_share_locked();
  }
  if (send_markers) send_markers();
  if (share) share();
  return deliver;
}

snapshot::SnapshotId SnapshotChannels::initiate() {
  std::function<void()> send_markers;
  std::function<void()> share;
  snapshot::SnapshotId id = 0;
  {
    std::lock_guard lock(mutex_);
    housekeeping_locked();
    // Unique across the cluster without coordination: 64 random bits mixed with a counter.
    do {
      id = (random_u64() ^ (++counter_ * 0x9E3779B97F4A7C15ull)) >> 1;
    } while (id == 0 || participant_.known(id));
    update_channels_locked();  // drop gateways gone quiet before they become channels
    participant_.initiate(id, state_());
    last_markers_ = std::chrono::steady_clock::now();
    aging_.recorded(id, last_markers_);
    send_markers = send_markers_;
    share_changed_parts_locked();  // complete at once when this node has no channels
    share = take_share_locked();
  }
  if (send_markers) send_markers();
  if (share) share();
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
    shared_gateway_parts_.erase(id);
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
