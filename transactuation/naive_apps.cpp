#include "transactuation/naive_apps.h"

#include <vector>

namespace homestead::transactuation::naive {

void send_with_retries(NaiveHome& home, const std::string& device, const std::string& command, const Json& args,
                       Time timeout, int attempts, std::function<void(bool ok)> done) {
  home.send(device, command, args, timeout, [&home, device, command, args, timeout, attempts, done](bool ok) {
    if (ok || attempts <= 1) {
      done(ok);
      return;
    }
    send_with_retries(home, device, command, args, timeout, attempts - 1, done);
  });
}

bool fresh(const NaiveHome& home, const SensorRef& sensor, Time freshness) {
  const Reading* reading = home.latest(sensor);
  return reading != nullptr && !reading->value.is_null() && home.now() - reading->effective_time() <= freshness;
}

// BEGIN-APP intrusion_alarm
void IntrusionAlarm::on_reading(const Reading& reading) {
  bool is_motion = false;
  for (const auto& sensor : config_.motion) is_motion = is_motion || sensor == reading.ref();
  if (!is_motion || reading.value != true || busy_) return;
  if (home_.state("armed") != true || home_.state("alarmActive") == true) return;
  bool fresh_motion = false;
  for (const auto& sensor : config_.motion) {
    if (fresh(home_, sensor, config_.freshness) && home_.latest(sensor)->value == true) fresh_motion = true;
  }
  if (!fresh_motion) return;
  busy_ = true;
  struct Progress {
    int pending = 2;
    bool strobe_ok = false;
    bool siren_ok = false;
  };
  auto progress = std::make_shared<Progress>();
  auto finish = [this, progress] {
    if (--progress->pending > 0) return;
    if (progress->strobe_ok) home_.set_state("alarmActive", true);  // only with an acked strobe
    busy_ = false;
  };
  send_with_retries(home_, config_.strobe, "on", Json::object(), 2 * kSecond, 3, [progress, finish](bool ok) {
    progress->strobe_ok = ok;
    finish();
  });
  send_with_retries(home_, config_.siren, "on", Json::object(), 2 * kSecond, 3, [progress, finish](bool ok) {
    progress->siren_ok = ok;
    finish();
  });
}
// END-APP intrusion_alarm

// BEGIN-APP fire_safety
void FireSafety::on_reading(const Reading& reading) {
  bool is_detector = false;
  for (const auto& sensor : config_.detectors) is_detector = is_detector || sensor == reading.ref();
  if (!is_detector || reading.value != true || busy_) return;
  bool alarming = false;
  for (const auto& sensor : config_.detectors) {
    if (fresh(home_, sensor, config_.freshness) && home_.latest(sensor)->value == true) alarming = true;
  }
  if (!alarming) return;
  busy_ = true;
  struct Step {
    std::string device;
    std::string command;
    bool siren;
  };
  std::vector<Step> steps;
  for (const auto& siren : config_.sirens) steps.push_back({siren, "on", true});
  for (const auto& lock : config_.door_locks) steps.push_back({lock, "unlock", false});
  if (!config_.gas_valve.empty()) steps.push_back({config_.gas_valve, "close", false});
  struct Progress {
    std::size_t pending = 0;
    bool any_siren = false;
  };
  auto progress = std::make_shared<Progress>();
  progress->pending = steps.size();
  for (const auto& step : steps) {
    send_with_retries(home_, step.device, step.command, Json::object(), kSecond, 6,
                      [this, progress, siren = step.siren](bool ok) {
                        if (ok && siren) progress->any_siren = true;
                        if (--progress->pending > 0) return;
                        if (progress->any_siren) home_.set_state("fireAlarm", true);
                        busy_ = false;
                      });
  }
}
// END-APP fire_safety

// BEGIN-APP energy_saver
void EnergySaver::on_tick() {
  if (busy_) return;
  bool occupied = false;
  for (const auto& sensor : config_.occupancy) {
    if (!fresh(home_, sensor, config_.freshness)) return;  // never act on a stale sensor
    if (home_.latest(sensor)->value == true) occupied = true;
  }
  const Json last = home_.state("lastOccupied");
  if (occupied || last.is_null()) {
    home_.set_state("lastOccupied", home_.now());
    home_.set_state("ecoMode", false);
    return;
  }
  if (home_.now() - last.get<Time>() < config_.idle || home_.state("ecoMode") == true) return;
  busy_ = true;
  struct Progress {
    std::size_t pending = 0;
    bool all_ok = true;
  };
  auto progress = std::make_shared<Progress>();
  progress->pending = config_.lights.size() + 1;
  auto done = [this, progress](bool ok) {
    progress->all_ok = progress->all_ok && ok;
    if (--progress->pending > 0) return;
    if (progress->all_ok) home_.set_state("ecoMode", true);
    busy_ = false;
  };
  for (const auto& light : config_.lights) send_with_retries(home_, light, "off", Json::object(), 2 * kSecond, 3, done);
  send_with_retries(home_, config_.thermostat, "set_setpoint", Json{{"setpoint", config_.eco_setpoint}}, 2 * kSecond, 3, done);
}
// END-APP energy_saver

// BEGIN-APP climate_guard
void ClimateGuard::on_reading(const Reading& reading) {
  bool is_window = false;
  for (const auto& sensor : config_.windows) is_window = is_window || sensor == reading.ref();
  if (!is_window || reading.value != true || busy_) return;
  bool open = false;
  for (const auto& sensor : config_.windows) {
    if (fresh(home_, sensor, config_.freshness) && home_.latest(sensor)->value == true) open = true;
  }
  if (!open) return;
  busy_ = true;
  send_with_retries(home_, config_.hvac, "set_mode", Json{{"mode", "off"}}, 2 * kSecond, 4, [this](bool ok) {
    if (ok) home_.set_state("hvacBlocked", true);
    busy_ = false;
  });
}
// END-APP climate_guard

// BEGIN-APP night_auto_lock
void NightAutoLock::on_tick() {
  if (busy_ || !config_.window.contains(home_.now(), utc_offset_)) return;
  std::vector<std::string> to_lock;
  for (std::size_t i = 0; i < config_.contacts.size() && i < config_.locks.size(); ++i) {
    if (!fresh(home_, config_.contacts[i], config_.freshness)) return;
    if (home_.latest(config_.contacts[i])->value == false) to_lock.push_back(config_.locks[i]);
  }
  if (to_lock.empty()) return;
  busy_ = true;
  struct Progress {
    std::size_t pending = 0;
    bool all_ok = true;
  };
  auto progress = std::make_shared<Progress>();
  progress->pending = to_lock.size();
  const bool every_door = to_lock.size() == config_.locks.size();
  for (const auto& lock : to_lock) {
    send_with_retries(home_, lock, "lock", Json::object(), 3 * kSecond, 4, [this, progress, every_door](bool ok) {
      progress->all_ok = progress->all_ok && ok;
      if (--progress->pending > 0) return;
      if (progress->all_ok && every_door) home_.set_state("nightLocked", true);
      busy_ = false;
    });
  }
}
// END-APP night_auto_lock

}  // namespace homestead::transactuation::naive
