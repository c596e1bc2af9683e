#include "gateway/state_cache.h"

#include "devices/topics.h"

namespace homestead::gateway {

std::string_view rejection_name(Rejection r) {
  switch (r) {
    case Rejection::none: return "none";
    case Rejection::topic: return "topic";
    case Rejection::unknown_device: return "unknown_device";
    case Rejection::not_json: return "not_json";
    case Rejection::schema: return "schema";
    case Rejection::status_payload: return "status_payload";
  }
  return "none";
}

void StateCache::add_device(const std::string& id, const devices::KindInfo& kind) {
  auto& d = devices_[id];
  if (d.kind != &kind) {
    d = DeviceState{};
    d.id = id;
    d.kind = &kind;
  }
}

void StateCache::remove_device(const std::string& id) {
  auto it = devices_.find(id);
  if (it != devices_.end()) devices_.erase(it);
}

const DeviceState* StateCache::find(std::string_view id) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : &it->second;
}

bool accepts_commands(const DeviceState& state) { return state.online != false && !state.awaiting_status; }

void StateCache::link_lost() {
  for (auto& [id, d] : devices_) d.awaiting_status = d.awaiting_status || d.online == true;
}

void StateCache::note_desired(const std::string& id, const nlohmann::json& args) {
  auto it = devices_.find(id);
  if (it == devices_.end() || !args.is_object() || args.empty()) return;
  for (const auto& [k, v] : args.items()) it->second.desired[k] = v;
  ++it->second.version;
}

IngestResult StateCache::ingest(std::string_view topic, std::string_view payload, std::int64_t now_ms) {
  IngestResult out;
  const auto parsed = devices::parse_topic(topic);
  if (!parsed || parsed->home != home_) {
    out.kind = IngestResult::Kind::rejected;
    out.rejection = Rejection::topic;
    out.detail = "not a topic of home '" + home_ + "': " + std::string(topic.substr(0, 200));
    return out;
  }
  out.device = parsed->device;
  auto it = devices_.find(parsed->device);
  if (it == devices_.end()) {
    out.kind = IngestResult::Kind::rejected;
    out.rejection = Rejection::unknown_device;
    out.detail = "unknown device '" + parsed->device + "'";
    return out;
  }
  DeviceState& d = it->second;
  // A report or an ack proves the device is connected again after a link loss; its status
  // message (below) decides on its own.
  const auto heard_again = [&] {
    out.send_waiting = d.awaiting_status && d.online != false;
    d.awaiting_status = false;
  };
  try {
    switch (parsed->channel) {
      case devices::Channel::state: {
        auto report = devices::decode_state(*d.kind, payload);
        out.kind = IngestResult::Kind::state;
        out.reading = Reading{d.id, now_ms, report.ts_ms, report.seq, report.state.dump()};
        if (d.reported != report.state) ++d.version;
        d.reported = std::move(report.state);
        d.seq = report.seq;
        d.device_ts_ms = report.ts_ms;
        d.received_ms = now_ms;
        d.last_seen_ms = now_ms;
        heard_again();
        return out;
      }
      case devices::Channel::ack: {
        auto ack = devices::decode_ack(*d.kind, payload);
        out.kind = IngestResult::Kind::ack;
        if (ack.state.is_object() && !ack.state.empty()) {
          nlohmann::json merged = d.reported.is_object() ? d.reported : nlohmann::json::object();
          merged.update(ack.state);
          if (merged != d.reported) ++d.version;
          d.reported = std::move(merged);
          d.received_ms = now_ms;
        }
        d.last_seen_ms = now_ms;
        heard_again();
        out.ack = std::move(ack);
        return out;
      }
      case devices::Channel::status: {
        if (payload != devices::kOnline && payload != devices::kOffline) {
          out.kind = IngestResult::Kind::rejected;
          out.rejection = Rejection::status_payload;
          out.detail = "status payload must be 'online' or 'offline'";
          return out;
        }
        const bool online = payload == devices::kOnline;
        out.kind = IngestResult::Kind::status;
        out.online = online;
        out.send_waiting = online && (d.online != true || d.awaiting_status);
        d.online = online;
        d.awaiting_status = false;
        if (online) d.last_seen_ms = now_ms;
        return out;
      }
      case devices::Channel::cmd:
        out.kind = IngestResult::Kind::ignored;  // our own commands echoed back
        return out;
    }
  } catch (const devices::PayloadError& e) {
    out.kind = IngestResult::Kind::rejected;
    out.rejection = e.field().empty() ? Rejection::not_json : Rejection::schema;
    out.detail = e.what();
  }
  return out;
}

nlohmann::json state_json(const DeviceState& d, std::int64_t now_ms, std::int64_t stale_after_ms, bool link_up) {
  nlohmann::json j;
  j["device"] = d.id;
  j["kind"] = d.kind ? d.kind->name : "";
  j["reported"] = d.reported;
  j["desired"] = d.desired;
  j["version"] = d.version;
  j["seq"] = d.seq;
  j["device_ts_ms"] = d.device_ts_ms;
  j["received_ms"] = d.received_ms;
  j["online"] = d.online ? nlohmann::json(*d.online) : nlohmann::json(nullptr);
  j["last_seen_ms"] = d.last_seen_ms;
  const std::int64_t age = d.last_seen_ms > 0 ? now_ms - d.last_seen_ms : -1;
  j["age_ms"] = age;
  // Stale: never heard from, silent for too long, or the broker link is down so nothing
  // newer could have arrived.
  const bool stale = !link_up || d.last_seen_ms == 0 || age > stale_after_ms;
  j["stale"] = stale;
  j["stale_reason"] = !link_up ? "broker_link_down" : d.last_seen_ms == 0 ? "never_seen" : age > stale_after_ms ? "silent" : "";
  return j;
}

}  // namespace homestead::gateway
