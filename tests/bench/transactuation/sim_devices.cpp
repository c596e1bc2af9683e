#include "tests/bench/transactuation/sim_devices.h"

#include "common/sim/rng.h"

namespace homestead::transactuation::bench {

std::vector<TrialLatencies> sample_latencies(const std::map<std::string, devices::Kind>& actuators,
                                             firmware::LatencyMode mode, int trials, std::uint64_t seed) {
  sim::Rng rng(seed);
  std::vector<TrialLatencies> table(static_cast<std::size_t>(trials));
  for (auto& row : table) {
    // Map order is fixed, so the same seed always gives the same table.
    for (const auto& [device, kind] : actuators) row[device] = firmware::draw_latency(kind, mode, rng) * kMillisecond;
  }
  return table;
}

}  // namespace homestead::transactuation::bench
