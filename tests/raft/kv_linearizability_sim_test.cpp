// Randomized fault runs checked for linearizability (see kv_fault_run.h): five servers.
#include <gtest/gtest.h>

#include "tests/raft/kv_fault_run.h"
#include "tests/support/seeds.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::for_each_seed;

TEST(KvLinearizability, RandomFaultsFiveServers) {
  for_each_seed(160, [](std::uint64_t seed) { kv_fault_run(seed, FaultRun{}); });
}

}  // namespace
}  // namespace homestead::raft::testing
