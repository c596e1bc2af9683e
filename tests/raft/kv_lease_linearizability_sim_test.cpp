// Randomized fault runs checked for linearizability (see kv_fault_run.h): three servers
// with many clients, and lease reads under bounded clock skew and drift.
#include <gtest/gtest.h>

#include "tests/raft/kv_fault_run.h"
#include "tests/support/seeds.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::for_each_seed;

TEST(KvLinearizability, RandomFaultsThreeServersManyClients) {
  FaultRun run;
  run.servers = 3;
  run.clients = 6;
  run.operations = 20;
  for_each_seed(90, [&](std::uint64_t seed) { kv_fault_run(seed, run); });
}

TEST(KvLinearizability, LeaseReadsWithBoundedClockDrift) {
  FaultRun run;
  run.lease_reads = true;
  run.clock_drift = true;
  for_each_seed(60, [&](std::uint64_t seed) { kv_fault_run(seed, run); });
}

}  // namespace
}  // namespace homestead::raft::testing
