// The built-in apps, in the four categories of the Relacs paper (security, safety, energy,
// convenience), written as transactuations. naive_apps.h has each one again hand-written
// "consistent without transactuations", for the line-count and latency comparison.
// Device commands use plain names ("on", "off", "lock", "unlock", "close", "set_mode"); the
// gateway maps them onto the device catalog's payloads.
#pragma once

#include <string>
#include <vector>

#include "transactuation/app.h"

namespace homestead::transactuation::apps {

// Security. Motion while armed -> strobe + siren; state.alarmActive is written only with an
// acked strobe (the seed's example: never "alarm active" while the strobe command was lost).
struct IntrusionAlarmConfig {
  std::vector<SensorRef> motion;  // attribute true = motion
  std::string strobe;
  std::string siren;
  Time freshness = 5 * kSecond;
};
AppDefinition intrusion_alarm(const IntrusionAlarmConfig& config);

// Safety. Any one fresh smoke/CO sensor alarming -> sirens on, doors unlocked, gas valve
// closed, as much of it as possible (COMMIT_PARTIAL, many retries); state.fireAlarm only
// with at least one acked siren.
struct FireSafetyConfig {
  std::vector<SensorRef> detectors;  // attribute true = alarm
  std::vector<std::string> sirens;
  std::vector<std::string> door_locks;
  std::string gas_valve;  // optional: empty = the home has none
  Time freshness = 30 * kSecond;
};
AppDefinition fire_safety(const FireSafetyConfig& config);

// Energy. Checked periodically: no occupancy for `idle` -> lights off, thermostat eco.
// Every occupancy sensor must be fresh: a stale sensor must not switch a room dark.
struct EnergySaverConfig {
  std::vector<SensorRef> occupancy;  // attribute true = occupied
  std::vector<std::string> lights;
  std::string thermostat;
  Time idle = 30 * 60 * kSecond;
  Time check_every = 60 * kSecond;
  Time freshness = 2 * 60 * kSecond;
  // Eco is a setpoint, not a mode: the catalog's thermostat modes are off/heat/cool/auto.
  double eco_setpoint = 17.0;
};
AppDefinition energy_saver(const EnergySaverConfig& config);

// Comfort/safety. A window opens -> HVAC off (state.hvacBlocked with the acked command).
struct ClimateGuardConfig {
  std::vector<SensorRef> windows;  // attribute true = open
  std::string hvac;
  Time freshness = 10 * kSecond;
};
AppDefinition climate_guard(const ClimateGuardConfig& config);
// SafeHome's routine: close every window, then (only if all closed) start cooling.
AppDefinition cool_down(const std::vector<std::string>& window_actuators, const std::string& hvac);

// Convenience/security. Between 22:00 and 06:00, lock every door whose contact reads closed;
// all contacts must be fresh; state.nightLocked only when every lock acked.
struct NightAutoLockConfig {
  std::vector<SensorRef> contacts;  // attribute true = open; contacts[i] belongs to locks[i]
  std::vector<std::string> locks;
  TimeWindow window{22 * 3600, 6 * 3600};
  Time check_every = 10 * 60 * kSecond;
  Time freshness = 5 * 60 * kSecond;
};
AppDefinition night_auto_lock(const NightAutoLockConfig& config);

}  // namespace homestead::transactuation::apps
