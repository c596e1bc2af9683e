#include "firmware-sim/firmware.h"

#include <algorithm>
#include <limits>

#include "devices/discovery.h"

namespace homestead::firmware {

using devices::Channel;
using devices::Kind;

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

// Kinds whose whole state is RAM: a power cycle brings them back in their power-on state.
// Locks, window openers and valves keep their physical position; thermostats keep their
// setpoint in flash; sensors re-measure.
bool volatile_state(Kind kind) {
  return kind == Kind::light || kind == Kind::plug || kind == Kind::siren || kind == Kind::strobe;
}

}  // namespace

Firmware::Firmware(std::string home, devices::DeviceDescription device, FirmwareSettings settings, std::uint64_t seed)
    : home_(std::move(home)),
      device_(std::move(device)),
      kind_(*device_.kind),
      settings_(settings),
      rng_(seed),
      state_(devices::starting_state(device_)),
      frozen_state_(state_) {}

bool Firmware::wants_connect(std::int64_t now) const {
  return link_ == LinkState::disconnected && now >= next_connect_ && now >= offline_until_;
}

void Firmware::connect_started(std::int64_t) { link_ = LinkState::connecting; }

void Firmware::connected(std::int64_t now, Output& out) {
  link_ = LinkState::connected;
  backoff_ms_ = 0;
  out.publishes.push_back({Channel::status, std::string(devices::kOnline), false});
  devices::DiscoveryDevice d{home_, device_.id, device_.name, device_.room};
  out.publishes.push_back({Channel::state, devices::discovery_document(kind_, d).dump(), true});
  report(now, out);
  // Spread periodic reports over the interval so hundreds of devices do not report in step.
  next_report_ = now + rng_.uniform(settings_.report_interval_ms / 2, settings_.report_interval_ms);
}

void Firmware::connect_failed(std::int64_t now) {
  if (link_ != LinkState::connecting) return;
  link_ = LinkState::disconnected;
  schedule_reconnect(now);
}

void Firmware::connection_lost(std::int64_t now) {
  // After go_offline()/reboot() the link is already down and the reconnect time is set.
  if (link_ == LinkState::disconnected) return;
  link_ = LinkState::disconnected;
  schedule_reconnect(now);
}

void Firmware::schedule_reconnect(std::int64_t now) {
  backoff_ms_ = backoff_ms_ == 0 ? settings_.backoff_min_ms : std::min(backoff_ms_ * 2, settings_.backoff_max_ms);
  // +-20% jitter, so devices that lost the broker together do not return together.
  const std::int64_t jitter = backoff_ms_ / 5;
  next_connect_ = now + backoff_ms_ + (jitter > 0 ? rng_.uniform(-jitter, jitter) : 0);
}

void Firmware::report(std::int64_t now, Output& out) {
  if (link_ != LinkState::connected) return;
  if (faults_.malformed) {
    out.publishes.push_back({Channel::state, malformed_report(now), false});
  } else {
    devices::StateReport r{seq_, device_clock(now), faults_.stuck ? frozen_state_ : state_};
    out.publishes.push_back({Channel::state, devices::encode(r), false});
  }
  ++seq_;
  next_report_ = now + settings_.report_interval_ms;
}

std::string Firmware::malformed_report(std::int64_t now) {
  // Cycles through the ways real firmware gets it wrong: truncated JSON, a missing field,
  // a mistyped capability, a mistyped timestamp.
  devices::StateReport r{seq_, device_clock(now), state_};
  nlohmann::json doc = devices::to_json(r);
  switch (malformed_variant_++ % 4) {
    case 0: {
      std::string text = doc.dump();
      return text.substr(0, text.size() / 2);
    }
    case 1: doc.erase("seq"); break;
    case 2: {
      const auto& cap = kind_.capabilities.front();
      doc["state"][cap.name] = cap.type == devices::ValueType::enumeration ? nlohmann::json(42) : nlohmann::json("garbage");
      break;
    }
    default: doc["ts"] = "yesterday"; break;
  }
  return doc.dump();
}

void Firmware::command(std::int64_t now, std::string_view payload, Output& out) {
  ++commands_received_;
  // A lossy radio or busy firmware loses the command before anything else looks at it.
  if (faults_.drop_commands > 0 && rng_.chance(faults_.drop_commands)) {
    ++commands_dropped_;
    return;
  }
  devices::Command cmd;
  try {
    cmd = devices::decode_command(kind_, payload);
  } catch (const devices::PayloadError& e) {
    ++commands_rejected_;
    // Answer with an error when we can tell whom to answer; otherwise there is no one to tell.
    auto doc = nlohmann::json::parse(payload, nullptr, false);
    if (doc.is_object() && doc.contains("cmd_id") && doc["cmd_id"].is_string()) {
      const std::string id = doc["cmd_id"];
      if (!id.empty() && id.size() <= devices::kMaxCmdIdLength) {
        devices::Ack ack{id, false, std::string("invalid command: ") + e.what(), faults_.stuck ? frozen_state_ : state_,
                         device_clock(now), std::nullopt};
        out.publishes.push_back({Channel::ack, devices::encode(ack), false});
      }
    }
    return;
  }
  if (cmd.command == devices::kStatusCommand) {
    answer_status(now, cmd, out);
    return;
  }
  if (auto it = memory_.find(cmd.cmd_id); it != memory_.end()) {
    out.publishes.push_back({Channel::ack, it->second.dump(), false});  // the earlier ack, verbatim
    return;
  }
  for (const auto& p : pending_)
    if (p.command.cmd_id == cmd.cmd_id) return;  // already in progress: its one ack will come
  pending_.push_back({std::move(cmd), now + draw_latency(kind_.kind, settings_.latency, rng_)});
  tick(now, out);  // zero latency actuates at once
}

void Firmware::answer_status(std::int64_t now, const devices::Command& query, Output& out) {
  const std::string asked = query.args.at("cmd_id");
  devices::StatusOf status{asked, devices::CommandOutcome::unknown, nullptr};
  if (auto it = memory_.find(asked); it != memory_.end()) {
    status.outcome = devices::CommandOutcome::done;
    status.ack = it->second;
  } else {
    for (const auto& p : pending_)
      if (p.command.cmd_id == asked) status.outcome = devices::CommandOutcome::pending;
  }
  devices::Ack ack{query.cmd_id, true, "", faults_.stuck ? frozen_state_ : state_, device_clock(now), status};
  out.publishes.push_back({Channel::ack, devices::encode(ack), false});
}

void Firmware::actuate(std::int64_t now, const devices::Command& cmd, Output& out) {
  ++actuations_[cmd.cmd_id];
  const nlohmann::json before = state_;
  devices::Ack ack{cmd.cmd_id, true, "", nlohmann::json::object(), device_clock(now), std::nullopt};
  if (!faults_.fail_acks.empty()) {
    ack.ok = false;
    ack.reason = faults_.fail_acks;
    if (kind_.kind == Kind::lock) state_["lock"] = "jammed";  // the bolt stops half-way
  } else {
    apply(cmd);
  }
  if (!faults_.stuck) frozen_state_ = state_;
  ack.state = faults_.stuck ? frozen_state_ : state_;
  nlohmann::json ack_json = devices::to_json(ack);
  remember(cmd.cmd_id, ack_json);
  if (state_ != before) report(now, out);
  const std::int64_t due = now + faults_.ack_delay_ms;
  if (due <= now) {
    if (link_ == LinkState::connected) out.publishes.push_back({Channel::ack, ack_json.dump(), false});
  } else {
    due_acks_.push_back({ack_json.dump(), due});
  }
}

void Firmware::apply(const devices::Command& cmd) {
  const std::string& c = cmd.command;
  switch (kind_.kind) {
    case Kind::light:
      if (c == "turn_on") {
        state_["on"] = true;
        if (state_["brightness"] == 0) state_["brightness"] = 255;
      } else if (c == "turn_off") {
        state_["on"] = false;
      } else if (c == "set_brightness") {
        state_["brightness"] = cmd.args.at("brightness");
        state_["on"] = cmd.args.at("brightness").get<int>() > 0;
      }
      break;
    case Kind::siren:
    case Kind::strobe:
    case Kind::plug: state_["on"] = c == "turn_on"; break;
    case Kind::lock: state_["lock"] = c == "lock" ? "locked" : "unlocked"; break;
    case Kind::thermostat:
      if (c == "set_setpoint") state_["setpoint"] = cmd.args.at("setpoint");
      if (c == "set_mode") state_["mode"] = cmd.args.at("mode");
      break;
    case Kind::window_opener:
      if (c == "open") state_["position"] = 100;
      if (c == "close") state_["position"] = 0;
      if (c == "set_position") state_["position"] = cmd.args.at("position");
      break;
    case Kind::water_valve: state_["open"] = c == "open"; break;
    default: break;  // sensors have no commands; decode_command rejected them already
  }
}

void Firmware::remember(const std::string& cmd_id, nlohmann::json ack) {
  if (memory_.emplace(cmd_id, std::move(ack)).second) {
    memory_order_.push_back(cmd_id);
    if (memory_order_.size() > kMemory) {
      memory_.erase(memory_order_.front());
      memory_order_.pop_front();
    }
  }
}

void Firmware::tick(std::int64_t now, Output& out) {
  // Actuations in arrival order among those due (a device runs one command at a time).
  while (true) {
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.due <= now; });
    if (it == pending_.end()) break;
    devices::Command cmd = std::move(it->command);
    pending_.erase(it);
    actuate(now, cmd, out);
  }
  for (auto it = due_acks_.begin(); it != due_acks_.end();) {
    if (it->due <= now) {
      // An ack that comes due while the link is down is lost, as on a real device; a status
      // query after reconnecting still finds it.
      if (link_ == LinkState::connected) out.publishes.push_back({Channel::ack, std::move(it->payload), false});
      it = due_acks_.erase(it);
    } else {
      ++it;
    }
  }
  if (link_ == LinkState::connected && now >= next_report_) report(now, out);
}

void Firmware::sense(std::int64_t now, const std::string& capability, const nlohmann::json& value, Output& out) {
  if (state_.value(capability, nlohmann::json()) == value) return;
  state_[capability] = value;
  if (faults_.stuck) return;  // the real value moves on; the device keeps reporting the old one
  frozen_state_ = state_;
  report(now, out);
}

std::int64_t Firmware::next_wakeup() const {
  std::int64_t next = kNever;
  for (const auto& p : pending_) next = std::min(next, p.due);
  for (const auto& a : due_acks_) next = std::min(next, a.due);
  if (link_ == LinkState::connected) next = std::min(next, next_report_);
  if (link_ == LinkState::disconnected) next = std::min(next, std::max(next_connect_, offline_until_));
  return next;
}

void Firmware::set_faults(const Faults& faults) {
  if (faults.stuck && !faults_.stuck) frozen_state_ = state_;
  faults_ = faults;
  if (!faults_.stuck) frozen_state_ = state_;
}

void Firmware::go_offline(std::int64_t now, std::int64_t duration_ms, Output& out) {
  if (link_ != LinkState::disconnected) out.drop_connection = true;
  link_ = LinkState::disconnected;
  offline_until_ = now + duration_ms;
  backoff_ms_ = 0;
  next_connect_ = offline_until_;
}

void Firmware::reboot(std::int64_t now, Output& out) {
  go_offline(now, settings_.boot_ms, out);
  pending_.clear();
  due_acks_.clear();
  seq_ = 0;
  if (volatile_state(kind_.kind)) {
    state_ = devices::starting_state(device_);
    frozen_state_ = state_;
  }
  if (!kind_.persists_cmd_ids) {
    memory_.clear();
    memory_order_.clear();
  }
}

}  // namespace homestead::firmware
