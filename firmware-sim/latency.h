// Actuation latency per device kind: the time between a command arriving at the device and
// the actuation being done (and acked). The realistic profile is drawn from published and
// commonly observed figures for each device class; zero is for stress tests.
//
//   kind            class                                   realistic range
//   plug            Wi-Fi relay (Tasmota, Shelly)           15 - 60 ms
//   light           Zigbee / Z-Wave bulb via a bridge       20 - 150 ms
//   siren, strobe   Z-Wave / Zigbee siren                   50 - 300 ms
//   thermostat      Zigbee TRV / Wi-Fi thermostat          100 - 600 ms
//   lock            motorised deadbolt (Z-Wave, BLE)       300 - 1500 ms
//   window_opener   chain actuator, acks when the move is  400 - 1500 ms
//                   accepted and the motor runs
//   water_valve     motorised ball valve (quarter turn)    800 - 2500 ms
//   sensors         no actuation                            0 ms
//
// Within the range the latency is uniform, drawn from the device's seeded generator.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/sim/rng.h"
#include "devices/catalog.h"

namespace homestead::firmware {

enum class LatencyMode { realistic, zero };

struct LatencyRange {
  std::int64_t min_ms = 0;
  std::int64_t max_ms = 0;
};

LatencyRange latency_range(devices::Kind kind, LatencyMode mode);
std::int64_t draw_latency(devices::Kind kind, LatencyMode mode, sim::Rng& rng);
// "realistic" / "zero"; false for anything else.
bool parse_latency_mode(std::string_view text, LatencyMode& out);

}  // namespace homestead::firmware
