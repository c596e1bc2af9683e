#include "firmware-sim/faults.h"

namespace homestead::firmware {

Faults parse_faults(const nlohmann::json& doc, const std::string& where) {
  auto fail = [&](const std::string& field, const std::string& message) -> void {
    throw FaultError(where + ": field '" + field + "': " + message);
  };
  if (!doc.is_object()) throw FaultError(where + ": faults must be a JSON object");
  Faults f;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (key == "drop_commands") {
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) fail(key, "expected a fraction 0..1, got " + v.dump());
      f.drop_commands = v.get<double>();
    } else if (key == "ack_delay_ms" || key == "stale_ms") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0) fail(key, "expected milliseconds >= 0, got " + v.dump());
      (key == "ack_delay_ms" ? f.ack_delay_ms : f.stale_ms) = v.get<std::int64_t>();
    } else if (key == "fail_acks") {
      if (!v.is_string()) fail(key, "expected a reason string such as \"jammed\" (or \"\" for none), got " + v.dump());
      f.fail_acks = v.get<std::string>();
    } else if (key == "stuck" || key == "malformed") {
      if (!v.is_boolean()) fail(key, "expected true or false, got " + v.dump());
      (key == "stuck" ? f.stuck : f.malformed) = v.get<bool>();
    } else {
      fail(key, "unknown fault (known: drop_commands, ack_delay_ms, fail_acks, stuck, stale_ms, malformed)");
    }
  }
  return f;
}

nlohmann::json to_json(const Faults& f) {
  nlohmann::json j = nlohmann::json::object();
  if (f.drop_commands > 0) j["drop_commands"] = f.drop_commands;
  if (f.ack_delay_ms > 0) j["ack_delay_ms"] = f.ack_delay_ms;
  if (!f.fail_acks.empty()) j["fail_acks"] = f.fail_acks;
  if (f.stuck) j["stuck"] = true;
  if (f.stale_ms > 0) j["stale_ms"] = f.stale_ms;
  if (f.malformed) j["malformed"] = true;
  return j;
}

}  // namespace homestead::firmware
