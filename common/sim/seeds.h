// Which seeds a simulation test runs, from the environment, so one failing seed can be
// rerun alone and soaks can run many more:
//   HOMESTEAD_SEED=N         run only seed N (the rerun a failing test prints)
//   HOMESTEAD_SEEDS=K        run K seeds instead of the test's default count
//   HOMESTEAD_SEED_BASE=B    start at seed B (default 1)
//   HOMESTEAD_SOAK=1         10x the default count (tests/run.sh --soak sets it)
//   HOMESTEAD_SIM_TRACE=1    every Simulator keeps its full trace and writes it to
//                            $TMPDIR/homestead-sim-trace-seed<seed>-<n>.txt (path on stderr)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace homestead::sim {

std::vector<std::uint64_t> seeds_to_run(std::size_t default_count);
bool trace_requested();
// "HOMESTEAD_SEED=42 ./build/dev/tests/raft/raft_sim_test --gtest_filter='Raft.Figure8'"
std::string rerun_command(std::uint64_t seed, const std::string& test_filter);

}  // namespace homestead::sim
