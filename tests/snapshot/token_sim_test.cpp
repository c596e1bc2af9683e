// Seeded simulations of Chandy-Lamport on the token network: 2, 3, 8 and 10 nodes; rings,
// bidirectional rings, meshes and directed graphs; single, sequential and concurrent
// snapshots with random delays. Every snapshot must conserve tokens, be a consistent cut
// that matches what it recorded, and lie on a path initial -> recorded -> final found by
// brute force over every consistent cut of the run.
#include <gtest/gtest.h>

#include "cloud/snapshot/sim_runner.h"
#include "tests/snapshot/cut_checks.h"
#include "tests/snapshot/scenarios.h"
#include "tests/support/seeds.h"

namespace homestead::snapshot::testing {
namespace {

struct Case {
  Shape shape;
  std::size_t nodes;
  SnapshotPlan plan;
  std::size_t snapshots;
  std::size_t sends;
};

void check_case(const Case& c, std::uint64_t seed) {
  SCOPED_TRACE(std::string(to_string(c.shape)) + " of " + std::to_string(c.nodes) + ", " + to_string(c.plan) +
               " x" + std::to_string(c.snapshots) + ", seed " + std::to_string(seed));
  sim::Rng rng(seed);
  const Topology topology = make_topology(c.shape, c.nodes, rng);
  TokenNetwork network(topology, std::make_unique<SeededDelays>(rng.next()));
  run_random(network, RunPlan{c.sends, c.snapshots, c.plan}, rng);

  ASSERT_EQ(network.snapshot_count(), c.snapshots);
  EXPECT_EQ(network.total_tokens(), topology.total_tokens());
  EXPECT_EQ(network.messages_in_flight(), 0u);
  for (SnapshotId id = 0; id < network.snapshot_count(); ++id) {
    const TokenSnapshot snapshot = network.snapshot(id);
    const auto recorded = recorded_state(snapshot);
    EXPECT_EQ(total_tokens(snapshot), topology.total_tokens()) << "snapshot " << id << ": " << describe(recorded);
    EXPECT_EQ(snapshot.states.size(), c.nodes);
    EXPECT_EQ(consistent_cut_violation(network, id), "") << "snapshot " << id;
    const auto reach = brute_force_reachability(network, recorded);
    EXPECT_FALSE(reach.gave_up) << "snapshot " << id << " after " << reach.cuts_explored << " cuts";
    EXPECT_TRUE(reach.recorded_reachable) << "snapshot " << id << " " << describe(recorded);
    EXPECT_TRUE(reach.final_reachable_from_recorded) << "snapshot " << id;
  }
}

void check_cases(const std::vector<Case>& cases, std::size_t seeds) {
  homestead::testing::for_each_seed(seeds, [&](std::uint64_t seed) {
    for (const auto& c : cases) {
      check_case(c, seed);
      if (::testing::Test::HasFailure()) return;
    }
  });
}

TEST(TokenSnapshotSim, TwoNodes) {
  check_cases({{Shape::ring, 2, SnapshotPlan::single, 1, 12},
               {Shape::ring, 2, SnapshotPlan::sequential, 3, 12},
               {Shape::ring, 2, SnapshotPlan::concurrent, 2, 12}},
              60);
}

TEST(TokenSnapshotSim, ThreeNodes) {
  check_cases({{Shape::ring, 3, SnapshotPlan::single, 1, 12},
               {Shape::bidirectional_ring, 3, SnapshotPlan::sequential, 3, 12},
               {Shape::directed_graph, 3, SnapshotPlan::concurrent, 3, 12},
               {Shape::mesh, 3, SnapshotPlan::concurrent, 3, 12}},
              40);
}

TEST(TokenSnapshotSim, EightNodes) {
  check_cases({{Shape::ring, 8, SnapshotPlan::single, 1, 10},
               {Shape::mesh, 8, SnapshotPlan::sequential, 2, 10},
               {Shape::directed_graph, 8, SnapshotPlan::concurrent, 4, 10}},
              15);
}

TEST(TokenSnapshotSim, TenNodes) {
  check_cases({{Shape::bidirectional_ring, 10, SnapshotPlan::concurrent, 3, 9},
               {Shape::directed_graph, 10, SnapshotPlan::sequential, 2, 9},
               {Shape::mesh, 10, SnapshotPlan::single, 1, 9}},
              10);
}

TEST(TokenSnapshotSim, SameSeedSameSnapshots) {
  homestead::testing::for_each_seed(10, [](std::uint64_t seed) {
    auto run_once = [seed] {
      sim::Rng rng(seed);
      const Topology topology = make_topology(Shape::directed_graph, 5, rng);
      TokenNetwork network(topology, std::make_unique<SeededDelays>(rng.next()));
      run_random(network, RunPlan{15, 3, SnapshotPlan::concurrent}, rng);
      return format_snapshots(network);
    };
    EXPECT_EQ(run_once(), run_once());
  });
}

// The brute-force check must be able to fail: a state that no cut of the run produces.
TEST(TokenSnapshotSim, BruteForceRejectsAnImpossibleState) {
  sim::Rng rng(7);
  const Topology topology = make_topology(Shape::mesh, 3, rng);
  TokenNetwork network(topology, std::make_unique<SeededDelays>(7));
  run_random(network, RunPlan{8, 1, SnapshotPlan::single}, rng);
  auto forged = recorded_state(network.snapshot(0));
  forged.tokens.begin()->second += 1;  // one token too many somewhere
  forged.tokens.rbegin()->second -= 1;
  EXPECT_FALSE(brute_force_reachability(network, forged).recorded_reachable) << describe(forged);
}

}  // namespace
}  // namespace homestead::snapshot::testing
