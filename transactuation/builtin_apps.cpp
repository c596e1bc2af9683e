#include "transactuation/builtin_apps.h"

namespace homestead::transactuation::apps {

namespace {

bool any_true(const LogicInput& in) {
  for (const auto& [ref, reading] : in.readings) {
    if (reading.value == true) return true;
  }
  return false;
}

}  // namespace

// BEGIN-APP intrusion_alarm
AppDefinition intrusion_alarm(const IntrusionAlarmConfig& c) {
  AppBuilder app("intrusion_alarm");
  for (const auto& sensor : c.motion) app.on_sensor(sensor, [](const Reading& r) { return r.value == true; });
  return app.sense(c.motion).fresh_within(c.freshness).require(Quorum::any())
      .reads_state({"armed"}).writes_state({"alarmActive"}).actuates({c.strobe, c.siren})
      .logic([c](const LogicInput& in) {
        if (in.state_value("armed") != true || in.state_value("alarmActive") == true || !any_true(in)) {
          return LogicResult::nothing("not armed, already active or no fresh motion");
        }
        LogicResult result;
        result.actuations.push_back({c.strobe, "on", {}, Compensation{"off"}, {{"alarmActive", true}}});
        result.actuations.push_back({c.siren, "on", {}, Compensation{"off"}, {}});
        return result;
      })
      .actuating(Quorum::any()).actuation_timeout(2 * kSecond, 2).build();
}
// END-APP intrusion_alarm

// BEGIN-APP fire_safety
AppDefinition fire_safety(const FireSafetyConfig& c) {
  AppBuilder app("fire_safety");
  for (const auto& sensor : c.detectors) app.on_sensor(sensor, [](const Reading& r) { return r.value == true; });
  std::vector<std::string> devices = c.sirens;
  devices.insert(devices.end(), c.door_locks.begin(), c.door_locks.end());
  if (!c.gas_valve.empty()) devices.push_back(c.gas_valve);
  return app.sense(c.detectors).fresh_within(c.freshness).require(Quorum::any())
      .writes_state({"fireAlarm"}).actuates(devices)
      .logic([c](const LogicInput& in) {
        if (!any_true(in)) return LogicResult::nothing("no fresh detector alarming");
        LogicResult result;
        for (const auto& siren : c.sirens) result.actuations.push_back({siren, "on", {}, {}, {{"fireAlarm", true}}});
        for (const auto& lock : c.door_locks) result.actuations.push_back({lock, "unlock", {}, {}, {}});
        if (!c.gas_valve.empty()) result.actuations.push_back({c.gas_valve, "close", {}, {}, {}});
        return result;
      })
      .actuating(Quorum::all()).on_failure(OnFailure::commit_partial, false)
      .actuation_timeout(1 * kSecond, 5).build();
}
// END-APP fire_safety

// BEGIN-APP energy_saver
AppDefinition energy_saver(const EnergySaverConfig& c) {
  std::vector<std::string> devices = c.lights;
  devices.push_back(c.thermostat);
  return AppBuilder("energy_saver").every(c.check_every)
      .sense(c.occupancy).fresh_within(c.freshness).require(Quorum::all())
      .reads_state({"lastOccupied"}).writes_state({"lastOccupied", "ecoMode"}).actuates(devices)
      .logic([c](const LogicInput& in) {
        LogicResult result;
        const Json& last = in.state_value("lastOccupied");
        if (any_true(in) || last.is_null()) {
          result.state_writes = {{"lastOccupied", in.now}, {"ecoMode", false}};
          return result;
        }
        if (in.now - last.get<Time>() < c.idle || in.state_value("ecoMode") == true) return LogicResult::nothing();
        for (const auto& light : c.lights) result.actuations.push_back({light, "off", {}, {}, {}});
        result.actuations.push_back({c.thermostat, "set_setpoint", {{"setpoint", c.eco_setpoint}}, {}, {}});
        result.state_writes["ecoMode"] = true;
        return result;
      })
      .actuating(Quorum::all()).on_failure(OnFailure::abort, false).build();
}
// END-APP energy_saver

// BEGIN-APP climate_guard
AppDefinition climate_guard(const ClimateGuardConfig& c) {
  AppBuilder app("climate_guard");
  for (const auto& sensor : c.windows) app.on_sensor(sensor, [](const Reading& r) { return r.value == true; });
  return app.sense(c.windows).fresh_within(c.freshness).require(Quorum::any())
      .writes_state({"hvacBlocked"}).actuates({c.hvac})
      .logic([c](const LogicInput& in) {
        if (!any_true(in)) return LogicResult::nothing("no fresh reading shows an open window");
        // The catalog's thermostat has no "off" command: off is a mode.
        return LogicResult{{{c.hvac, "set_mode", {{"mode", "off"}}, {}, {{"hvacBlocked", true}}}}, {}, ""};
      })
      .actuating(Quorum::all()).actuation_timeout(2 * kSecond, 3).build();
}
// END-APP climate_guard

// SafeHome's cool-down routine (no hand-written twin, so not in the line-count table).
AppDefinition cool_down(const std::vector<std::string>& window_actuators, const std::string& hvac) {
  std::vector<std::string> devices = window_actuators;
  devices.push_back(hvac);
  return AppBuilder("cool_down").actuates(devices).writes_state({"cooling", "hvacBlocked"}).sequential()
      .logic([window_actuators, hvac](const LogicInput&) {
        LogicResult result;
        for (const auto& window : window_actuators) result.actuations.push_back({window, "close", {}, {}, {}});
        result.actuations.push_back({hvac, "set_mode", {{"mode", "cool"}}, {}, {{"cooling", true}}});
        result.state_writes["hvacBlocked"] = false;
        return result;
      })
      .actuating(Quorum::all()).on_failure(OnFailure::abort, false).build();
}

// BEGIN-APP night_auto_lock
AppDefinition night_auto_lock(const NightAutoLockConfig& c) {
  return AppBuilder("night_auto_lock").every(c.check_every).during(c.window)
      .sense(c.contacts).fresh_within(c.freshness).require(Quorum::all())
      .writes_state({"nightLocked"}).actuates(c.locks)
      .logic([c](const LogicInput& in) {
        LogicResult result;
        for (std::size_t i = 0; i < c.contacts.size() && i < c.locks.size(); ++i) {
          const Reading* contact = in.reading(c.contacts[i].device, c.contacts[i].attribute);
          if (contact != nullptr && contact->value == false) result.actuations.push_back({c.locks[i], "lock", {}, {}, {}});
        }
        if (result.actuations.size() == c.locks.size()) result.state_writes["nightLocked"] = true;
        return result;
      })
      .actuating(Quorum::all()).on_failure(OnFailure::abort, false).actuation_timeout(3 * kSecond, 3).build();
}
// END-APP night_auto_lock

}  // namespace homestead::transactuation::apps
