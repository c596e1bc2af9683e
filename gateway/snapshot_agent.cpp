#include "gateway/snapshot_agent.h"

#include <random>

#include "cloud/snapshot/live_report.h"
#include "cloud/snapshot/stamp_codec.h"

namespace homestead::gateway {
namespace {

std::uint64_t random_incarnation() {
  std::random_device device;
  return ((static_cast<std::uint64_t>(device()) << 32) ^ device()) | 1;
}

std::string url_channel(const std::string& url) { return "url:" + url; }

}  // namespace

GatewaySnapshotAgent::GatewaySnapshotAgent(const std::string& home, const std::string& gateway, ExtraState extra)
    : process_("gateway:" + home + "/" + gateway),
      extra_(std::move(extra)),
      participant_(process_, random_incarnation()) {}

void GatewaySnapshotAgent::refresh_channels_locked() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> incoming, outgoing;
  for (auto it = clouds_.begin(); it != clouds_.end();) {
    if (now - it->second > kIdle) {
      it = clouds_.erase(it);
    } else {
      incoming.push_back((it++)->first);
    }
  }
  for (auto it = urls_.begin(); it != urls_.end();) {
    if (now - it->second > kIdle) {
      it = urls_.erase(it);
    } else {
      outgoing.push_back((it++)->first);
    }
  }
  participant_.set_channels(incoming, outgoing);
  loss_closer_.tick(participant_, now);
  // Marks keep riding on requests until kRetire after recording (a member may still be
  // waiting for this gateway's mark after the part shipped).
  for (auto it = recorded_at_.begin(); it != recorded_at_.end();) {
    if (now - it->second > kMarkFor) participant_.stop_marking(it->first);
    if (now - it->second > kRetire) {
      participant_.retire(it->first);
      shipped_.erase(it->first);
      it = recorded_at_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string GatewaySnapshotAgent::record_state_locked() const {
  nlohmann::json state = extra_ ? extra_() : nlohmann::json::object();
  if (!state.is_object()) state = nlohmann::json{{"extra", state}};
  state["pushed_through"] = pushed_through_;
  state["acked_through"] = acked_through_;
  return state.dump();
}

std::string GatewaySnapshotAgent::stamp_request(const std::string& url, std::uint64_t push_last_seq) {
  std::lock_guard lock(mutex_);
  const std::string channel = url_channel(url);
  const bool fresh = !urls_.count(channel);
  urls_[channel] = std::chrono::steady_clock::now();
  if (fresh) refresh_channels_locked();
  const snapshot::Stamp stamp = participant_.stamp(channel);
  owed_markers_.erase(channel);  // this request carries the marks
  pushed_through_ = std::max(pushed_through_, push_last_seq);
  return "snapshot=" + snapshot::encode_stamp_hex(stamp);
}

void GatewaySnapshotAgent::note_push(std::uint64_t last_seq) {
  std::lock_guard lock(mutex_);
  pending_push_ = last_seq;
}

std::uint64_t GatewaySnapshotAgent::pending_push() const {
  std::lock_guard lock(mutex_);
  return pending_push_;
}

std::string GatewaySnapshotAgent::strip_reply_stamp(std::string& body) {
  return snapshot::strip_stamp_field_json(body);
}

void GatewaySnapshotAgent::on_reply(const std::string& url, const std::string& stamp_hex,
                                    std::uint64_t applied_through) {
  snapshot::Stamp stamp;
  try {
    stamp = snapshot::decode_stamp_hex(stamp_hex);
  } catch (const snapshot::StampError&) {
    return;
  }
  std::lock_guard lock(mutex_);
  const std::string channel = url_channel(url);
  cloud_of_url_[channel] = stamp.from;
  clouds_[stamp.from] = std::chrono::steady_clock::now();
  refresh_channels_locked();
  const auto result = participant_.on_receive(
      stamp, [&] { return record_state_locked(); },
      [&] { return snapshot::InFlightMessage{0, "Sync reply", 0}; });
  if (!result.recorded.empty()) {
    for (const auto& [owed, used] : urls_) owed_markers_.insert(owed);
    for (auto id : result.recorded) recorded_at_[id] = last_markers_ = std::chrono::steady_clock::now();
  }
  // After the accounting: a reply after our cut must not show in the recorded state.
  acked_through_ = std::max(acked_through_, applied_through);
}

std::vector<std::string> GatewaySnapshotAgent::take_marker_urls() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  bool marking = false;
  for (const auto& [id, at] : recorded_at_) marking = marking || now - at <= kMarkFor;
  if (marking && now - last_markers_ >= kMarkerRepeat) {
    last_markers_ = now;
    for (const auto& [owed, used] : urls_) owed_markers_.insert(owed);
  }
  std::vector<std::string> urls;
  for (const auto& channel : owed_markers_) urls.push_back(channel.substr(4));
  owed_markers_.clear();
  return urls;
}

std::vector<nlohmann::json> GatewaySnapshotAgent::take_finished_parts() {
  std::lock_guard lock(mutex_);
  refresh_channels_locked();  // closes lossy channels even while no reply comes
  std::vector<nlohmann::json> parts;
  for (auto id : participant_.snapshots()) {
    if (shipped_.count(id)) continue;
    auto local = participant_.local(id);
    if (!local || !local->complete) continue;
    shipped_.insert(id);
    // Name the outgoing channels as the members know themselves.
    std::map<std::string, std::uint64_t> sent;
    for (const auto& [channel, seq] : local->sent_through) {
      auto it = cloud_of_url_.find(channel);
      sent[it == cloud_of_url_.end() ? channel : it->second] = seq;
    }
    local->sent_through = std::move(sent);
    parts.push_back(snapshot::to_json(*local));
  }
  return parts;
}

}  // namespace homestead::gateway
