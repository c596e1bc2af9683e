// The device-facing vocabulary of the transactuation runtime: what comes in from sensors
// and actuators (readings, acks, status replies) and what goes out (commands, status
// queries). The gateway adapts these to MQTT (DESIGN.md section 4 topics); the simulator
// passes them as messages. Values are JSON so any payload schema of devices/ fits.
#pragma once

#include <compare>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace homestead::transactuation {

using Json = nlohmann::json;
// Microseconds. In production: wall-clock time since the Unix epoch (UTC), injected by the
// adapter; in simulation: virtual time. The core never reads a clock itself.
using Time = std::int64_t;
using TxnId = std::uint64_t;

inline constexpr Time kMillisecond = 1000;
inline constexpr Time kSecond = 1000 * kMillisecond;

// One sensor attribute, e.g. {"motion-hall", "motion"}.
struct SensorRef {
  std::string device;
  std::string attribute;
  auto operator<=>(const SensorRef&) const = default;
  std::string text() const { return device + "." + attribute; }
};

// A sensor value as received. A null value means the sensor reported a failure.
struct Reading {
  std::string device;
  std::string attribute;
  Json value;
  Time device_time = 0;    // the device's own timestamp (0 = none)
  Time received_time = 0;  // when the gateway received it
  // The time the value is taken to describe: the device timestamp, but never later than
  // the receive time, so a device clock running ahead cannot make a stale value look fresh.
  Time effective_time() const {
    if (device_time <= 0 || device_time > received_time) return received_time;
    return device_time;
  }
  SensorRef ref() const { return SensorRef{device, attribute}; }
};

// A command to an actuator. cmd_id makes it idempotent: the device remembers recent
// cmd_ids and answers a repeat with its earlier ack without actuating again. seq orders
// commands per device: the device must reject (ack error "stale") a command whose seq is
// not above the last seq it executed or fenced, so a command delayed in the network can
// never overtake a later transactuation's command.
struct Command {
  std::string device;
  std::string command;
  Json args = Json::object();
  std::string cmd_id;
  std::uint64_t seq = 0;
  TxnId txn = 0;
};

struct Ack {
  std::string device;
  std::string cmd_id;
  bool ok = false;
  std::string reason;  // set when !ok
};

// Recovery asks a device what became of a cmd_id. A device that does not know the cmd_id
// answers `unknown` and from then on rejects any command with seq <= this seq (fencing), so
// a command still in flight from before the crash cannot actuate after recovery gave up on it.
struct StatusQuery {
  std::string device;
  std::string cmd_id;
  std::uint64_t seq = 0;
};

enum class CommandStatus { ok, error, unknown };
const char* to_string(CommandStatus status);

struct StatusReply {
  std::string device;
  std::string cmd_id;
  CommandStatus status = CommandStatus::unknown;
  std::string reason;
};

}  // namespace homestead::transactuation
