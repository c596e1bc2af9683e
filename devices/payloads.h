// JSON payloads on the device topics (see README.md for examples) and their validation.
// Every decode_* checks the whole document against the catalog and throws PayloadError
// naming the offending field ("field 'state.brightness': expected an integer in 0..255,
// got 300"), so a gateway can reject, count and log a bad message and keep running.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "devices/catalog.h"

namespace homestead::devices {

class PayloadError : public std::runtime_error {
 public:
  PayloadError(std::string field, const std::string& message)
      : std::runtime_error(field.empty() ? message : "field '" + field + "': " + message),
        field_(std::move(field)),
        message_(message) {}
  // Dotted path of the bad field ("state.brightness"); empty when the payload is not JSON.
  const std::string& field() const { return field_; }
  // The complaint without the field name.
  const std::string& message() const { return message_; }

 private:
  std::string field_;
  std::string message_;
};

// .../state (retained, QoS 1): {"seq": 42, "ts": 1767225600000, "state": {...every capability...}}
// seq counts reports since the device booted (it restarts at 0 after a reboot); ts is the
// device's own clock in Unix milliseconds, which may be wrong (stale reports).
struct StateReport {
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  nlohmann::json state = nlohmann::json::object();
};

// .../cmd (QoS 1, not retained): {"cmd_id": "t17-a3", "command": "set_brightness", "args": {"brightness": 80}}
struct Command {
  std::string cmd_id;
  std::string command;
  nlohmann::json args = nlohmann::json::object();
};

// What became of an earlier command, in the ack to a status query.
enum class CommandOutcome { done, pending, unknown };

struct StatusOf {
  std::string cmd_id;
  CommandOutcome outcome = CommandOutcome::unknown;
  nlohmann::json ack;  // the earlier ack when outcome == done, else null
};

// .../ack (QoS 1): {"cmd_id": ..., "result": "ok"|"error", "reason": "jammed", "state": {...}, "ts": ...}
// A status query's ack also carries "status_of": {"cmd_id": X, "outcome": "done"|"pending"|"unknown", "ack": {...}}.
struct Ack {
  std::string cmd_id;
  bool ok = true;
  std::string reason;  // required when !ok; empty when ok
  nlohmann::json state = nlohmann::json::object();
  std::int64_t ts_ms = 0;
  std::optional<StatusOf> status_of;
};

// .../status (retained): exactly these two plain-text payloads; "offline" is also the LWT.
inline constexpr std::string_view kOnline = "online";
inline constexpr std::string_view kOffline = "offline";

inline constexpr std::size_t kMaxCmdIdLength = 64;

nlohmann::json to_json(const StateReport& report);
nlohmann::json to_json(const Command& command);
nlohmann::json to_json(const Ack& ack);
std::string encode(const StateReport& report);
std::string encode(const Command& command);
std::string encode(const Ack& ack);

StateReport decode_state(const KindInfo& kind, std::string_view payload);
Command decode_command(const KindInfo& kind, std::string_view payload);
Ack decode_ack(const KindInfo& kind, std::string_view payload);
StateReport state_from_json(const KindInfo& kind, const nlohmann::json& document);
Command command_from_json(const KindInfo& kind, const nlohmann::json& document);
Ack ack_from_json(const KindInfo& kind, const nlohmann::json& document);

// Checks one capability value; `field` names it in the error.
void validate_value(const Capability& cap, const nlohmann::json& value, const std::string& field);
// Checks a state object. With require_all every capability must be present (a report);
// without it a subset is fine (initial_state in a home file). Unknown fields are errors.
void validate_state(const KindInfo& kind, const nlohmann::json& state, const std::string& field,
                    bool require_all);

std::string_view outcome_name(CommandOutcome outcome);

}  // namespace homestead::devices
