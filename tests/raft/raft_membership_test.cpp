// Membership changes and leadership transfer in simulation: learners that catch up before
// they are promoted to voters, learners that never vote or count, removing followers and
// the leader, random membership changes under crashes and loss, and leader transfer
// (etcd's TestLeaderTransfer* cases).
#include <gtest/gtest.h>

#include <algorithm>

#include "replication/raft/codec.h"
#include "tests/raft/sim_cluster.h"
#include "tests/support/seeds.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::for_each_seed;

// Proposes a membership change on the current leader and waits until the leader applied it.
bool change_membership(Cluster& c, ConfChange change, ProposeStatus* status = nullptr) {
  const sim::Time deadline = c.sim().now() + 10 * sim::kSecond;
  while (c.sim().now() < deadline) {
    auto leader = c.leader();
    if (!leader) {
      c.run_for(100 * sim::kMillisecond);
      continue;
    }
    const ProposeResult r = c.node(*leader).propose_conf_change(change);
    if (status) *status = r.status;
    if (r.status == ProposeStatus::invalid_conf_change || r.status == ProposeStatus::learner_behind) return false;
    if (!r.ok()) {
      c.run_for(100 * sim::kMillisecond);
      continue;
    }
    c.flush(*leader);
    const int l = *leader;
    const bool done = c.sim().run_until(
        [&] { return c.up(l) && c.node(l).applied_index() >= r.index; }, c.sim().now() + 3 * sim::kSecond);
    if (done) {
      std::string value;
      if (c.n_committed(r.index, &value) > 0 && value == "<conf>") return true;
    }
  }
  return false;
}

TEST(RaftMembership, LearnerCatchesUpBeforePromotion) {
  for_each_seed(25, [](std::uint64_t seed) {
    ClusterOptions o = cluster_options(4);
    o.joiners = {4};
    Cluster c(seed, o);
    auto& rng = c.sim().rng();
    for (int n = 0; n < 10; ++n) ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
    c.disconnect(3);
    ProposeStatus add_status = ProposeStatus::ok;
    ASSERT_TRUE(change_membership(c, {ConfChangeType::add_learner, 4}, &add_status)) << to_string(add_status);
    for (int n = 0; n < 30; ++n) ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
    ProposeStatus status = ProposeStatus::ok;
    EXPECT_FALSE(change_membership(c, {ConfChangeType::promote, 4}, &status));
    EXPECT_EQ(status, ProposeStatus::learner_behind) << "an unreachable learner must not be promoted";
    c.connect(3);
    const Index caught = c.one("sync", 4, true);
    ASSERT_NE(caught, 0u) << "the learner receives the whole log";
    c.run_for(300 * sim::kMillisecond);  // its acknowledgement reaches the leader
    ASSERT_TRUE(change_membership(c, {ConfChangeType::promote, 4}, &status)) << to_string(status);
    c.run_for(500 * sim::kMillisecond);
    EXPECT_TRUE(c.node(3).conf().is_voter(4));
    // Four voters: quorum is three, so the new voter now counts.
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    int crashed = 0;
    for (int i = 0; i < 3 && crashed < 1; ++i) {
      if (i != *leader) {
        c.crash(i);
        ++crashed;
      }
    }
    ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftMembership, LearnerNeitherVotesNorCounts) {
  for_each_seed(25, [](std::uint64_t seed) {
    ClusterOptions o = cluster_options(4);
    o.learners = {4};
    Cluster c(seed, o);
    const Index first = c.one("a", 4, true);
    ASSERT_NE(first, 0u) << "the learner replicates";
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    ASSERT_NE(*leader, 3) << "a learner became leader";
    for (int i = 0; i < 3; ++i) {
      if (i != *leader) c.disconnect(i);
    }
    const ProposeResult r = c.start(*leader, "b");
    ASSERT_TRUE(r.ok());
    c.run_for(3 * sim::kSecond);
    EXPECT_EQ(c.n_committed(r.index), 0) << "leader + learner is not a quorum of three voters";
    EXPECT_NE(c.node(3).role(), Role::candidate);
    EXPECT_NE(c.node(3).role(), Role::leader);
  });
}

TEST(RaftMembership, RemoveFollowerThenLeader) {
  for_each_seed(25, [](std::uint64_t seed) {
    Cluster c(seed, cluster_options(5));
    auto& rng = c.sim().rng();
    ASSERT_NE(c.one(random_command(rng), 5, true), 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const int follower = (*leader + 1) % 5;
    ASSERT_TRUE(change_membership(c, {ConfChangeType::remove, raft_id_of(static_cast<sim::NodeId>(follower))}));
    ASSERT_NE(c.one(random_command(rng), 4, true), 0u);
    const int old_leader = *leader;
    ASSERT_TRUE(change_membership(c, {ConfChangeType::remove, raft_id_of(static_cast<sim::NodeId>(old_leader))}));
    // The removed leader steps down once its removal commits; the other three carry on.
    c.run_for(3 * sim::kSecond);
    EXPECT_NE(c.node(old_leader).role(), Role::leader);
    auto new_leader = c.check_one_leader();
    ASSERT_TRUE(new_leader);
    EXPECT_NE(*new_leader, old_leader);
    EXPECT_EQ(c.node(*new_leader).conf().voters.size(), 3u);
    const Term term = c.node(*new_leader).term();
    ASSERT_NE(c.one(random_command(rng), 3, true), 0u);
    c.run_for(3 * sim::kSecond);
    EXPECT_EQ(c.node(*new_leader).term(), term) << "removed servers must not disrupt the cluster";
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftMembership, RandomChangesUnderCrashesAndLoss) {
  for_each_seed(20, [](std::uint64_t seed) {
    ClusterOptions o = cluster_options(6);
    o.joiners = {4, 5, 6};
    Cluster c(seed, o);
    c.set_network(unreliable_link());
    auto& rng = c.sim().rng();
    ASSERT_NE(c.one("start", 1, true), 0u);
    for (int iteration = 0; iteration < 25; ++iteration) {
      auto leader = c.leader();
      if (leader) {
        const ConfState conf = c.node(*leader).conf();
        const NodeId node = static_cast<NodeId>(rng.uniform(1, 6));
        ConfChange change{ConfChangeType::add_learner, node};
        if (conf.is_learner(node)) change.type = ConfChangeType::promote;
        if (conf.is_voter(node)) change.type = ConfChangeType::remove;
        const bool keeps_three_voters = change.type != ConfChangeType::remove || conf.voters.size() > 3;
        if (keeps_three_voters) c.node(*leader).propose_conf_change(change);
        for (int k = 0; k < 3; ++k) c.start(*leader, random_command(rng));
        c.flush(*leader);
      }
      c.run_for(rng.uniform(100, 600) * sim::kMillisecond);
      const int victim = static_cast<int>(rng.uniform(0, 5));
      if (rng.chance(0.3)) {
        c.crash(victim);
        c.run_for(rng.uniform(50, 500) * sim::kMillisecond);
        c.restart(victim);
      }
    }
    c.set_network(sim::LinkConfig{});
    c.heal();
    const Index last = c.one("end", 1, true);
    ASSERT_NE(last, 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const ConfState conf = c.node(*leader).conf();
    EXPECT_GE(conf.voters.size(), 3u);
    // Every member converges on the same configuration and applies everything.
    const bool converged = c.sim().run_until(
        [&] {
          for (NodeId id : conf.voters) {
            const int i = static_cast<int>(sim_id_of(id));
            if (c.node(i).applied_index() < last || !(c.node(i).conf() == conf)) return false;
          }
          return true;
        },
        c.sim().now() + 5 * sim::kSecond);
    EXPECT_TRUE(converged);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftTransfer, LeaderTransferToUpToDateFollower) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, cluster_options(3));
    const Index index = c.one("before", 3, true);
    ASSERT_NE(index, 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const Term term = c.node(*leader).term();
    const int target = (*leader + 1) % 3;
    ASSERT_TRUE(c.node(*leader).transfer_leadership(raft_id_of(static_cast<sim::NodeId>(target))));
    c.flush(*leader);
    const bool moved = c.sim().run_until([&] { return c.node(target).role() == Role::leader; },
                                         c.sim().now() + sim::kSecond);
    ASSERT_TRUE(moved);
    EXPECT_EQ(c.node(target).term(), term + 1) << "a transfer is one election, without pre-vote rounds";
    ASSERT_NE(c.one("after", 3, true), 0u);
    std::string value;
    EXPECT_EQ(c.n_committed(index, &value), 3);
    EXPECT_EQ(value, "before");
  });
}

TEST(RaftTransfer, LeaderTransferToLaggingFollowerCatchesItUpFirst) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, cluster_options(3));
    auto& rng = c.sim().rng();
    ASSERT_NE(c.one("x", 3, true), 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const int target = (*leader + 1) % 3;
    c.disconnect(target);
    for (int n = 0; n < 20; ++n) ASSERT_NE(c.one(random_command(rng), 2, true), 0u);
    c.connect(target);
    ASSERT_TRUE(c.node(*leader).transfer_leadership(raft_id_of(static_cast<sim::NodeId>(target))));
    c.flush(*leader);
    const bool moved = c.sim().run_until([&] { return c.node(target).role() == Role::leader; },
                                         c.sim().now() + 2 * sim::kSecond);
    ASSERT_TRUE(moved);
    ASSERT_NE(c.one("y", 3, true), 0u);
    EXPECT_EQ(c.failure_summary(), "");
  });
}

TEST(RaftTransfer, TransferToUnreachableFollowerTimesOutAndLeaderResumes) {
  for_each_seed(30, [](std::uint64_t seed) {
    Cluster c(seed, cluster_options(3));
    ASSERT_NE(c.one("x", 3, true), 0u);
    auto leader = c.check_one_leader();
    ASSERT_TRUE(leader);
    const int target = (*leader + 1) % 3;
    c.disconnect(target);
    ASSERT_TRUE(c.node(*leader).transfer_leadership(raft_id_of(static_cast<sim::NodeId>(target))));
    EXPECT_EQ(c.node(*leader).propose("blocked").status, ProposeStatus::transferring);
    c.run_for(sim::kSecond);  // more than one election timeout
    EXPECT_EQ(c.node(*leader).role(), Role::leader);
    EXPECT_EQ(c.node(*leader).transfer_target(), kNoNode);
    EXPECT_TRUE(c.start(*leader, "resumed").ok());
  });
}

}  // namespace
}  // namespace homestead::raft::testing
