// Built-in apps (transactuation/builtin_apps.h) switched on from gatewayd's config:
//
//   "transactuations": { "builtin": {
//     "intrusion_alarm": {"motion": ["hall_motion.motion"], "strobe": "landing_strobe", "siren": "hall_siren"},
//     "fire_safety":     {"detectors": ["hall_smoke.smoke"], "sirens": ["hall_siren"], "door_locks": [...], "gas_valve": "..." (optional)},
//     "energy_saver":    {"occupancy": [...], "lights": [...], "thermostat": "...", "idle_s": 1800},
//     "climate_guard":   {"windows": ["living_window_contact.open"], "hvac": "thermostat"},
//     "night_auto_lock": {"contacts": [...], "locks": [...]} } }
//
// An app not listed is off. Optional fields keep the defaults of builtin_apps.h
// (freshness_s, idle_s, check_every_s). Errors name the field
// ("transactuations.builtin.intrusion_alarm.strobe: missing").
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "transactuation/app.h"

namespace homestead::gateway {

// Throws transactuation::AppError naming the field; nothing is returned half-built.
std::vector<transactuation::AppDefinition> builtin_apps_from_config(const nlohmann::json& builtin);

}  // namespace homestead::gateway
