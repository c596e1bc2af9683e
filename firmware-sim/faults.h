// Fault injection settings for one simulated device. Set at start (--fault, --scenario) or
// at runtime through the control API; the same JSON in all three places:
//
//   {"drop_commands": 0.5,      fraction 0..1 of commands ignored silently (no actuation, no ack)
//    "ack_delay_ms": 2000,      extra delay between actuation and its ack
//    "fail_acks": "jammed",     every actuation fails with this reason; a lock goes to "jammed"
//    "stuck": true,             reported state frozen at its value when the fault was set
//    "stale_ms": 600000,        reports carry device timestamps this far in the past
//    "malformed": true}         state reports are malformed (bad JSON, missing or mistyped fields)
//
// Going offline for a period and rebooting are one-shot actions, not settings (see
// Firmware::go_offline / Firmware::reboot).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace homestead::firmware {

class FaultError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Faults {
  double drop_commands = 0;
  std::int64_t ack_delay_ms = 0;
  std::string fail_acks;  // empty: actuations succeed
  bool stuck = false;
  std::int64_t stale_ms = 0;
  bool malformed = false;

  bool any() const { return drop_commands > 0 || ack_delay_ms > 0 || !fail_acks.empty() || stuck || stale_ms > 0 || malformed; }
};

// Throws FaultError naming the field, prefixed by `where` ("--fault hall_lock", "scenario.json: faults.hall_lock").
Faults parse_faults(const nlohmann::json& doc, const std::string& where);
nlohmann::json to_json(const Faults& faults);

}  // namespace homestead::firmware
