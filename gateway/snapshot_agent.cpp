#include "gateway/snapshot_agent.h"

#include <algorithm>
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
      participant_(process_, random_incarnation()) {
  participant_.track_changes();
}

void GatewaySnapshotAgent::refresh_channels_locked(bool channels_changed) {
  const auto now = std::chrono::steady_clock::now();
  // Called on every request and reply: the passes below look at every snapshot recorded in
  // the last kRetire (thousands when snapshots run back to back), so they run at most every
  // kHousekeeping, and the channel list is handed over only when it changed or may have.
  const bool due = now - last_housekeeping_ >= kHousekeeping;
  if (!channels_changed && !due) return;
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
  if (!due) return;
  last_housekeeping_ = now;
  loss_closer_.tick(participant_, now);
  // Marks keep riding on requests for kMarkFor after recording (a member may still be
  // waiting for this gateway's mark after the part shipped); records are kept kRetire.
  for (auto id : aging_.advance(participant_, now)) {
    ready_.erase(id);
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
  refresh_channels_locked(fresh);
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
  participant_.pair_channels(channel, stamp.from);  // so acknowledgements stop the marks both ways
  const bool fresh = !clouds_.count(stamp.from);
  clouds_[stamp.from] = std::chrono::steady_clock::now();
  refresh_channels_locked(fresh);
  const auto result = participant_.on_receive(
      stamp, [&] { return record_state_locked(); },
      [&] { return snapshot::InFlightMessage{0, "Sync reply", 0}; });
  if (!result.recorded.empty()) {
    for (const auto& [owed, used] : urls_) owed_markers_.insert(owed);
    const auto now = std::chrono::steady_clock::now();
    last_markers_ = now;
    for (auto id : result.recorded) aging_.recorded(id, now);
  }
  // After the accounting: a reply after our cut must not show in the recorded state.
  acked_through_ = std::max(acked_through_, applied_through);
}

std::vector<std::string> GatewaySnapshotAgent::take_marker_urls(const std::string& calling_next) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (aging_.marking(now) && now - last_markers_ >= kMarkerRepeat) {
    last_markers_ = now;
    for (const auto& [owed, used] : urls_) owed_markers_.insert(owed);
  }
  std::vector<std::string> urls;
  const std::string kept = calling_next.empty() ? "" : url_channel(calling_next);
  for (auto it = owed_markers_.begin(); it != owed_markers_.end();) {
    if (*it == kept) {
      ++it;
    } else {
      urls.push_back(it->substr(4));
      it = owed_markers_.erase(it);
    }
  }
  return urls;
}

void GatewaySnapshotAgent::collect_parts_locked(std::chrono::steady_clock::time_point now) {
  // Only the parts that changed since the last pass (completed, or given a channel that
  // appeared late), not every snapshot still marking (hundreds back to back).
  for (const auto id : participant_.take_changed()) {
    const snapshot::LiveLocal* local = participant_.find(id);
    if (!local || !local->complete) continue;
    // A complete part is reported changed once, and again only when a channel first used
    // after it was made ready (the gateway moved to another member while the snapshot still
    // marked) added a cut or an incoming record: then it ships again (the member keeps the
    // part with the most channels).
    snapshot::LiveLocal part = *local;
    // Name the outgoing channels as the members know themselves.
    std::map<std::string, std::uint64_t> sent;
    for (const auto& [channel, seq] : part.sent_through) {
      auto member = cloud_of_url_.find(channel);
      sent[member == cloud_of_url_.end() ? channel : member->second] = seq;
    }
    part.sent_through = std::move(sent);
    ReadyPart ready{snapshot::to_json(part), {}, now};
    for (const auto& [from, record] : part.incoming) {
      if (record.cut_known) ready.recorded_by.insert(from);
    }
    ready_[id] = std::move(ready);
  }
}

GatewaySnapshotAgent::CarriedParts GatewaySnapshotAgent::carry_parts(const std::string& url) {
  std::lock_guard lock(mutex_);
  CarriedParts out;
  const auto member = cloud_of_url_.find(url_channel(url));
  if (member == cloud_of_url_.end()) return out;  // who answers there is not known yet
  const auto now = std::chrono::steady_clock::now();
  collect_parts_locked(now);
  Carrying carrying{{}, now};
  std::string json = "[";
  for (auto it = ready_.begin(); it != ready_.end();) {
    if (!it->second.recorded_by.count(member->second)) {
      ++it;
      continue;
    }
    std::string text = it->second.part.dump();
    if (json.size() + text.size() + 2 > kMaxCarriedBytes && !carrying.parts.empty()) break;
    if (json.size() > 1) json += ",";
    json += text;
    carrying.parts.insert(ready_.extract(it++));
  }
  if (carrying.parts.empty()) return out;
  out.json = json + "]";
  out.count = carrying.parts.size();
  out.ticket = ++next_ticket_;
  carrying_.emplace(out.ticket, std::move(carrying));
  return out;
}

void GatewaySnapshotAgent::carried(std::uint64_t ticket, bool delivered) {
  std::lock_guard lock(mutex_);
  auto it = carrying_.find(ticket);
  if (it == carrying_.end()) return;
  if (delivered) {
    parts_carried_ += it->second.parts.size();
  } else {
    // Ready again, unless a newer version of the same part was made ready meanwhile.
    for (auto& [id, part] : it->second.parts) ready_.emplace(id, std::move(part));
  }
  carrying_.erase(it);
}

std::uint64_t GatewaySnapshotAgent::parts_carried() const {
  std::lock_guard lock(mutex_);
  return parts_carried_;
}

std::vector<nlohmann::json> GatewaySnapshotAgent::take_finished_parts(std::chrono::steady_clock::time_point ready_before) {
  std::lock_guard lock(mutex_);
  refresh_channels_locked(false);  // closes lossy channels even while no reply comes
  const auto now = std::chrono::steady_clock::now();
  // A request whose end was never reported (its caller gave up on it) does not hold its
  // parts for good.
  for (auto it = carrying_.begin(); it != carrying_.end();) {
    if (now - it->second.since < kLossWait) {
      ++it;
      continue;
    }
    for (auto& [id, part] : it->second.parts) ready_.emplace(id, std::move(part));
    it = carrying_.erase(it);
  }
  collect_parts_locked(now);
  std::vector<nlohmann::json> parts;
  for (auto it = ready_.begin(); it != ready_.end();) {
    if (it->second.since >= ready_before) {
      ++it;
      continue;
    }
    parts.push_back(std::move(it->second.part));
    it = ready_.erase(it);
  }
  return parts;
}

}  // namespace homestead::gateway

namespace homestead::gateway {
namespace {

nlohmann::json command_json(const OpenCommandView& c) {
  nlohmann::json j = {{"command_id", c.id}, {"command", c.command}, {"status", c.status},
                      {"origin", c.origin}, {"since_ms", c.since_ms}};
  if (c.waiting_for_device) j["waiting_for_device"] = true;
  return j;
}

nlohmann::json transactuation_json(const TransactuationView& t, std::size_t cap) {
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& [device, mode] : t.devices) devices.push_back({{"device", device}, {"mode", mode}});
  nlohmann::json commands = nlohmann::json::array();
  for (const auto& c : t.commands) {
    if (commands.size() >= cap) break;
    nlohmann::json j = command_json(c);
    j["device"] = c.device;
    commands.push_back(std::move(j));
  }
  return {{"id", t.id},
          {"app", t.app},
          {"phase", t.phase},
          {"triggered_at_us", t.triggered_at_us},
          {"recovered", t.recovered},
          // All locks are granted before sensing starts, so once the logic ran they are held.
          {"locks", t.phase == "locking_or_sensing" ? "held_or_queued" : "held"},
          {"devices", devices},
          {"state_keys", t.state_keys},
          {"actuations", t.actuations},
          {"open_commands", commands}};
}

}  // namespace

nlohmann::json runtime_state_json(const RuntimeStateCopy& copy, std::size_t cap) {
  nlohmann::json transactuations;
  std::vector<const OpenCommandView*> open;  // every open command in the copy, once
  std::set<std::string> seen;
  const auto note = [&](const OpenCommandView& c) {
    if (seen.insert(c.id).second) open.push_back(&c);
  };
  for (const auto& c : copy.open_commands) note(c);
  std::size_t unlisted = copy.open_commands_total > copy.open_commands.size()
                             ? copy.open_commands_total - copy.open_commands.size()
                             : 0;
  std::size_t pending = copy.open_commands_pending;
  std::size_t sent = copy.open_commands_total - std::min(copy.open_commands_pending, copy.open_commands_total);
  if (copy.transactuations) {
    const auto& open_txns = *copy.transactuations;
    nlohmann::json items = nlohmann::json::array();
    for (const auto& t : open_txns.items) {
      if (items.size() < cap) items.push_back(transactuation_json(t, cap));
      for (const auto& c : t.commands) {
        if (!seen.insert(c.id).second) continue;
        open.push_back(&c);
        (c.status == "pending" ? pending : sent) += 1;
      }
    }
    const std::size_t total = std::max(open_txns.total, open_txns.items.size());
    transactuations = {{"open", total}, {"items", items}, {"truncated", total - items.size()}};
    // REST commands queued behind transactuations are logged but not yet tracked.
    for (const auto& c : open_txns.waiting_commands) {
      if (!seen.insert(c.id).second) continue;
      open.push_back(&c);
      pending += 1;
    }
  } else {
    transactuations = {{"unavailable", copy.transactuations_unavailable}};
  }

  // The oldest are the interesting ones (a stuck device): they survive the cap.
  std::sort(open.begin(), open.end(), [](const OpenCommandView* a, const OpenCommandView* b) {
    return a->since_ms != b->since_ms ? a->since_ms < b->since_ms : a->id < b->id;
  });
  if (open.size() > cap) {
    unlisted += open.size() - cap;
    open.resize(cap);
  }
  nlohmann::json devices = nlohmann::json::object();
  const auto device_entry = [&](const std::string& device) -> nlohmann::json& {
    auto& d = devices[device];
    if (d.is_null()) d = {{"open", nlohmann::json::array()}, {"acked", 0}, {"failed", 0}, {"expired", 0}};
    return d;
  };
  for (const auto* c : open) device_entry(c->device)["open"].push_back(command_json(*c));
  FinalCommandCounts totals;
  for (const auto& [device, counts] : copy.final_counts) {
    auto& d = device_entry(device);
    d["acked"] = counts.acked;
    d["failed"] = counts.failed;
    d["expired"] = counts.expired;
    totals.acked += counts.acked;
    totals.failed += counts.failed;
    totals.expired += counts.expired;
  }
  nlohmann::json commands = {{"pending", pending},
                             {"sent", sent},
                             {"acked", totals.acked},
                             {"failed", totals.failed},
                             {"expired", totals.expired},
                             {"devices", devices},
                             {"truncated", unlisted}};
  return {{"transactuations", transactuations}, {"commands", commands}};
}

}  // namespace homestead::gateway
