#include "devices/discovery.h"

#include "devices/payloads.h"
#include "devices/topics.h"

namespace homestead::devices {
namespace {

// HA renders this per press: a cmd_id unique to the microsecond, so two presses are two
// commands and not a deduplicated repeat.
std::string command_template(const std::string& command, const std::string& args_json = "{}") {
  return "{\"cmd_id\":\"ha-{{ (now().timestamp() * 1000000) | int }}\",\"command\":\"" + command +
         "\",\"args\":" + args_json + "}";
}

std::string field(const std::string& cap) { return "value_json.state." + cap; }

std::string on_off_template(const std::string& cap) { return "{{ 'ON' if " + field(cap) + " else 'OFF' }}"; }

}  // namespace

std::string discovery_topic(const KindInfo& kind, std::string_view home, std::string_view device) {
  std::string topic = "homeassistant/" + kind.home_assistant.component + "/";
  topic.append(home).append("_").append(device).append("/config");
  return topic;
}

nlohmann::json discovery_document(const KindInfo& kind, const DiscoveryDevice& d) {
  const std::string uid = d.home + "_" + d.id;
  const std::string state = device_topic(d.home, d.id, Channel::state);
  const std::string cmd = device_topic(d.home, d.id, Channel::cmd);
  const auto& ha = kind.home_assistant;
  nlohmann::json doc = {
      {"name", d.name.empty() ? d.id : d.name},
      {"unique_id", uid},
      {"object_id", uid},
      {"availability_topic", device_topic(d.home, d.id, Channel::status)},
      {"payload_available", std::string(kOnline)},
      {"payload_not_available", std::string(kOffline)},
      {"qos", kQos},
      {"device",
       {{"identifiers", {uid}},
        {"name", d.name.empty() ? d.id : d.name},
        {"manufacturer", "Homestead firmware-sim"},
        {"model", kind.name},
        {"suggested_area", d.room}}},
  };
  if (!ha.device_class.empty()) doc["device_class"] = ha.device_class;
  const std::string& comp = ha.component;
  if (comp == "binary_sensor") {
    doc["state_topic"] = state;
    doc["value_template"] = on_off_template(ha.primary);
  } else if (comp == "sensor") {
    doc["state_topic"] = state;
    doc["value_template"] = "{{ " + field(ha.primary) + " }}";
    doc["unit_of_measurement"] = kind.capability(ha.primary)->unit;
    doc["state_class"] = "measurement";
  } else if (comp == "switch" || comp == "siren") {
    doc["state_topic"] = state;
    doc["command_topic"] = cmd;
    doc[comp == "switch" ? "value_template" : "state_value_template"] = on_off_template(ha.primary);
    doc["state_on"] = "ON";
    doc["state_off"] = "OFF";
    doc["payload_on"] = "ON";
    doc["payload_off"] = "OFF";
    // HA passes payload_on/off as `value`; the template turns it into our command.
    doc["command_template"] =
        "{% if value == 'ON' %}" + command_template("turn_on") + "{% else %}" + command_template("turn_off") + "{% endif %}";
    if (comp == "siren") doc["command_off_template"] = command_template("turn_off");
  } else if (comp == "light") {
    doc["schema"] = "template";
    doc["state_topic"] = state;
    doc["command_topic"] = cmd;
    doc["state_template"] = "{{ 'on' if " + field("on") + " else 'off' }}";
    doc["brightness_template"] = "{{ " + field("brightness") + " }}";
    doc["command_on_template"] = "{% if brightness is defined %}" +
                                 command_template("set_brightness", "{\"brightness\":{{ brightness }}}") + "{% else %}" +
                                 command_template("turn_on") + "{% endif %}";
    doc["command_off_template"] = command_template("turn_off");
  } else if (comp == "lock") {
    doc["state_topic"] = state;
    doc["command_topic"] = cmd;
    doc["value_template"] = "{{ " + field("lock") + " | upper }}";
    doc["state_locked"] = "LOCKED";
    doc["state_unlocked"] = "UNLOCKED";
    doc["state_jammed"] = "JAMMED";
    doc["payload_lock"] = "LOCK";
    doc["payload_unlock"] = "UNLOCK";
    doc["command_template"] =
        "{% if value == 'LOCK' %}" + command_template("lock") + "{% else %}" + command_template("unlock") + "{% endif %}";
  } else if (comp == "climate") {
    const Capability* setpoint = kind.capability("setpoint");
    doc["modes"] = kind.capability("mode")->values;
    doc["min_temp"] = setpoint->min;
    doc["max_temp"] = setpoint->max;
    doc["temperature_unit"] = "C";
    doc["current_temperature_topic"] = state;
    doc["current_temperature_template"] = "{{ " + field("current_temperature") + " }}";
    doc["temperature_state_topic"] = state;
    doc["temperature_state_template"] = "{{ " + field("setpoint") + " }}";
    doc["temperature_command_topic"] = cmd;
    doc["temperature_command_template"] = command_template("set_setpoint", "{\"setpoint\":{{ value }}}");
    doc["mode_state_topic"] = state;
    doc["mode_state_template"] = "{{ " + field("mode") + " }}";
    doc["mode_command_topic"] = cmd;
    doc["mode_command_template"] = command_template("set_mode", "{\"mode\":\"{{ value }}\"}");
  } else if (comp == "cover") {
    // Only positions: open/close buttons would send a fixed payload (a fixed cmd_id that
    // the firmware deduplicates), so HA drives the window through set_position.
    doc["position_topic"] = state;
    doc["position_template"] = "{{ " + field("position") + " }}";
    doc["set_position_topic"] = cmd;
    doc["set_position_template"] = command_template("set_position", "{\"position\":{{ position }}}");
  } else if (comp == "valve") {
    doc["state_topic"] = state;
    doc["command_topic"] = cmd;
    doc["reports_position"] = false;
    doc["value_template"] = "{{ 'open' if " + field("open") + " else 'closed' }}";
    doc["payload_open"] = "OPEN";
    doc["payload_close"] = "CLOSE";
    doc["command_template"] =
        "{% if value == 'OPEN' %}" + command_template("open") + "{% else %}" + command_template("close") + "{% endif %}";
  }
  return doc;
}

}  // namespace homestead::devices
