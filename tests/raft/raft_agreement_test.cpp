// Log replication in simulation, after the MIT 6.824 2B tests: agreement, followers and
// leaders failing, no agreement without a majority, concurrent proposals, a partitioned
// leader's entries being overwritten, fast backup over long conflicting logs, and the
// message/byte budgets.
#include <gtest/gtest.h>

#include <set>

#include "tests/raft/sim_cluster.h"
#include "tests/support/seeds.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::for_each_seed;

ClusterOptions options(int servers) { return cluster_options(servers); }

std::string random_bytes(sim::Rng& rng, std::size_t size) {
  std::string out;
  for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>('a' + rng.uniform(0, 25)));
  return out;
}

TEST(RaftAgreement, BasicAgree2B) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_TRUE(c.check_one_leader());
    Index previous = 0;
    for (int n = 1; n <= 3; ++n) {
      const Index index = c.one("cmd" + std::to_string(n), 3, false);
      ASSERT_NE(index, 0u);
      if (previous != 0) {
        EXPECT_EQ(index, previous + 1) << "no election happened, so indexes are consecutive";
      }
      EXPECT_EQ(c.n_committed(index + 1), 0) << "nothing committed beyond what was proposed";
      previous = index;
    }
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftAgreement, RpcBytes2B) {
  for_each_seed(20, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_TRUE(c.check_one_leader());
    ASSERT_NE(c.one("99", 3, false), 0u);
    const std::uint64_t bytes0 = c.sim().stats().bytes_sent;
    std::uint64_t payload = 0;
    for (int n = 0; n < 10; ++n) {
      const std::string command = random_bytes(c.sim().rng(), 5000);
      ASSERT_NE(c.one(command, 3, false), 0u);
      payload += command.size();
    }
    // Each command goes to two followers once: at most 3x the payload plus 50 KB overhead.
    const std::uint64_t sent = c.sim().stats().bytes_sent - bytes0;
    EXPECT_LE(sent, 3 * payload + 50000) << "payload " << payload;
  });
}

TEST(RaftAgreement, FollowerFailure2B) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_NE(c.one("101", 3, false), 0u);
    auto leader1 = c.check_one_leader();
    ASSERT_TRUE(leader1);
    c.disconnect((*leader1 + 1) % 3);
    ASSERT_NE(c.one("102", 2, false), 0u);
    c.run_for(sim::kSecond);
    ASSERT_NE(c.one("103", 2, false), 0u);
    auto leader2 = c.check_one_leader();
    ASSERT_TRUE(leader2);
    c.disconnect((*leader2 + 1) % 3);
    c.disconnect((*leader2 + 2) % 3);
    const ProposeResult r = c.start(*leader2, "104");
    ASSERT_TRUE(r.ok());
    c.run_for(2 * sim::kSecond);
    EXPECT_EQ(c.n_committed(r.index), 0) << "committed without a majority";
  });
}

TEST(RaftAgreement, LeaderFailure2B) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_NE(c.one("101", 3, false), 0u);
    auto leader1 = c.check_one_leader();
    ASSERT_TRUE(leader1);
    c.disconnect(*leader1);
    ASSERT_NE(c.one("102", 2, false), 0u);
    c.run_for(sim::kSecond);
    ASSERT_NE(c.one("103", 2, false), 0u);
    auto leader2 = c.check_one_leader();
    ASSERT_TRUE(leader2);
    c.disconnect(*leader2);
    std::vector<Index> indexes;
    for (int i = 0; i < 3; ++i) {
      const ProposeResult r = c.start(i, "104");
      if (r.ok()) indexes.push_back(r.index);
    }
    c.run_for(2 * sim::kSecond);
    std::string value;
    for (Index index : indexes) {
      if (c.n_committed(index, &value) > 0) {
        EXPECT_NE(value, "104") << "committed without a majority";
      }
    }
  });
}

TEST(RaftAgreement, FailAgreeDisconnectedFollowerCatchesUp2B) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_NE(c.one("101", 3, false), 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const int follower = (*leader + 1) % 3;
    c.disconnect(follower);
    for (int n = 102; n <= 106; ++n) ASSERT_NE(c.one(std::to_string(n), 2, false), 0u);
    c.connect(follower);
    // The returning follower must catch up on everything it missed.
    const Index index = c.one("107", 3, true);
    ASSERT_NE(index, 0u);
    for (Index i = 1; i <= index; ++i) EXPECT_EQ(c.n_committed(i), 3) << "index " << i;
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftAgreement, FailNoAgreeWithoutMajority2B) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, options(5));
    ASSERT_NE(c.one("10", 5, false), 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    for (int k = 1; k <= 3; ++k) c.disconnect((*leader + k) % 5);
    const ProposeResult r = c.start(*leader, "20");
    ASSERT_TRUE(r.ok());
    c.run_for(2 * sim::kSecond);
    EXPECT_EQ(c.n_committed(r.index), 0);
    for (int k = 1; k <= 3; ++k) c.connect((*leader + k) % 5);
    ASSERT_NE(c.one("1000", 5, true), 0u);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftAgreement, ConcurrentStarts2B) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const Term term = c.node(*leader).term();
    std::vector<Index> indexes;
    for (int n = 0; n < 5; ++n) {
      const ProposeResult r = c.node(*leader).propose("c" + std::to_string(n));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r.term, term);
      indexes.push_back(r.index);
    }
    c.flush(*leader);
    const bool all = c.sim().run_until(
        [&] {
          for (Index i : indexes) {
            if (c.n_committed(i) < 3) return false;
          }
          return true;
        },
        c.sim().now() + 2 * sim::kSecond);
    ASSERT_TRUE(all);
    std::set<std::string> values;
    for (Index i : indexes) {
      std::string value;
      c.n_committed(i, &value);
      values.insert(value);
    }
    EXPECT_EQ(values, (std::set<std::string>{"c0", "c1", "c2", "c3", "c4"}));
  });
}

TEST(RaftAgreement, RejoinPartitionedLeaderEntriesOverwritten2B) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_NE(c.one("101", 3, true), 0u);
    auto leader1 = c.check_one_leader();
    ASSERT_TRUE(leader1);
    c.disconnect(*leader1);
    // Entries the isolated leader accepts but can never commit.
    std::vector<Index> stale;
    for (const char* command : {"102", "103", "104"}) stale.push_back(c.start(*leader1, command).index);
    ASSERT_NE(c.one("103", 2, true), 0u);
    auto leader2 = c.check_one_leader();
    ASSERT_TRUE(leader2);
    c.disconnect(*leader2);
    c.connect(*leader1);
    ASSERT_NE(c.one("104", 2, true), 0u);
    c.connect(*leader2);
    const Index last = c.one("105", 3, true);
    ASSERT_NE(last, 0u);
    std::string value;
    ASSERT_EQ(c.n_committed(stale[0], &value), 3);
    EXPECT_NE(value, "102") << "the partitioned leader's entry must have been overwritten";
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftAgreement, BackupFastOverConflictingLogs2B) {
  for_each_seed(10, [](std::uint64_t seed) {
    Cluster c(seed, options(5));
    auto& rng = c.sim().rng();
    ASSERT_NE(c.one(random_command(rng), 5, true), 0u);
    auto leader1 = c.check_one_leader();
    ASSERT_TRUE(leader1);
    const int l1 = *leader1;
    // Put the leader and one follower in a partition; they take 50 entries that never commit.
    c.disconnect((l1 + 2) % 5);
    c.disconnect((l1 + 3) % 5);
    c.disconnect((l1 + 4) % 5);
    for (int n = 0; n < 50; ++n) c.start(l1, random_command(rng));
    c.run_for(500 * sim::kMillisecond);
    c.disconnect(l1 % 5);
    c.disconnect((l1 + 1) % 5);
    // The other three elect a leader and commit 50 entries of their own.
    c.connect((l1 + 2) % 5);
    c.connect((l1 + 3) % 5);
    c.connect((l1 + 4) % 5);
    for (int n = 0; n < 50; ++n) ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
    // Now another partitioned leader and one follower take 50 uncommitted entries.
    auto leader2 = c.check_one_leader();
    ASSERT_TRUE(leader2);
    int other = (l1 + 2) % 5;
    if (*leader2 == other) other = (*leader2 + 1) % 5;
    c.disconnect(other);
    for (int n = 0; n < 50; ++n) c.start(*leader2, random_command(rng));
    c.run_for(500 * sim::kMillisecond);
    // Bring the original leader back with its own stale 50 entries.
    for (int i = 0; i < 5; ++i) c.disconnect(i);
    c.connect(l1 % 5);
    c.connect((l1 + 1) % 5);
    c.connect(other);
    for (int n = 0; n < 50; ++n) ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
    // Everyone back: the conflicting tails are repaired within the agreement deadline.
    for (int i = 0; i < 5; ++i) c.connect(i);
    c.sim().reset_stats();
    ASSERT_NE(c.one(random_command(rng), 5, true), 0u);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftAgreement, FastBackupNeedsFewProbes) {
  // Conflict hints skip a whole term per round trip: a follower with 50 conflicting
  // entries of one stale term is repaired with a handful of rejected probes, not 50.
  for_each_seed(20, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    auto leader1 = c.check_one_leader();
    ASSERT_TRUE(leader1);
    ASSERT_NE(c.one("base", 3, true), 0u);
    const int l1 = *leader1;
    c.disconnect(l1);
    for (int n = 0; n < 50; ++n) c.start(l1, "stale" + std::to_string(n));
    c.run_for(200 * sim::kMillisecond);
    for (int n = 0; n < 60; ++n) ASSERT_NE(c.one("new" + std::to_string(n), 2, true), 0u);
    // Hand leadership to the other follower: a fresh leader starts probing at its last index.
    auto leader2 = c.leader();
    ASSERT_TRUE(leader2);
    const int other = 3 - l1 - *leader2;
    ASSERT_TRUE(c.node(*leader2).transfer_leadership(raft_id_of(static_cast<sim::NodeId>(other))));
    c.flush(*leader2);
    ASSERT_TRUE(c.sim().run_until([&] { return c.node(other).role() == Role::leader; }, c.sim().now() + sim::kSecond));
    const std::uint64_t rejects_before = c.server(l1).rejects_sent();
    c.connect(l1);
    const Index last = c.one("final", 3, true);
    ASSERT_NE(last, 0u);
    // One rejection per conflicting term (here one stale term), plus slack for probes that
    // crossed a heartbeat; without hints this would be about 50.
    EXPECT_GE(c.server(l1).rejects_sent() - rejects_before, 1u) << "the stale tail must have conflicted";
    EXPECT_LE(c.server(l1).rejects_sent() - rejects_before, 4u);
    EXPECT_EQ(c.n_committed(last), 3);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

}  // namespace
}  // namespace homestead::raft::testing
