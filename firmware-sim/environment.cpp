#include "firmware-sim/environment.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace homestead::firmware {

using devices::Kind;

namespace {

// A heating system that can lift a room ~8 °C/h against no loss: enough to hold 21 °C with
// 0 °C outside, as a sized system must.
constexpr double kHeatingPerSecond = 8.0 / 3600;

// Dividing by a power of ten (not multiplying by 0.1) gives the shortest decimal, so
// reports read 14.7 and not 14.700000000000001.
double round_decimals(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

// "HH:MM" -> seconds since midnight; -1 when malformed.
std::int64_t parse_clock(const nlohmann::json& v) {
  if (!v.is_string()) return -1;
  const std::string s = v;
  if (s.size() != 5 || s[2] != ':' || !std::isdigit(s[0]) || !std::isdigit(s[1]) || !std::isdigit(s[3]) ||
      !std::isdigit(s[4]))
    return -1;
  const int h = std::stoi(s.substr(0, 2)), m = std::stoi(s.substr(3, 2));
  if (h > 23 || m > 59) return -1;
  return h * 3600 + m * 60;
}

class Fail {
 public:
  explicit Fail(std::string source) : source_(std::move(source)) {}
  [[noreturn]] void operator()(const std::string& field, const std::string& message, const std::string& label = "") const {
    throw EnvironmentError(source_ + ": " + (label.empty() ? "" : label + ": ") + "field '" + field + "': " + message);
  }

 private:
  std::string source_;
};

}  // namespace

Environment::Environment(const devices::Home& home, std::uint64_t seed) : home_(home), rng_(seed) {
  Fail fail(home.source);
  for (const auto& room : home.rooms) rooms_[room.id] = RoomState{};
  const auto& env = home.environment;
  for (auto it = env.begin(); it != env.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    const std::string field = "environment." + key;
    if (key == "outside_temperature_c") {
      if (!v.is_number() || v.get<double>() < -40 || v.get<double>() > 50) fail(field, "expected a number -40..50, got " + v.dump());
      outside_c_ = v.get<double>();
    } else if (key == "start_time") {
      start_of_day_s_ = parse_clock(v);
      if (start_of_day_s_ < 0) fail(field, "expected \"HH:MM\", got " + v.dump());
    } else if (key == "occupancy") {
      if (!v.is_array()) fail(field, "expected an array");
      for (std::size_t i = 0; i < v.size(); ++i) {
        const auto& o = v[i];
        const std::string f = field + "[" + std::to_string(i) + "]";
        if (!o.is_object()) fail(f, "expected an object");
        Occupancy occ;
        if (!o.contains("room") || !o["room"].is_string() || !home.room(o["room"].get<std::string>())) {
          fail(f + ".room", "expected a room id from rooms, got " + o.value("room", nlohmann::json()).dump());
        }
        occ.room = o["room"];
        occ.from_s = parse_clock(o.value("from", nlohmann::json()));
        occ.to_s = parse_clock(o.value("to", nlohmann::json()));
        if (occ.from_s < 0) fail(f + ".from", "expected \"HH:MM\"");
        if (occ.to_s < 0) fail(f + ".to", "expected \"HH:MM\"");
        const auto rate = o.value("motion_per_hour", nlohmann::json());
        if (!rate.is_number() || rate.get<double>() < 0 || rate.get<double>() > 3600) {
          fail(f + ".motion_per_hour", "expected a number 0..3600, got " + rate.dump());
        }
        occ.per_hour = rate.get<double>();
        occupancy_.push_back(occ);
      }
    } else if (key == "events") {
      if (!v.is_array()) fail(field, "expected an array");
      for (std::size_t i = 0; i < v.size(); ++i) {
        const auto& e = v[i];
        const std::string f = field + "[" + std::to_string(i) + "]";
        if (!e.is_object()) fail(f, "expected an object");
        const auto at = e.value("at_s", nlohmann::json());
        if (!at.is_number() || at.get<double>() < 0) fail(f + ".at_s", "expected seconds >= 0, got " + at.dump());
        const auto dev = e.value("device", nlohmann::json());
        if (!dev.is_string() || !home.device(dev.get<std::string>())) fail(f + ".device", "no device " + dev.dump() + " in devices");
        const auto ev = e.value("event", nlohmann::json());
        if (!ev.is_string()) fail(f + ".event", "expected an event name, got " + ev.dump());
        const auto dur = e.value("duration_s", nlohmann::json(0));
        if (!dur.is_number() || dur.get<double>() < 0) fail(f + ".duration_s", "expected seconds >= 0, got " + dur.dump());
        const auto at_ms = static_cast<std::int64_t>(at.get<double>() * 1000);
        events_.push_back({at_ms, dev, ev, static_cast<std::int64_t>(dur.get<double>() * 1000)});
        if (dur.get<double>() > 0) {
          const std::string clear = ev.get<std::string>() == "open" ? "close" : ev.get<std::string>() + "_clear";
          events_.push_back({at_ms + events_.back().duration_ms, dev, clear, 0});
        }
      }
    } else {
      fail(field, "unknown field (known: outside_temperature_c, start_time, occupancy, events)");
    }
  }
  for (std::size_t i = 0; i < home.devices.size(); ++i) {
    const auto& d = home.devices[i];
    const std::string path = "devices[" + std::to_string(i) + "].sim";
    const std::string label = "devices[" + std::to_string(i) + "] (id '" + d.id + "')";
    const Kind kind = d.kind->kind;
    auto device_list = [&](const nlohmann::json& v, const std::string& f, bool rooms) {
      std::vector<std::string> out;
      if (!v.is_array()) fail(f, "expected an array of ids", label);
      for (const auto& x : v) {
        if (!x.is_string() || (rooms ? home.room(x.get<std::string>()) == nullptr : home.device(x.get<std::string>()) == nullptr)) {
          fail(f, std::string("no ") + (rooms ? "room " : "device ") + x.dump(), label);
        }
        out.push_back(x);
      }
      return out;
    };
    for (auto it = d.sim.begin(); it != d.sim.end(); ++it) {
      const std::string f = path + "." + it.key();
      if (it.key() == "heats" && kind == Kind::thermostat) {
        heats_[d.id] = device_list(it.value(), f, true);
      } else if (it.key() == "watts" && (kind == Kind::light || kind == Kind::plug)) {
        if (!it.value().is_number() || it.value().get<double>() < 0) fail(f, "expected watts >= 0", label);
        watts_[d.id] = it.value();
      } else if (it.key() == "measures" && kind == Kind::power_meter) {
        measures_[d.id] = device_list(it.value(), f, false);
      } else if (it.key() == "follows" && kind == Kind::contact) {
        const auto& v = it.value();
        const auto* opener = v.is_string() ? home.device(v.get<std::string>()) : nullptr;
        if (!opener || opener->kind->kind != Kind::window_opener) fail(f, "expected the id of a window_opener, got " + v.dump(), label);
        follows_[d.id] = v;
      } else {
        fail(f, "unknown for kind " + d.kind->name + " (thermostat: heats; light, plug: watts; power_meter: measures; contact: follows)",
             label);
      }
    }
    if (kind == Kind::thermostat && !heats_.count(d.id)) heats_[d.id] = {d.room};
    if ((kind == Kind::light || kind == Kind::plug) && !watts_.count(d.id)) watts_[d.id] = kind == Kind::light ? 10 : 100;
    const auto start = devices::starting_state(d);
    if (kind == Kind::temperature) rooms_[d.room].temperature = start["temperature"];
    if (kind == Kind::humidity) rooms_[d.room].humidity = start["humidity"];
    if (kind == Kind::power_meter) energy_kwh_[d.id] = start["energy"];
    for (auto it = start.begin(); it != start.end(); ++it) last_[d.id + "." + it.key()] = it.value();
  }
  std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) { return a.at_ms < b.at_ms; });
}

std::int64_t Environment::time_of_day_s() const { return (start_of_day_s_ + now_ms_ / 1000) % 86400; }

void Environment::emit(const std::string& device, const std::string& cap, const nlohmann::json& value, const SensorSink& sink) {
  auto& last = last_[device + "." + cap];
  if (last == value) return;
  last = value;
  sink(device, cap, value);
}

void Environment::advance_to(std::int64_t sim_ms, const StateLookup& actuators, const SensorSink& sink) {
  while (now_ms_ + kStepMs <= sim_ms) {
    now_ms_ += kStepMs;
    step(actuators, sink);
  }
}

void Environment::trigger(const std::string& device, const std::string& event, const SensorSink& sink) {
  const auto* d = home_.device(device);
  if (!d) throw EnvironmentError("no device '" + device + "'");
  const Kind kind = d->kind->kind;
  const bool motion = kind == Kind::motion || kind == Kind::camera_motion;
  if (motion && event == "motion") {
    emit(device, "motion", true, sink);
    motion_until_[device] = now_ms_ + 30'000;
  } else if (motion && event == "motion_clear") {
    emit(device, "motion", false, sink);
    motion_until_.erase(device);
  } else if (kind == Kind::smoke && (event == "smoke" || event == "smoke_clear")) {
    emit(device, "smoke", event == "smoke", sink);
  } else if (kind == Kind::co && (event == "co" || event == "co_clear")) {
    emit(device, "co", event == "co", sink);
    emit(device, "co_ppm", event == "co" ? 150.0 : 0.0, sink);
  } else if (kind == Kind::contact && (event == "open" || event == "close")) {
    emit(device, "open", event == "open", sink);
  } else {
    throw EnvironmentError("device '" + device + "' (kind " + d->kind->name + ") has no event '" + event +
                           "' (motion, camera_motion: motion, motion_clear; smoke: smoke, smoke_clear; co: co, co_clear; "
                           "contact: open, close)");
  }
}

void Environment::step(const StateLookup& actuators, const SensorSink& sink) {
  const double dt = kStepMs / 1000.0;
  const std::int64_t tod = time_of_day_s();
  while (!events_.empty() && events_.front().at_ms <= now_ms_) {
    const Event e = events_.front();
    events_.erase(events_.begin());
    trigger(e.device, e.event, sink);
  }
  // Motion: one draw per occupancy window per step, whatever else happens, so the random
  // sequence depends only on the seed and the schedule.
  for (const auto& occ : occupancy_) {
    const bool inside = occ.from_s <= occ.to_s ? (tod >= occ.from_s && tod < occ.to_s) : (tod >= occ.from_s || tod < occ.to_s);
    const bool fired = rng_.chance(occ.per_hour * dt / 3600.0);
    if (!inside || !fired) continue;
    for (const auto& d : home_.devices) {
      if (d.room == occ.room && (d.kind->kind == Kind::motion || d.kind->kind == Kind::camera_motion)) trigger(d.id, "motion", sink);
    }
  }
  for (auto it = motion_until_.begin(); it != motion_until_.end();) {
    if (it->second <= now_ms_) {
      emit(it->first, "motion", false, sink);
      it = motion_until_.erase(it);
    } else {
      ++it;
    }
  }
  // Heat balance per room.
  std::map<std::string, int> open_windows;
  std::map<std::string, double> heating;  // °C per second
  std::map<std::string, int> lights_on;
  for (const auto& d : home_.devices) {
    const Kind kind = d.kind->kind;
    if (kind == Kind::contact && follows_.count(d.id)) {
      const auto* opener = actuators(follows_[d.id]);
      if (opener) emit(d.id, "open", opener->value("position", 0) > 0, sink);
    }
    if (kind == Kind::contact && last_[d.id + ".open"] == true) ++open_windows[d.room];
    if (kind == Kind::window_opener) {
      const auto* s = actuators(d.id);
      if (s && s->value("position", 0) > 0) ++open_windows[d.room];
    }
    if (kind == Kind::light) {
      const auto* s = actuators(d.id);
      if (s && s->value("on", false)) ++lights_on[d.room];
    }
    if (kind == Kind::thermostat) {
      const auto* s = actuators(d.id);
      if (!s) continue;
      const std::string mode = s->value("mode", "off");
      const double setpoint = s->value("setpoint", 20.0);
      const double here = rooms_[d.room].temperature;
      double rate = 0;
      if ((mode == "heat" || mode == "auto") && here < setpoint - 0.2) rate = kHeatingPerSecond;
      if ((mode == "cool" || mode == "auto") && here > setpoint + 0.2) rate = -kHeatingPerSecond;
      for (const auto& room : heats_[d.id]) heating[room] += rate;
    }
  }
  for (auto& [id, room] : rooms_) {
    const double loss_rate = (1.0 + 4.0 * open_windows[id]) / 10800.0;
    room.temperature += ((outside_c_ - room.temperature) * loss_rate + heating[id]) * dt;
    room.humidity = std::clamp(room.humidity + (rng_.unit() - 0.5) * 0.02, 30.0, 70.0);
  }
  const double daylight = std::max(0.0, std::sin(std::numbers::pi * (static_cast<double>(tod) - 6 * 3600) / (12 * 3600))) * 400;
  for (const auto& d : home_.devices) {
    const RoomState& room = rooms_[d.room];
    switch (d.kind->kind) {
      case Kind::temperature: emit(d.id, "temperature", round_decimals(room.temperature, 1), sink); break;
      case Kind::thermostat: emit(d.id, "current_temperature", round_decimals(room.temperature, 1), sink); break;
      case Kind::humidity: emit(d.id, "humidity", std::round(room.humidity * 2) / 2, sink); break;
      case Kind::illuminance: emit(d.id, "illuminance", std::round((daylight + 250.0 * lights_on[d.room]) / 10) * 10, sink); break;
      case Kind::power_meter: {
        double watts = 0;
        for (const auto& load : measures_[d.id]) {
          const auto* s = actuators(load);
          if (!s || !s->value("on", false)) continue;
          const double scale = s->contains("brightness") ? (*s)["brightness"].get<double>() / 255.0 : 1.0;
          watts += watts_[load] * scale;
        }
        watts = std::min(watts, 10000.0);
        energy_kwh_[d.id] += watts * dt / 3600.0 / 1000.0;
        emit(d.id, "power", round_decimals(watts, 1), sink);
        emit(d.id, "energy", round_decimals(energy_kwh_[d.id], 3), sink);
        break;
      }
      default: break;
    }
  }
}

}  // namespace homestead::firmware
