#include "devices/catalog.h"

#include <array>

namespace homestead::devices {
namespace {

Capability boolean(std::string name) { return {std::move(name), ValueType::boolean, 0, 0, {}, ""}; }
Capability number(std::string name, double min, double max, std::string unit) {
  return {std::move(name), ValueType::number, min, max, {}, std::move(unit)};
}
Capability integer(std::string name, double min, double max, std::string unit = "") {
  return {std::move(name), ValueType::integer, min, max, {}, std::move(unit)};
}
Capability enumeration(std::string name, std::vector<std::string> values) {
  return {std::move(name), ValueType::enumeration, 0, 0, std::move(values), ""};
}

std::vector<CommandSpec> on_off() { return {{"turn_on", {}}, {"turn_off", {}}}; }

std::vector<KindInfo> build_catalog() {
  std::vector<KindInfo> kinds;
  auto sensor = [&](Kind kind, std::string name, std::vector<Capability> caps, HomeAssistantMapping ha) {
    kinds.push_back({kind, std::move(name), false, std::move(caps), {}, std::move(ha), false});
  };
  auto actuator = [&](Kind kind, std::string name, std::vector<Capability> caps, std::vector<CommandSpec> commands,
                      HomeAssistantMapping ha, bool persists) {
    kinds.push_back({kind, std::move(name), true, std::move(caps), std::move(commands), std::move(ha), persists});
  };
  sensor(Kind::motion, "motion", {boolean("motion")}, {"binary_sensor", "motion", "motion"});
  sensor(Kind::contact, "contact", {boolean("open")}, {"binary_sensor", "opening", "open"});
  sensor(Kind::smoke, "smoke", {boolean("smoke")}, {"binary_sensor", "smoke", "smoke"});
  sensor(Kind::co, "co", {boolean("co"), number("co_ppm", 0, 1000, "ppm")},
         {"binary_sensor", "carbon_monoxide", "co"});
  sensor(Kind::temperature, "temperature", {number("temperature", -40, 85, "°C")},
         {"sensor", "temperature", "temperature"});
  sensor(Kind::humidity, "humidity", {number("humidity", 0, 100, "%")}, {"sensor", "humidity", "humidity"});
  sensor(Kind::illuminance, "illuminance", {number("illuminance", 0, 100000, "lx")},
         {"sensor", "illuminance", "illuminance"});
  sensor(Kind::power_meter, "power_meter", {number("power", 0, 10000, "W"), number("energy", 0, 1e9, "kWh")},
         {"sensor", "power", "power"});
  sensor(Kind::camera_motion, "camera_motion", {boolean("motion")}, {"binary_sensor", "motion", "motion"});

  actuator(Kind::siren, "siren", {boolean("on")}, on_off(), {"siren", "", "on"}, false);
  actuator(Kind::strobe, "strobe", {boolean("on")}, on_off(), {"switch", "", "on"}, false);
  auto light_commands = on_off();
  light_commands.push_back({"set_brightness", {"brightness"}});
  actuator(Kind::light, "light", {boolean("on"), integer("brightness", 0, 255)}, light_commands,
           {"light", "", "on"}, false);
  actuator(Kind::plug, "plug", {boolean("on")}, on_off(), {"switch", "outlet", "on"}, false);
  actuator(Kind::lock, "lock", {enumeration("lock", {"locked", "unlocked", "jammed"})},
           {{"lock", {}}, {"unlock", {}}}, {"lock", "", "lock"}, true);
  actuator(Kind::thermostat, "thermostat",
           {number("setpoint", 5, 30, "°C"), enumeration("mode", {"off", "heat", "cool", "auto"}),
            number("current_temperature", -40, 85, "°C")},
           {{"set_setpoint", {"setpoint"}}, {"set_mode", {"mode"}}}, {"climate", "", "setpoint"}, true);
  actuator(Kind::window_opener, "window_opener", {integer("position", 0, 100, "%")},
           {{"open", {}}, {"close", {}}, {"set_position", {"position"}}}, {"cover", "window", "position"}, true);
  actuator(Kind::water_valve, "water_valve", {boolean("open")}, {{"open", {}}, {"close", {}}},
           {"valve", "water", "open"}, true);
  return kinds;
}

const std::vector<KindInfo>& catalog() {
  static const std::vector<KindInfo> kinds = build_catalog();
  return kinds;
}

}  // namespace

const Capability* KindInfo::capability(std::string_view wanted) const {
  for (const auto& cap : capabilities)
    if (cap.name == wanted) return &cap;
  return nullptr;
}

const CommandSpec* KindInfo::command(std::string_view wanted) const {
  for (const auto& spec : commands)
    if (spec.name == wanted) return &spec;
  return nullptr;
}

std::span<const KindInfo> all_kinds() { return catalog(); }

const KindInfo& kind_info(Kind kind) {
  // build_catalog() lists kinds in enum order, so the enum value is the index.
  return catalog().at(static_cast<std::size_t>(kind));
}

const KindInfo* find_kind(std::string_view name) {
  for (const auto& info : catalog())
    if (info.name == name) return &info;
  return nullptr;
}

std::string_view kind_name(Kind kind) { return kind_info(kind).name; }

std::string kind_names() {
  std::string out;
  for (const auto& info : catalog()) {
    if (!out.empty()) out += ", ";
    out += info.name;
  }
  return out;
}

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::boolean: return "boolean";
    case ValueType::number: return "number";
    case ValueType::integer: return "integer";
    case ValueType::enumeration: return "enumeration";
  }
  return "?";
}

}  // namespace homestead::devices
