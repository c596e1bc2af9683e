#include "firmware-sim/latency.h"

namespace homestead::firmware {

LatencyRange latency_range(devices::Kind kind, LatencyMode mode) {
  if (mode == LatencyMode::zero) return {0, 0};
  using devices::Kind;
  switch (kind) {
    case Kind::plug: return {15, 60};
    case Kind::light: return {20, 150};
    case Kind::siren:
    case Kind::strobe: return {50, 300};
    case Kind::thermostat: return {100, 600};
    case Kind::lock: return {300, 1500};
    case Kind::window_opener: return {400, 1500};
    case Kind::water_valve: return {800, 2500};
    default: return {0, 0};
  }
}

std::int64_t draw_latency(devices::Kind kind, LatencyMode mode, sim::Rng& rng) {
  const auto range = latency_range(kind, mode);
  return range.max_ms == 0 ? 0 : rng.uniform(range.min_ms, range.max_ms);
}

bool parse_latency_mode(std::string_view text, LatencyMode& out) {
  if (text == "realistic") out = LatencyMode::realistic;
  else if (text == "zero") out = LatencyMode::zero;
  else return false;
  return true;
}

}  // namespace homestead::firmware
