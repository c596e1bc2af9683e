// The benchmark's own machinery must measure what it claims: the skipping clock charges a
// trial its slowest device (not the sum, not nothing), retries are answered by the device's
// one ack, periodic apps are timed from the tick that starts them, the latency table is
// seeded and inside firmware-sim's ranges, and the line counter counts what it says.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/bench/transactuation/latency_bench.h"
#include "tests/bench/transactuation/loc_count.h"
#include "tests/bench/transactuation/sim_devices.h"
#include "tests/support/process.h"

namespace homestead::transactuation::bench {
namespace {

// Every actuator of the home at `base`, with the named ones overridden.
TrialLatencies trial(const std::map<std::string, Time>& overrides, Time base = 10 * kMillisecond) {
  TrialLatencies row;
  for (const auto& [device, kind] : home_actuators()) row[device] = base;
  for (const auto& [device, latency] : overrides) row[device] = latency;
  return row;
}

// Generous bound for the gateway's own work (an fsync on a shared disk under ASan).
constexpr Time kGatewayWork = 500 * kMillisecond;

TEST(LatencyBench, ATrialTakesItsSlowestDeviceForBothVersions) {
  testing::TempDir dir;
  const auto samples = measure_latency(
      "intrusion_alarm", {trial({{"landing_strobe", 120 * kMillisecond}, {"hall_siren", 80 * kMillisecond}})},
      dir.path() / "log.db");
  ASSERT_EQ(samples.naive.size(), 1u);
  ASSERT_EQ(samples.transactuation.size(), 1u);
  EXPECT_GE(samples.naive[0], 120 * kMillisecond);
  EXPECT_LT(samples.naive[0], 200 * kMillisecond);  // strobe and siren run in parallel
  EXPECT_GE(samples.transactuation[0], 120 * kMillisecond);
  EXPECT_LT(samples.transactuation[0], 120 * kMillisecond + kGatewayWork);
  ASSERT_EQ(samples.path_sync.size(), 1u);
  EXPECT_GT(samples.path_sync[0], 0);  // the intent's fsync is on the path
  ASSERT_EQ(samples.path_sync_count.size(), 1u);
  EXPECT_EQ(samples.path_sync_count[0], 1);  // and only it: the outcome is group-committed later
}

TEST(LatencyBench, ARetryWaitsForTheOneAckInsteadOfRestartingTheDevice) {
  testing::TempDir dir;
  // The gas valve takes 2.5 s, longer than fire_safety's 1 s per attempt: both versions retry.
  const auto samples = measure_latency("fire_safety", {trial({{"gas_valve", 2500 * kMillisecond}})},
                                       dir.path() / "log.db");
  EXPECT_GE(samples.naive[0], 2500 * kMillisecond);
  EXPECT_LT(samples.naive[0], 2600 * kMillisecond);
  EXPECT_GE(samples.transactuation[0], 2500 * kMillisecond);
  EXPECT_LT(samples.transactuation[0], 2500 * kMillisecond + kGatewayWork);
}

TEST(LatencyBench, PeriodicAppsAreTimedFromTheTickThatStartsThem) {
  testing::TempDir dir;
  const std::vector<TrialLatencies> trials = {trial({{"thermostat", 300 * kMillisecond}}),
                                              trial({{"thermostat", 450 * kMillisecond}})};
  const auto energy = measure_latency("energy_saver", trials, dir.path() / "energy.db");
  const auto night = measure_latency("night_auto_lock", {trial({{"front_door_lock", 700 * kMillisecond}})},
                                     dir.path() / "night.db");
  ASSERT_EQ(energy.transactuation.size(), 2u);
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const Time slowest = trials[i].at("thermostat");
    EXPECT_GE(energy.naive[i], slowest);
    EXPECT_LT(energy.naive[i], slowest + 50 * kMillisecond);
    // Not the period (10 s) or the setup: from the tick to the commit.
    EXPECT_GE(energy.transactuation[i], slowest);
    EXPECT_LT(energy.transactuation[i], slowest + kGatewayWork);
  }
  EXPECT_GE(night.transactuation[0], 700 * kMillisecond);
  EXPECT_LT(night.transactuation[0], 700 * kMillisecond + kGatewayWork);
}

TEST(LatencyBench, UnknownAppIsRejectedByName) {
  testing::TempDir dir;
  try {
    measure_latency("toaster", {trial({})}, dir.path() / "log.db");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "unknown built-in app 'toaster'");
  }
}

TEST(SampledLatencies, SeededAndInsideFirmwareSimRanges) {
  const auto a = sample_latencies(home_actuators(), firmware::LatencyMode::realistic, 50, 7);
  const auto b = sample_latencies(home_actuators(), firmware::LatencyMode::realistic, 50, 7);
  const auto c = sample_latencies(home_actuators(), firmware::LatencyMode::realistic, 50, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (const auto& row : a) {
    EXPECT_GE(row.at("front_door_lock"), 300 * kMillisecond);
    EXPECT_LE(row.at("front_door_lock"), 1500 * kMillisecond);
    EXPECT_GE(row.at("gas_valve"), 800 * kMillisecond);
    EXPECT_LE(row.at("gas_valve"), 2500 * kMillisecond);
    EXPECT_GE(row.at("hall_light"), 20 * kMillisecond);
    EXPECT_LE(row.at("hall_light"), 150 * kMillisecond);
  }
  for (const auto& row : sample_latencies(home_actuators(), firmware::LatencyMode::zero, 5, 7)) {
    for (const auto& [device, latency] : row) EXPECT_EQ(latency, 0) << device;
  }
}

TEST(LocCount, CountsCodeLinesBetweenTheMarkersOnly) {
  testing::TempDir dir;
  const auto file = dir.path() / "apps.cpp";
  std::ofstream(file) << "int outside = 1;\n"
                         "// BEGIN-APP one\n"
                         "int a = 1;\n"
                         "\n"
                         "  // a comment line\n"
                         "int b = 2;  // trailing comment counts as code\n"
                         "// END-APP one\n"
                         "// BEGIN-APP two\n"
                         "int c = 3;\n"
                         "// END-APP two\n";
  EXPECT_EQ(count_app_lines(file, "one"), 2);
  EXPECT_EQ(count_app_lines(file, "two"), 1);
  try {
    count_app_lines(file, "three");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("// BEGIN-APP three"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace homestead::transactuation::bench
