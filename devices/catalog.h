// The device catalog: every kind of device Homestead knows, with typed capabilities (the
// fields of its state) and the commands an actuator accepts. Gateway, transactuation runtime
// and firmware-sim all read this one table, so the wire contract cannot drift between them.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace homestead::devices {

enum class Kind {
  // sensors
  motion,
  contact,
  smoke,
  co,
  temperature,
  humidity,
  illuminance,
  power_meter,
  camera_motion,
  // actuators
  siren,
  strobe,
  light,
  plug,
  lock,
  thermostat,
  window_opener,
  water_valve,
};

enum class ValueType { boolean, number, integer, enumeration };

// One field of a device's state, e.g. light.brightness: integer 0..255.
struct Capability {
  std::string name;
  ValueType type = ValueType::boolean;
  double min = 0;                   // number / integer only
  double max = 0;                   // number / integer only
  std::vector<std::string> values;  // enumeration only
  std::string unit;                 // "°C", "%", "lx", "W", "kWh", "ppm" or empty
};

// A command an actuator accepts. Each argument is named after a capability and typed by it
// (set_brightness takes {"brightness": 0..255}).
struct CommandSpec {
  std::string name;
  std::vector<std::string> args;
};

// Which Home Assistant MQTT component shows the device, and with which device_class.
struct HomeAssistantMapping {
  std::string component;     // binary_sensor, sensor, light, switch, lock, climate, cover, valve, siren
  std::string device_class;  // empty when the component has none that fits
  std::string primary;       // the capability HA's state_topic value_template extracts
};

struct KindInfo {
  Kind kind;
  std::string name;  // wire name, e.g. "window_opener"
  bool actuator = false;
  std::vector<Capability> capabilities;
  std::vector<CommandSpec> commands;  // empty for sensors
  HomeAssistantMapping home_assistant;
  // Whether the firmware keeps its recent cmd_id memory across a reboot. Motorised and
  // safety-relevant devices (locks, thermostats, valves, window openers) log operations in
  // non-volatile memory; cheap bulbs, plugs and sirens keep it in RAM and lose it.
  bool persists_cmd_ids = false;

  const Capability* capability(std::string_view name) const;
  const CommandSpec* command(std::string_view name) const;
};

// The reserved command every device answers: {"command": "status", "args": {"cmd_id": X}}
// asks what became of command X (see payloads.h, StatusOf).
inline constexpr std::string_view kStatusCommand = "status";

std::span<const KindInfo> all_kinds();
const KindInfo& kind_info(Kind kind);
// nullptr for an unknown name.
const KindInfo* find_kind(std::string_view name);
std::string_view kind_name(Kind kind);
// "motion, contact, ..." for error messages.
std::string kind_names();
std::string_view value_type_name(ValueType type);

}  // namespace homestead::devices
