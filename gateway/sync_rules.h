// The pure rules of the gateway side of sync (docs/sync-protocol.md), with no I/O:
//   ReportedChanges  - which attributes of a state report changed (a "reported" item
//                      carries only those; a report that changes nothing queues nothing);
//   ConflictDetector - local changes since the last successful pull, checked against each
//                      pulled desired change (the conflict rule);
//   desired_commands - the catalog commands that produce desired attribute values.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "devices/catalog.h"

namespace homestead::gateway {

class ReportedChanges {
 public:
  // The attributes of `state` whose value differs from the device's previous report (all of
  // them for the first report after a start); nullopt when nothing changed.
  std::optional<nlohmann::json> changed(const std::string& device, const nlohmann::json& state);

 private:
  std::map<std::string, nlohmann::json> last_;
};

struct DetectedConflict {
  std::string attribute;
  nlohmann::json local_value;
  nlohmann::json desired_value;
  std::int64_t local_at_ms = 0;
};

// A conflict is a pulled desired value for (device, attribute) that differs from a local
// change the cloud had not seen when the desired change was made: one not yet pushed (the
// outbox had not drained past it) by the desired change's time. Changes to a value the cloud
// itself asked for are not local changes. One entry per (device, attribute): bounded by the
// home's attributes.
class ConflictDetector {
 public:
  // A local change (device report, local app, local command) of these attributes, committed
  // to the outbox at `noted_ms`.
  void note_local(const std::string& device, const nlohmann::json& attributes, std::int64_t noted_ms);
  // A push that started at `started_ms` drained the outbox at `now_ms`: every change noted
  // before `started_ms` has been applied by the cloud since `now_ms`.
  void cloud_caught_up(std::int64_t started_ms, std::int64_t now_ms);
  // The cloud asks for these values (a pulled desired change): reports of them are not
  // local changes.
  void cloud_asked(const std::string& device, const nlohmann::json& desired);
  // The attributes of a desired change made at `desired_at_ms` that conflict.
  std::vector<DetectedConflict> check(const std::string& device, const nlohmann::json& desired,
                                      std::int64_t desired_at_ms) const;
  std::size_t unseen() const;

 private:
  using Key = std::pair<std::string, std::string>;
  struct Local {
    nlohmann::json value;
    std::int64_t noted_ms = 0;
    std::int64_t seen_ms = 0;  // 0 = the cloud has not applied it yet
  };
  std::map<Key, Local> changes_;
  std::map<Key, nlohmann::json> asked_;
};

class DesiredError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DesiredCommand {
  std::string command;  // catalog name
  nlohmann::json args = nlohmann::json::object();
};

// One command per desired attribute: a command taking exactly that attribute as its argument
// (set_setpoint, set_brightness, set_mode, set_position), or the no-argument command for a
// switch-like value (on -> turn_on/turn_off, open -> open/close, lock -> lock/unlock).
// Throws DesiredError naming the attribute when the kind cannot produce the value.
std::vector<DesiredCommand> desired_commands(const devices::KindInfo& kind, const nlohmann::json& desired);

}  // namespace homestead::gateway
