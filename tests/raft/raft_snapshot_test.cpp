// Snapshots and log compaction in simulation, after the MIT 6.824 2D tests: basic
// snapshots, InstallSnapshot to a lagging (disconnected or crashed) peer on reliable and
// unreliable networks, all servers crashing, restart from snapshot + log tail, and chunked
// transfer of a large snapshot under loss and crashes mid-install.
#include <gtest/gtest.h>

#include "tests/raft/sim_cluster.h"
#include "tests/support/seeds.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::for_each_seed;

constexpr Index kSnapshotEvery = 10;

ClusterOptions snapshot_options(int servers) {
  ClusterOptions o = cluster_options(servers);
  o.snapshot_every = kSnapshotEvery;
  o.make_state_machine = [] { return std::make_unique<ListStateMachine>(); };
  return o;
}

const ListStateMachine& list(Cluster& c, int i) {
  return dynamic_cast<const ListStateMachine&>(c.server(i).state_machine());
}

// Waits until every up server applied `index`, then checks the replicas are identical.
void expect_replicas_equal(Cluster& c, Index index) {
  const bool caught_up = c.sim().run_until(
      [&] {
        for (int i = 0; i < c.size(); ++i) {
          if (c.up(i) && c.node(i).applied_index() < index) return false;
        }
        return true;
      },
      c.sim().now() + 5 * sim::kSecond);
  ASSERT_TRUE(caught_up);
  c.run_for(200 * sim::kMillisecond);
  for (int i = 1; i < c.size(); ++i) {
    if (c.node(i).applied_index() == c.node(0).applied_index()) {
      EXPECT_EQ(list(c, i).items(), list(c, 0).items()) << "server " << i << " differs from server 0";
    }
  }
}

// 6.824 snapcommon: a victim falls behind by more than a snapshot's worth of entries (by
// disconnecting or crashing), then must catch up through InstallSnapshot.
void snapcommon(std::uint64_t seed, bool disconnect, bool reliable, bool crash) {
  Cluster c(seed, snapshot_options(3));
  if (!reliable) c.set_network(unreliable_link());
  auto& rng = c.sim().rng();
  ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
  std::optional<int> leader = c.check_one_leader();
  ASSERT_TRUE(leader);
  std::uint64_t installs = 0;
  for (int iteration = 0; iteration < 8; ++iteration) {
    int victim = (*leader + 1) % 3;
    int sender = *leader;
    if (iteration % 3 == 1) std::swap(victim, sender);  // sometimes the leader falls behind
    if (disconnect) c.disconnect(victim);
    if (crash) c.crash(victim);
    const int expected = 2;
    for (Index n = 0; n < kSnapshotEvery + 1; ++n) c.start(sender, random_command(rng));
    ASSERT_NE(c.one(random_command(rng), expected, true), 0u) << "iteration " << iteration;
    if (disconnect) c.connect(victim);
    if (crash) c.restart(victim);
    const std::uint64_t before = c.up(victim) ? c.server(victim).snapshots_installed() : 0;
    const Index index = c.one(random_command(rng), 3, true);
    ASSERT_NE(index, 0u) << "iteration " << iteration;
    installs += c.server(victim).snapshots_installed() - before;
    leader = c.check_one_leader();
    ASSERT_TRUE(leader);
  }
  c.set_network(sim::LinkConfig{});
  const Index last = c.one("final", 3, true);
  ASSERT_NE(last, 0u);
  expect_replicas_equal(c, last);
  for (int i = 0; i < 3; ++i) {
    // Compaction keeps the in-memory and on-disk log short.
    EXPECT_LE(c.node(i).last_index() - c.node(i).log().snapshot_index(), 3 * kSnapshotEvery) << "server " << i;
    EXPECT_GT(c.node(i).log().snapshot_index(), 0u);
  }
  if (!crash) {
    EXPECT_GT(installs, 0u) << "a victim far behind must have been sent a snapshot";
  }
  EXPECT_EQ(c.failure_summary(), "");
}

TEST(RaftSnapshot, SnapshotBasic2D) {
  for_each_seed(20, [](std::uint64_t seed) {
    Cluster c(seed, snapshot_options(3));
    auto& rng = c.sim().rng();
    Index last = 0;
    for (int n = 0; n < 50; ++n) {
      last = c.one(random_command(rng), 3, true);
      ASSERT_NE(last, 0u);
    }
    expect_replicas_equal(c, last);
    for (int i = 0; i < 3; ++i) {
      EXPECT_GE(c.server(i).snapshots_taken(), 3u) << "server " << i;
      EXPECT_LE(c.sim().disk(static_cast<sim::NodeId>(i)).keys("raft/log/").size(), 2 * kSnapshotEvery)
          << "persisted log stays small after snapshots";
    }
  });
}

TEST(RaftSnapshot, SnapshotInstall2D) {
  for_each_seed(15, [](std::uint64_t seed) { snapcommon(seed, true, true, false); });
}

TEST(RaftSnapshot, SnapshotInstallUnreliable2D) {
  for_each_seed(10, [](std::uint64_t seed) { snapcommon(seed, true, false, false); });
}

TEST(RaftSnapshot, SnapshotInstallCrash2D) {
  for_each_seed(15, [](std::uint64_t seed) { snapcommon(seed, false, true, true); });
}

TEST(RaftSnapshot, SnapshotInstallUnCrash2D) {
  for_each_seed(10, [](std::uint64_t seed) { snapcommon(seed, false, false, true); });
}

TEST(RaftSnapshot, SnapshotAllCrash2D) {
  for_each_seed(15, [](std::uint64_t seed) {
    Cluster c(seed, snapshot_options(3));
    auto& rng = c.sim().rng();
    Index previous = c.one(random_command(rng), 3, true);
    ASSERT_NE(previous, 0u);
    for (int iteration = 0; iteration < 5; ++iteration) {
      for (Index n = 0; n < kSnapshotEvery + 1; ++n) ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
      for (int i = 0; i < 3; ++i) c.crash(i);
      for (int i = 0; i < 3; ++i) c.restart(i);
      const Index index = c.one(random_command(rng), 3, true);
      ASSERT_NE(index, 0u);
      EXPECT_GT(index, previous + kSnapshotEvery) << "the log must continue after a full restart";
      previous = index;
    }
    expect_replicas_equal(c, previous);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftSnapshot, SnapshotInitRestartFromSnapshotAndLogTail2D) {
  for_each_seed(15, [](std::uint64_t seed) {
    Cluster c(seed, snapshot_options(3));
    auto& rng = c.sim().rng();
    for (Index n = 0; n < kSnapshotEvery + 5; ++n) ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
    const std::vector<std::string> before = list(c, 0).items();
    for (int i = 0; i < 3; ++i) c.crash(i);
    for (int i = 0; i < 3; ++i) c.restart(i);
    // Right after the restart, before any new entry, the state is the snapshot plus the
    // replayed committed tail.
    for (int i = 0; i < 3; ++i) EXPECT_GT(c.node(i).log().snapshot_index(), 0u) << "server " << i;
    const Index index = c.one(random_command(rng), 3, true);
    ASSERT_NE(index, 0u);
    std::vector<std::string> after = list(c, 0).items();
    ASSERT_EQ(after.size(), before.size() + 1);
    after.pop_back();
    EXPECT_EQ(after, before);
    for (int i = 0; i < 3; ++i) c.crash(i);
    for (int i = 0; i < 3; ++i) c.restart(i);
    ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftSnapshot, ChunkedInstallUnderLossAndCrashMidInstall) {
  for_each_seed(15, [](std::uint64_t seed) {
    ClusterOptions o = snapshot_options(3);
    o.snapshot_every = 20;
    o.raft.snapshot_chunk_bytes = 256;  // a ~10 KB snapshot needs dozens of chunks
    Cluster c(seed, o);
    auto& rng = c.sim().rng();
    ASSERT_NE(c.one("first", 3, true), 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const int victim = (*leader + 1) % 3;
    c.disconnect(victim);
    for (int n = 0; n < 60; ++n) ASSERT_NE(c.one(random_command(rng) + std::string(150, 'p'), 2, true), 0u);
    sim::LinkConfig lossy;
    lossy.drop = 0.2;
    lossy.max_delay = 5 * sim::kMillisecond;
    c.set_network(lossy);
    c.connect(victim);
    // Crash the victim a few times while chunks are flowing; each restart starts over.
    for (int k = 0; k < 3; ++k) {
      c.run_for(rng.uniform(50, 300) * sim::kMillisecond);
      c.crash(victim);
      c.restart(victim);
    }
    c.set_network(sim::LinkConfig{});
    const Index last = c.one("last", 3, true);
    ASSERT_NE(last, 0u);
    expect_replicas_equal(c, last);
    EXPECT_EQ(list(c, victim).items(), list(c, *c.leader()).items());
    EXPECT_EQ(c.failure_summary(), "");
  });
}

}  // namespace
}  // namespace homestead::raft::testing
