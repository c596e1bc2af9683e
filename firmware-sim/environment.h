// A small physical environment, deterministic from a seed, that drives the sensors of a
// home. Pure: the caller advances simulated time, passes the actuators' current states and
// receives sensor readings.
//
// Home file "environment" section (all optional):
//   {"outside_temperature_c": 6.0,
//    "start_time": "06:00",                       simulated time of day at start
//    "occupancy": [{"room": "hall", "from": "06:30", "to": "09:00", "motion_per_hour": 12}],
//    "events": [{"at_s": 600, "device": "kitchen_smoke", "event": "smoke", "duration_s": 120}]}
// Per-device "sim" section:
//   thermostat:      {"heats": ["living", "hall"]}     rooms it heats/cools (default: its own)
//   light, plug:     {"watts": 60}                     load when on (light scales with brightness)
//   power_meter:     {"measures": ["kitchen_plug"]}    devices whose load it sums
//   contact:         {"follows": "bedroom_window_opener"}  open while that opener's position > 0
//
// Model (one fixed step per simulated second, so a seed replays exactly):
//  - room temperature relaxes toward the outside with a 3 h time constant, 4x faster per open
//    window in the room; a heating thermostat adds 8 °C/h to its rooms while its room is
//    below the setpoint (cooling mirrors it); temperature sensors and the thermostat's
//    current_temperature report it rounded to 0.1 °C;
//  - occupancy windows fire motion (rooms' motion and camera_motion sensors) as a Poisson
//    process; motion clears 30 s after the last event;
//  - illuminance: daylight curve (0 at night, 400 lx at noon) + 250 lx per light on in the room;
//  - humidity: slow seeded random walk within 30..70 %;
//  - power meters: sum of watts of measured devices that are on; energy integrates it;
//  - scheduled or triggered events: smoke, co (co_ppm 150), motion, open/close, *_clear.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/sim/rng.h"
#include "devices/home.h"

namespace homestead::firmware {

class EnvironmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// device id, capability, value
using SensorSink = std::function<void(const std::string&, const std::string&, const nlohmann::json&)>;
// Current state of a device by id; nullptr if unknown. Valid until the next sink call.
using StateLookup = std::function<const nlohmann::json*(const std::string&)>;

class Environment {
 public:
  static constexpr std::int64_t kStepMs = 1000;

  // Validates the environment and per-device sim sections; throws EnvironmentError naming
  // the file and the field.
  Environment(const devices::Home& home, std::uint64_t seed);

  // Advances simulated time to `sim_ms` (milliseconds since the simulation started) in
  // fixed steps, emitting every sensor value that changed.
  void advance_to(std::int64_t sim_ms, const StateLookup& actuators, const SensorSink& sink);
  // Triggers an event on a device now: "motion", "smoke", "co", "open", "close",
  // "smoke_clear", "co_clear", "motion_clear". Throws EnvironmentError for a bad pair.
  void trigger(const std::string& device, const std::string& event, const SensorSink& sink);

  std::int64_t sim_ms() const { return now_ms_; }
  double room_temperature(const std::string& room) const { return rooms_.at(room).temperature; }
  // Seconds since midnight in simulated time.
  std::int64_t time_of_day_s() const;

 private:
  struct RoomState {
    double temperature = 20.0;
    double humidity = 45.0;
  };
  struct Occupancy {
    std::string room;
    std::int64_t from_s, to_s;
    double per_hour;
  };
  struct Event {
    std::int64_t at_ms;
    std::string device;
    std::string event;
    std::int64_t duration_ms;
  };
  void step(const StateLookup& actuators, const SensorSink& sink);
  void emit(const std::string& device, const std::string& cap, const nlohmann::json& value, const SensorSink& sink);

  const devices::Home& home_;
  sim::Rng rng_;
  std::int64_t now_ms_ = 0;
  std::int64_t start_of_day_s_ = 6 * 3600;
  double outside_c_ = 6.0;
  std::map<std::string, RoomState> rooms_;
  std::vector<Occupancy> occupancy_;
  std::vector<Event> events_;  // sorted by at_ms; includes the automatic clears
  std::map<std::string, std::int64_t> motion_until_;  // device -> sim ms its motion clears
  std::map<std::string, std::vector<std::string>> heats_;      // thermostat -> rooms
  std::map<std::string, double> watts_;                        // light/plug -> W
  std::map<std::string, std::vector<std::string>> measures_;   // power meter -> devices
  std::map<std::string, std::string> follows_;                 // contact -> opener
  std::map<std::string, double> energy_kwh_;
  std::map<std::string, nlohmann::json> last_;  // "device.cap" -> value last emitted
};

}  // namespace homestead::firmware
