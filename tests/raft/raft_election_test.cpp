// Elections in simulation, after the MIT 6.824 2A tests and etcd's PreVote/CheckQuorum
// tests. Every test runs over many seeds; a failure prints the seed and the rerun command.
#include <gtest/gtest.h>

#include "tests/raft/sim_cluster.h"
#include "tests/support/seeds.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::for_each_seed;

ClusterOptions options(int servers) { return cluster_options(servers); }

Term check_terms(Cluster& c) {
  Term term = 0;
  for (int i = 0; i < c.size(); ++i) {
    if (!c.up(i) || !c.connected(i)) continue;
    if (term == 0) term = c.node(i).term();
    EXPECT_EQ(c.node(i).term(), term) << "servers disagree on the term";
  }
  return term;
}

TEST(RaftElection, InitialElection2A) {
  for_each_seed(40, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    ASSERT_TRUE(c.check_one_leader());
    c.run_for(50 * sim::kMillisecond);  // let the last heartbeat carry the term everywhere
    const Term term1 = check_terms(c);
    EXPECT_GE(term1, 1u);
    // With no failures, nobody starts a new election.
    c.run_for(2 * sim::kSecond);
    EXPECT_EQ(check_terms(c), term1);
    EXPECT_TRUE(c.check_one_leader());
  });
}

TEST(RaftElection, ReElection2A) {
  for_each_seed(40, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    auto leader1 = c.check_one_leader();
    ASSERT_TRUE(leader1);
    // Leader loss: the others elect a new one.
    c.disconnect(*leader1);
    ASSERT_TRUE(c.check_one_leader());
    // The old leader's return must not disturb the new one.
    c.connect(*leader1);
    auto leader2 = c.check_one_leader();
    ASSERT_TRUE(leader2);
    // No quorum, no leader.
    c.disconnect(*leader2);
    c.disconnect((*leader2 + 1) % 3);
    c.run_for(2 * sim::kSecond);
    EXPECT_TRUE(c.check_no_leader());
    // A quorum again: a leader.
    c.connect((*leader2 + 1) % 3);
    EXPECT_TRUE(c.check_one_leader());
    c.connect(*leader2);
    EXPECT_TRUE(c.check_one_leader());
  });
}

TEST(RaftElection, ManyElections2A) {
  for_each_seed(15, [](std::uint64_t seed) {
    Cluster c(seed, options(7));
    ASSERT_TRUE(c.check_one_leader());
    auto& rng = c.sim().rng();
    for (int iteration = 0; iteration < 10; ++iteration) {
      const int a = static_cast<int>(rng.uniform(0, 6));
      const int b = static_cast<int>(rng.uniform(0, 6));
      const int d = static_cast<int>(rng.uniform(0, 6));
      c.disconnect(a);
      c.disconnect(b);
      c.disconnect(d);
      // Four or more of seven remain: they must elect a leader.
      ASSERT_TRUE(c.check_one_leader()) << "iteration " << iteration;
      c.connect(a);
      c.connect(b);
      c.connect(d);
    }
    EXPECT_TRUE(c.check_one_leader());
  });
}

TEST(RaftElection, PreVotePartitionedFollowerRejoinsWithoutDisruption) {
  for_each_seed(40, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const Term term = c.node(*leader).term();
    const int follower = (*leader + 1) % 3;
    c.disconnect(follower);
    c.run_for(5 * sim::kSecond);  // it times out again and again, but only pre-votes
    EXPECT_EQ(c.node(follower).term(), term) << "pre-vote must not bump the isolated node's term";
    c.connect(follower);
    c.run_for(2 * sim::kSecond);
    EXPECT_EQ(c.node(*leader).role(), Role::leader);
    EXPECT_EQ(c.node(*leader).term(), term);
    EXPECT_EQ(c.node(follower).leader(), raft_id_of(static_cast<sim::NodeId>(*leader)));
  });
}

TEST(RaftElection, WithoutPreVoteRejoiningFollowerDisruptsLeader) {
  // The control experiment for the test above: it shows that scenario can fail.
  for_each_seed(20, [](std::uint64_t seed) {
    ClusterOptions o = options(3);
    o.raft.pre_vote = false;
    o.raft.check_quorum = false;
    Cluster c(seed, o);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const Term term = c.node(*leader).term();
    const int follower = (*leader + 1) % 3;
    c.disconnect(follower);
    c.run_for(5 * sim::kSecond);
    EXPECT_GT(c.node(follower).term(), term);
    c.connect(follower);
    c.run_for(2 * sim::kSecond);
    EXPECT_GT(c.node(*leader).term(), term) << "the rejoining node's higher term deposes the leader";
  });
}

TEST(RaftElection, CheckQuorumLeaderWithoutQuorumStepsDown) {
  for_each_seed(40, [](std::uint64_t seed) {
    Cluster c(seed, options(5));
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const int l = *leader;
    c.partition({{l, (l + 1) % 5}, {(l + 2) % 5, (l + 3) % 5, (l + 4) % 5}});
    c.run_for(3 * sim::kSecond);
    EXPECT_NE(c.node(l).role(), Role::leader) << "a leader cut off from its quorum must step down";
    auto new_leader = c.leader();
    ASSERT_TRUE(new_leader);
    EXPECT_NE(*new_leader, l);
    EXPECT_NE(*new_leader, (l + 1) % 5);
  });
}

TEST(RaftElection, CheckQuorumFollowerIgnoresCandidateWhileLeaderAlive) {
  // etcd TestLeaderElectionWithCheckQuorum / disruptive-server case: a node whose link to
  // the leader alone is cut campaigns, but the followers still hear the leader and refuse.
  for_each_seed(40, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const Term term = c.node(*leader).term();
    const int cut = (*leader + 1) % 3;
    sim::LinkConfig dead;
    dead.drop = 1.0;
    c.retune_link(*leader, cut, dead);
    c.retune_link(cut, *leader, dead);
    c.run_for(5 * sim::kSecond);
    EXPECT_EQ(c.node(*leader).role(), Role::leader);
    EXPECT_EQ(c.node(*leader).term(), term);
  });
}

TEST(RaftElection, RpcCountsPerElectionAndIdleSecond) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, options(3));
    // 6.824 TestCount2B: an election costs at most 30 RPCs, i.e. 60 messages counting
    // requests and replies (pre-votes included), until the leader's no-op is applied
    // everywhere. Split votes are allowed for; one clean election takes about 12.
    const bool elected = c.sim().run_until(
        [&] {
          auto leader = c.leader();
          return leader && c.n_committed(c.node(*leader).commit_index()) == 3;
        },
        5 * sim::kSecond);
    ASSERT_TRUE(elected);
    EXPECT_LE(c.sim().stats().sent, 60u) << "messages for the initial election";
    c.run_for(sim::kSecond);
    c.sim().reset_stats();
    c.run_for(sim::kSecond);
    // <= 60 RPCs per idle second in 6.824; we hold messages (requests + replies) to 60.
    EXPECT_LE(c.sim().stats().sent, 60u) << "messages per idle second";
    EXPECT_GT(c.sim().stats().sent, 0u) << "heartbeats must flow";
  });
}

}  // namespace
}  // namespace homestead::raft::testing
