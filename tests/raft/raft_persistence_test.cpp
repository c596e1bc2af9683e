// Persistence and safety under crashes, after the MIT 6.824 2C tests: restarts of all,
// the leader or subsets; the Figure 8 commit rule under 1,000 rounds of leader crashes,
// also on an unreliable network with long delays and reordering; churn while clients write.
#include <gtest/gtest.h>

#include "tests/raft/sim_cluster.h"
#include "tests/support/seeds.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::for_each_seed;

ClusterOptions options(int servers) { return cluster_options(servers); }

sim::LinkConfig unreliable() { return unreliable_link(); }

TEST(RaftPersistence, Persist1CrashAllLeaderAndFollowers2C) {
  for_each_seed(20, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_NE(c.one("11", 3, true), 0u);
    for (int i = 0; i < 3; ++i) c.crash(i);
    for (int i = 0; i < 3; ++i) c.restart(i);
    ASSERT_NE(c.one("12", 3, true), 0u);
    auto leader1 = c.check_one_leader();
    ASSERT_TRUE(leader1);
    c.crash(*leader1);
    c.restart(*leader1);
    ASSERT_NE(c.one("13", 3, true), 0u);
    auto leader2 = c.check_one_leader();
    ASSERT_TRUE(leader2);
    c.crash(*leader2);
    ASSERT_NE(c.one("14", 2, true), 0u);
    c.restart(*leader2);
    const Index index = c.one("15", 3, true);
    ASSERT_NE(index, 0u);
    // Everything the restarted servers had acknowledged is still in their logs.
    for (Index i = 1; i <= index; ++i) EXPECT_GE(c.n_committed(i), 2) << "index " << i;
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftPersistence, Persist2CrashSubsets2C) {
  for_each_seed(10, [](std::uint64_t seed) {
    Cluster c(seed, options(5));
    int index = 1;
    for (int iteration = 0; iteration < 5; ++iteration) {
      ASSERT_NE(c.one(std::to_string(10 + index++), 5, true), 0u);
      auto leader1 = c.check_one_leader();
      ASSERT_TRUE(leader1);
      c.crash((*leader1 + 1) % 5);
      c.crash((*leader1 + 2) % 5);
      ASSERT_NE(c.one(std::to_string(10 + index++), 3, true), 0u);
      c.crash(*leader1);
      c.crash((*leader1 + 3) % 5);
      c.crash((*leader1 + 4) % 5);
      c.restart((*leader1 + 1) % 5);
      c.restart((*leader1 + 2) % 5);
      c.run_for(sim::kSecond);
      c.restart((*leader1 + 3) % 5);
      ASSERT_NE(c.one(std::to_string(10 + index++), 3, true), 0u);
      c.restart((*leader1 + 4) % 5);
      c.restart(*leader1);
    }
    ASSERT_NE(c.one("1000", 5, true), 0u);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftPersistence, Persist3PartitionedLeaderAndFollowerCrash2C) {
  for_each_seed(20, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_NE(c.one("101", 3, true), 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    c.disconnect((*leader + 2) % 3);
    ASSERT_NE(c.one("102", 2, true), 0u);
    c.crash(*leader);
    c.crash((*leader + 1) % 3);
    c.connect((*leader + 2) % 3);
    c.restart(*leader);
    ASSERT_NE(c.one("103", 2, true), 0u);
    c.restart((*leader + 1) % 3);
    ASSERT_NE(c.one("104", 3, true), 0u);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

// 6.824 TestFigure82C: leaders crash right after accepting entries; an entry from an
// earlier term must never be "committed" by counting and later overwritten. The
// ApplyChecker catches any index where two servers applied different values.
void figure8(std::uint64_t seed, bool unreliable_network, int rounds) {
  Cluster c(seed, options(5));
  if (unreliable_network) c.set_network(unreliable());
  auto& rng = c.sim().rng();
  ASSERT_NE(c.one(random_command(rng), 1, true), 0u);
  int up = 5;
  for (int round = 0; round < rounds; ++round) {
    if (unreliable_network && round % 100 == 0) {
      // Some links go slow for a while: delays up to 2 s reorder messages badly.
      sim::LinkConfig slow = unreliable();
      slow.min_delay = 200 * sim::kMillisecond;
      slow.max_delay = 2 * sim::kSecond;
      c.set_network(unreliable());
      for (int k = 0; k < 3; ++k) {
        c.retune_link(static_cast<int>(rng.uniform(0, 4)), static_cast<int>(rng.uniform(0, 4)), slow);
      }
    }
    std::optional<int> leader;
    for (int i = 0; i < 5; ++i) {
      if (c.up(i) && c.start(i, random_command(rng)).ok()) leader = i;
    }
    if (rng.uniform(0, 999) < 100) {
      c.run_for(rng.uniform(0, 500) * sim::kMillisecond);
    } else {
      c.run_for(rng.uniform(0, 13) * sim::kMillisecond);
    }
    if (leader && c.up(*leader) && !unreliable_network) {
      c.crash(*leader);
      --up;
    } else if (leader && unreliable_network && rng.uniform(0, 999) < 500) {
      c.disconnect(*leader);
    }
    if (!unreliable_network && up < 3) {
      const int s = static_cast<int>(rng.uniform(0, 4));
      if (!c.up(s)) {
        c.restart(s);
        ++up;
      }
    }
    if (unreliable_network) {
      int connected = 0;
      for (int i = 0; i < 5; ++i) connected += c.connected(i) ? 1 : 0;
      if (connected < 3) c.connect(static_cast<int>(rng.uniform(0, 4)));
    }
  }
  c.set_network(sim::LinkConfig{});
  for (int i = 0; i < 5; ++i) {
    c.restart(i);
    c.connect(i);
  }
  ASSERT_NE(c.one(random_command(rng), 5, true), 0u);
  EXPECT_EQ(c.failure_summary(), "");
}

TEST(RaftPersistence, Figure8CommitRule2C) {
  for_each_seed(10, [](std::uint64_t seed) { figure8(seed, false, 1000); });
}

TEST(RaftPersistence, Figure8Unreliable2C) {
  for_each_seed(10, [](std::uint64_t seed) { figure8(seed, true, 1000); });
}

TEST(RaftPersistence, UnreliableAgree2C) {
  for_each_seed(10, [](std::uint64_t seed) {
    Cluster c(seed, options(5));
    c.set_network(unreliable());
    for (int iteration = 1; iteration < 50; ++iteration) {
      for (int j = 0; j < 4; ++j) {
        const int i = static_cast<int>(c.sim().rng().uniform(0, 4));
        c.start(i, std::to_string(100 * iteration + j));
      }
      ASSERT_NE(c.one(std::to_string(iteration), 1, true), 0u);
    }
    c.set_network(sim::LinkConfig{});
    ASSERT_NE(c.one("100", 5, true), 0u);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

// 6.824 internalChurn: clients propose everywhere while servers crash, restart, disconnect
// and reconnect; at the end every server has the same log.
void churn(std::uint64_t seed, bool unreliable_network) {
  Cluster c(seed, options(5));
  if (unreliable_network) c.set_network(unreliable());
  auto& rng = c.sim().rng();
  std::vector<std::pair<Index, std::string>> proposed;
  for (int iteration = 0; iteration < 20; ++iteration) {
    for (int burst = 0; burst < 5; ++burst) {
      for (int i = 0; i < 5; ++i) {
        if (!c.up(i)) continue;
        const std::string command = random_command(rng);
        const ProposeResult r = c.start(i, command);
        if (r.ok()) proposed.push_back({r.index, command});
      }
      c.run_for(rng.uniform(10, 50) * sim::kMillisecond);
    }
    const int victim = static_cast<int>(rng.uniform(0, 4));
    switch (rng.uniform(0, 4)) {
      case 0: c.disconnect(victim); break;
      case 1: c.connect(victim); break;
      case 2: c.crash(victim); break;
      case 3: c.restart(victim); break;
      default: break;
    }
    int up = 0;
    for (int i = 0; i < 5; ++i) up += c.up(i) && c.connected(i) ? 1 : 0;
    if (up < 3) {
      for (int i = 0; i < 5; ++i) {
        c.restart(i);
        c.connect(i);
      }
    }
  }
  c.set_network(sim::LinkConfig{});
  c.heal();
  for (int i = 0; i < 5; ++i) c.restart(i);
  const Index last = c.one("final", 5, true);
  ASSERT_NE(last, 0u);
  // Every index up to the last is applied by all five, and some client proposals made it.
  int committed_proposals = 0;
  for (Index i = 1; i <= last; ++i) EXPECT_EQ(c.n_committed(i), 5) << "index " << i;
  for (const auto& [index, command] : proposed) {
    std::string value;
    if (c.n_committed(index, &value) > 0 && value == command) ++committed_proposals;
  }
  EXPECT_GT(committed_proposals, 0);
  EXPECT_EQ(c.failure_summary(), "");
}

TEST(RaftPersistence, ReliableChurn2C) {
  for_each_seed(15, [](std::uint64_t seed) { churn(seed, false); });
}

TEST(RaftPersistence, UnreliableChurn2C) {
  for_each_seed(15, [](std::uint64_t seed) { churn(seed, true); });
}

TEST(RaftPersistence, AcknowledgedEntriesSurviveCrashBeforeNextSync) {
  // Votes and log entries are fsynced before the reply leaves: crash every server the
  // instant after it answered, restart, and nothing a majority acknowledged is lost.
  for_each_seed(20, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    std::vector<Index> committed;
    for (int n = 0; n < 10; ++n) {
      const Index index = c.one("x" + std::to_string(n), 2, true);
      ASSERT_NE(index, 0u);
      committed.push_back(index);
      const int victim = static_cast<int>(c.sim().rng().uniform(0, 2));
      c.crash(victim);
      c.restart(victim);
    }
    for (int i = 0; i < 3; ++i) c.crash(i);
    for (int i = 0; i < 3; ++i) c.restart(i);
    const Index last = c.one("after", 3, true);
    ASSERT_NE(last, 0u);
    for (Index index : committed) {
      std::string value;
      EXPECT_EQ(c.n_committed(index, &value), 3);
    }
    EXPECT_EQ(c.failure_summary(), "");
  });
}

}  // namespace
}  // namespace homestead::raft::testing
