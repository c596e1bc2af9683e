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

class ConflictDetector {
 public:
  // A local change (device report, local app, local command) of these attributes.
  void note_local(const std::string& device, const nlohmann::json& attributes, std::int64_t at_ms);
  // A pull that was sent at `sent_ms` succeeded: changes noted before then are no longer
  // "made after the last successful pull".
  void pull_succeeded(std::int64_t sent_ms);
  // The attributes of a desired change that a local change set to a different value.
  std::vector<DetectedConflict> check(const std::string& device, const nlohmann::json& desired) const;
  std::size_t tracked() const { return changes_.size(); }

 private:
  struct Local {
    nlohmann::json value;
    std::int64_t at_ms = 0;
  };
  std::map<std::pair<std::string, std::string>, Local> changes_;
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
