// JSON app definitions: automations a user writes without compiling. Every error names the
// exact field ("actions[1].device: ...") and loading is all-or-nothing. Example:
//
// {
//   "name": "intrusion_alarm",
//   "trigger":  { "sensor": "motion-hall.motion", "when": "trigger.value == true" },
//   "sensing":  { "sensors": ["motion-hall.motion"], "freshness_s": 5, "require": "ALL" },
//   "when":     "state.armed == true && state.alarmActive != true",
//   "actions":  [ { "device": "strobe", "command": "on",
//                   "compensation": { "command": "off" },
//                   "on_success": { "alarmActive": "true" } } ],
//   "actuating": { "require": "ALL", "timeout_s": 2, "retries": 2, "on_failure": "ABORT" }
// }
//
// Fields: name; trigger {sensor "<device>.<attribute>" + optional when | every_s | api: true};
// sensing {sensors [...], freshness_s, require "ALL"|"ANY"|"AT_LEAST k", tolerate_failed,
// window {from "HH:MM", to "HH:MM"}, wait_s}; when (condition; false = do nothing);
// actions [{device, command, args {}, if, compensation {command, args}, on_success {key: expr}}];
// state {key: expr} (written when the actuating policy holds); actuating {require, timeout_s,
// retries, on_failure "ABORT"|"COMMIT_PARTIAL", compensate, sequential}; lock_timeout_s.
// Expressions: see expression.h. Sensors used in expressions must be listed in sensing.sensors.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "transactuation/app.h"
#include "transactuation/runtime.h"

namespace homestead::transactuation {

// Throws AppError naming the field.
AppDefinition load_app(const Json& definition);
// Text (one app object or an array of them); JSON syntax errors give line and column.
std::vector<AppDefinition> load_apps_text(std::string_view text);
std::vector<AppDefinition> load_apps_file(const std::filesystem::path& path);

// Installs all or none: throws AppError (and installs nothing) if any name clashes.
void install_all(Runtime& runtime, std::vector<AppDefinition> apps);

}  // namespace homestead::transactuation
