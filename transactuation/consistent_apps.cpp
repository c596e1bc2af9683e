#include "transactuation/consistent_apps.h"

#include <algorithm>
#include <memory>

namespace homestead::transactuation::consistent {

// BEGIN-APP consistent_plumbing
void DeviceLocks::acquire(std::vector<std::string> devices, std::function<void()> granted) {
  waiting_.push_back({std::move(devices), std::move(granted)});
  grant();
}

void DeviceLocks::release(const std::vector<std::string>& devices) {
  for (const auto& d : devices) held_.erase(d);
  grant();
}

void DeviceLocks::grant() {
  // A waiter goes when none of its devices is held or wanted by an earlier waiter (FIFO per
  // device, so nobody starves and two runs never take devices in crossing orders).
  std::set<std::string> wanted_earlier;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    const bool free = std::none_of(it->devices.begin(), it->devices.end(), [&](const std::string& d) {
      return held_.count(d) > 0 || wanted_earlier.count(d) > 0;
    });
    if (!free) {
      wanted_earlier.insert(it->devices.begin(), it->devices.end());
      ++it;
      continue;
    }
    held_.insert(it->devices.begin(), it->devices.end());
    auto granted = std::move(it->granted);
    waiting_.erase(it);
    granted();  // may acquire or release: start the scan over
    grant();
    return;
  }
}

namespace {

std::vector<std::string> devices_of(const std::vector<Step>& steps) {
  std::vector<std::string> devices;
  for (const auto& s : steps) devices.push_back(s.device);
  return devices;
}

struct Run {
  std::vector<bool> ok;
  std::size_t pending = 0;
};

// Resolves every step with `attempt(i, attempts, done)`, then finishes the run.
void resolve_all(ConsistentHome& home, DeviceLocks& locks, const std::string& app, const std::vector<Step>& steps,
                 const std::function<void(std::size_t, std::function<void(bool)>)>& attempt, StepsDone done) {
  auto run = std::make_shared<Run>();
  run->ok.assign(steps.size(), false);
  run->pending = steps.size();
  auto finish = [&home, &locks, app, devices = devices_of(steps), run, done] {
    done(run->ok);  // state writes first: a crash before the erase re-queries and writes again
    home.erase_note(app);
    locks.release(devices);
  };
  if (steps.empty()) return finish();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    attempt(i, [run, i, finish](bool ok) {
      run->ok[i] = ok;
      if (--run->pending == 0) finish();
    });
  }
}

void send_retrying(ConsistentHome& home, Step step, std::string cmd_id, Time timeout, int attempts,
                   std::function<void(bool)> done) {
  home.send_once(step.device, step.command, step.args, cmd_id, timeout,
                 [&home, step, cmd_id, timeout, attempts, done](bool ok) {
                   if (ok || attempts <= 1) return done(ok);
                   send_retrying(home, step, cmd_id, timeout, attempts - 1, done);  // same cmd_id
                 });
}

void query_retrying(ConsistentHome& home, const std::string& device, const std::string& cmd_id, Time timeout,
                    int attempts, std::function<void(bool)> done) {
  home.query(device, cmd_id, timeout, [&home, device, cmd_id, timeout, attempts, done](auto status) {
    if (status || attempts <= 1) return done(status == CommandStatus::ok);
    query_retrying(home, device, cmd_id, timeout, attempts - 1, done);
  });
}

}  // namespace

void run_steps(ConsistentHome& home, DeviceLocks& locks, const std::string& app, std::vector<Step> steps,
               Time timeout, int attempts, StepsDone done) {
  Json note = {{"steps", Json::array()}};
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    static std::uint64_t runs = 0;  // time + a counter: unique across runs and restarts
    ids.push_back(app + "-" + std::to_string(home.now()) + "-" + std::to_string(++runs));
    note["steps"].push_back({{"device", steps[i].device}, {"command", steps[i].command}, {"cmd_id", ids[i]}});
  }
  home.put_note(app, note);  // durable before anything leaves
  resolve_all(home, locks, app, steps, [&home, steps, ids, timeout, attempts](std::size_t i, auto done) {
    send_retrying(home, steps[i], ids[i], timeout, attempts, done);
  }, std::move(done));
}

bool recover_steps(ConsistentHome& home, DeviceLocks& locks, const std::string& app, int attempts, StepsDone done) {
  const auto note = home.note(app);
  if (!note) return false;
  std::vector<Step> steps;
  std::vector<std::string> ids;
  for (const auto& s : (*note)["steps"]) {
    steps.push_back({s["device"], s["command"]});
    ids.push_back(s["cmd_id"]);
  }
  locks.acquire(devices_of(steps), [&home, &locks, app, steps, ids, attempts, done] {
    resolve_all(home, locks, app, steps, [&home, steps, ids, attempts](std::size_t i, auto step_done) {
      query_retrying(home, steps[i].device, ids[i], kSecond, attempts, step_done);  // never re-sent
    }, done);
  });
  return true;
}
// END-APP consistent_plumbing

// BEGIN-APP intrusion_alarm
void IntrusionAlarm::on_reading(const Reading& reading) {
  const auto& motion = config_.motion;
  if (reading.value != true || std::find(motion.begin(), motion.end(), reading.ref()) == motion.end()) return;
  const std::vector<std::string> devices{config_.strobe, config_.siren};
  locks_.acquire(devices, [this, devices] {
    bool fresh_motion = false;
    for (const auto& sensor : config_.motion) {
      if (naive::fresh(home_, sensor, config_.freshness) && home_.latest(sensor)->value == true) fresh_motion = true;
    }
    if (!fresh_motion || home_.state("armed") != true || home_.state("alarmActive") == true) {
      return locks_.release(devices);
    }
    run_steps(home_, locks_, "intrusion_alarm", {{config_.strobe, "on"}, {config_.siren, "on"}}, 2 * kSecond, 3,
              [this](const std::vector<bool>& ok) { finish(ok); });
  });
}

void IntrusionAlarm::recover() {
  recover_steps(home_, locks_, "intrusion_alarm", 3, [this](const std::vector<bool>& ok) { finish(ok); });
}

void IntrusionAlarm::finish(const std::vector<bool>& ok) {
  if (ok.at(0)) home_.set_state("alarmActive", true);  // only with an acked strobe
}
// END-APP intrusion_alarm

// BEGIN-APP fire_safety
void FireSafety::on_reading(const Reading& reading) {
  const auto& detectors = config_.detectors;
  if (reading.value != true || std::find(detectors.begin(), detectors.end(), reading.ref()) == detectors.end()) return;
  std::vector<std::string> devices;
  for (const auto& step : steps()) devices.push_back(step.device);
  locks_.acquire(devices, [this, devices] {
    bool alarming = false;
    for (const auto& sensor : config_.detectors) {
      if (naive::fresh(home_, sensor, config_.freshness) && home_.latest(sensor)->value == true) alarming = true;
    }
    if (!alarming || home_.state("fireAlarm") == true) return locks_.release(devices);
    run_steps(home_, locks_, "fire_safety", steps(), kSecond, 6, [this](const std::vector<bool>& ok) { finish(ok); });
  });
}

std::vector<Step> FireSafety::steps() const {
  std::vector<Step> steps;
  for (const auto& siren : config_.sirens) steps.push_back({siren, "on"});
  for (const auto& lock : config_.door_locks) steps.push_back({lock, "unlock"});
  if (!config_.gas_valve.empty()) steps.push_back({config_.gas_valve, "close"});
  return steps;
}

void FireSafety::recover() {
  recover_steps(home_, locks_, "fire_safety", 6, [this](const std::vector<bool>& ok) { finish(ok); });
}

void FireSafety::finish(const std::vector<bool>& ok) {
  // As much as possible went out (partial is fine); the state claims only an acked siren.
  for (std::size_t i = 0; i < config_.sirens.size() && i < ok.size(); ++i) {
    if (ok[i]) return home_.set_state("fireAlarm", true);
  }
}
// END-APP fire_safety

// BEGIN-APP climate_guard
void ClimateGuard::on_reading(const Reading& reading) {
  const auto& windows = config_.windows;
  if (reading.value != true || std::find(windows.begin(), windows.end(), reading.ref()) == windows.end()) return;
  locks_.acquire({config_.hvac}, [this] {
    bool open = false;
    for (const auto& sensor : config_.windows) {
      if (naive::fresh(home_, sensor, config_.freshness) && home_.latest(sensor)->value == true) open = true;
    }
    if (!open || home_.state("hvacBlocked") == true) return locks_.release({config_.hvac});
    run_steps(home_, locks_, "climate_guard", {{config_.hvac, "set_mode", Json{{"mode", "off"}}}}, 2 * kSecond, 4,
              [this](const std::vector<bool>& ok) { finish(ok); });
  });
}

void ClimateGuard::recover() {
  recover_steps(home_, locks_, "climate_guard", 4, [this](const std::vector<bool>& ok) { finish(ok); });
}

void ClimateGuard::finish(const std::vector<bool>& ok) {
  if (ok.at(0)) home_.set_state("hvacBlocked", true);
}
// END-APP climate_guard

// BEGIN-APP energy_saver
void EnergySaver::on_tick() {
  std::vector<std::string> devices = config_.lights;
  devices.push_back(config_.thermostat);
  locks_.acquire(devices, [this, devices] {
    bool occupied = false;
    for (const auto& sensor : config_.occupancy) {
      if (!naive::fresh(home_, sensor, config_.freshness)) return locks_.release(devices);  // ALL must be fresh
      if (home_.latest(sensor)->value == true) occupied = true;
    }
    const Json last = home_.state("lastOccupied");
    if (occupied || last.is_null()) {
      home_.set_state("lastOccupied", home_.now());
      home_.set_state("ecoMode", false);
      return locks_.release(devices);
    }
    if (home_.now() - last.get<Time>() < config_.idle || home_.state("ecoMode") == true) return locks_.release(devices);
    std::vector<Step> steps;
    for (const auto& light : config_.lights) steps.push_back({light, "off"});
    steps.push_back({config_.thermostat, "set_setpoint", Json{{"setpoint", config_.eco_setpoint}}});
    run_steps(home_, locks_, "energy_saver", steps, 2 * kSecond, 3, [this](const std::vector<bool>& ok) { finish(ok); });
  });
}

void EnergySaver::recover() {
  recover_steps(home_, locks_, "energy_saver", 3, [this](const std::vector<bool>& ok) { finish(ok); });
}

void EnergySaver::finish(const std::vector<bool>& ok) {
  if (std::all_of(ok.begin(), ok.end(), [](bool b) { return b; })) home_.set_state("ecoMode", true);
}
// END-APP energy_saver

// BEGIN-APP night_auto_lock
void NightAutoLock::on_tick() {
  if (!config_.window.contains(home_.now(), utc_offset_)) return;
  locks_.acquire(config_.locks, [this] {
    std::vector<Step> steps;
    for (std::size_t i = 0; i < config_.contacts.size() && i < config_.locks.size(); ++i) {
      if (!naive::fresh(home_, config_.contacts[i], config_.freshness)) return locks_.release(config_.locks);
      if (home_.latest(config_.contacts[i])->value == false) steps.push_back({config_.locks[i], "lock"});
    }
    std::vector<std::string> unused;
    for (const auto& lock : config_.locks) {
      if (std::none_of(steps.begin(), steps.end(), [&](const Step& s) { return s.device == lock; })) unused.push_back(lock);
    }
    locks_.release(unused);  // run_steps releases the ones it commands
    if (steps.empty()) return;
    run_steps(home_, locks_, "night_auto_lock", steps, 3 * kSecond, 4, [this](const std::vector<bool>& ok) { finish(ok); });
  });
}

void NightAutoLock::recover() {
  recover_steps(home_, locks_, "night_auto_lock", 4, [this](const std::vector<bool>& ok) { finish(ok); });
}

void NightAutoLock::finish(const std::vector<bool>& ok) {
  // Only when every door was to be locked and every lock acked (ALL, no partial claim).
  if (ok.size() == config_.locks.size() && std::all_of(ok.begin(), ok.end(), [](bool b) { return b; })) {
    home_.set_state("nightLocked", true);
  }
}
// END-APP night_auto_lock

}  // namespace homestead::transactuation::consistent
