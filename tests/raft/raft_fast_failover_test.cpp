// Node::peer_connection_lost: a follower whose leader's process is gone (the transport saw
// the connection end) campaigns after 1-2 heartbeat intervals instead of a full election
// timeout, and nothing else changes: a drop from a non-leader, a leader still heard by the
// other followers, or lease reads leave the election timer alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "replication/raft/node.h"

namespace homestead::raft {
namespace {

constexpr int kHeartbeat = 10;
constexpr int kElection = 100;

Config config(NodeId id, std::uint64_t seed = 1) {
  Config c;
  c.id = id;
  c.heartbeat_ticks = kHeartbeat;
  c.election_ticks = kElection;
  c.seed = seed;
  return c;
}

Bootstrap three_voters() {
  Bootstrap b;
  b.initial_conf.voters = {1, 2, 3};
  b.hard_state.term = 1;
  return b;
}

std::vector<Message> drain(Node& n) {
  std::vector<Message> out;
  while (n.has_ready()) {
    Ready rd = n.ready();
    n.advance(rd);
    out.insert(out.end(), rd.messages.begin(), rd.messages.end());
  }
  return out;
}

// Makes `n` a follower of node 1 in term 1.
void hear_leader(Node& n) {
  Message hb;
  hb.type = MessageType::heartbeat;
  hb.from = 1;
  hb.to = n.id();
  hb.term = 1;
  n.step(hb);
  drain(n);
  ASSERT_EQ(n.leader(), 1u);
}

// Ticks until `n` sends a pre-vote (or `limit` ticks pass); returns the ticks taken.
int ticks_until_pre_vote(Node& n, int limit) {
  for (int t = 1; t <= limit; ++t) {
    n.tick();
    for (const auto& m : drain(n))
      if (m.type == MessageType::pre_vote) return t;
  }
  return -1;
}

TEST(RaftFastFailover, FollowerCampaignsWithinTwoHeartbeatsOfItsLeadersConnectionEnding) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    Node n(config(2, seed), three_voters());
    hear_leader(n);
    n.peer_connection_lost(1);
    EXPECT_EQ(n.leader(), kNoNode) << "seed " << seed;
    const int ticks = ticks_until_pre_vote(n, 2 * kElection);
    EXPECT_GE(ticks, 1) << "seed " << seed;
    EXPECT_LE(ticks, 2 * kHeartbeat) << "seed " << seed;
  }
}

TEST(RaftFastFailover, WithoutTheSignalTheFullElectionTimeoutApplies) {
  Node n(config(2), three_voters());
  hear_leader(n);
  EXPECT_GE(ticks_until_pre_vote(n, 2 * kElection), kElection);
}

TEST(RaftFastFailover, ADroppedConnectionToAnotherFollowerChangesNothing) {
  Node n(config(2), three_voters());
  hear_leader(n);
  n.peer_connection_lost(3);
  EXPECT_EQ(n.leader(), 1u);
  EXPECT_GE(ticks_until_pre_vote(n, 2 * kElection), kElection);
}

TEST(RaftFastFailover, LeaseReadsKeepTheFullTimeout) {
  Config c = config(2);
  c.lease_reads = true;
  Node n(c, three_voters());
  hear_leader(n);
  n.peer_connection_lost(1);
  EXPECT_EQ(n.leader(), 1u) << "a lease-read leader relies on this follower's promise";
  EXPECT_GE(ticks_until_pre_vote(n, 2 * kElection), kElection);
}

TEST(RaftFastFailover, AFollowerStillHearingTheLeaderIgnoresTheEarlyCampaign) {
  // A false alarm: node 2's connection dropped but the leader lives and node 3 hears it.
  Node alarmed(config(2), three_voters());
  Node healthy(config(3), three_voters());
  hear_leader(alarmed);
  hear_leader(healthy);
  alarmed.peer_connection_lost(1);
  ASSERT_GT(ticks_until_pre_vote(alarmed, 2 * kHeartbeat), 0);
  Message pre;
  pre.type = MessageType::pre_vote;
  pre.from = 2;
  pre.to = 3;
  pre.term = 2;
  pre.index = alarmed.last_index();
  healthy.step(pre);
  for (const auto& m : drain(healthy)) EXPECT_NE(m.type, MessageType::pre_vote_resp) << "in its leader's lease";
  EXPECT_EQ(healthy.term(), 1u);
  EXPECT_EQ(alarmed.term(), 1u) << "a pre-vote never raises the term";
}

// Both survivors saw the leader's process die. Deliver their messages to each other (the
// dead leader gets nothing) and count ticks until one of them leads. Over many seeds the
// election takes a few heartbeat intervals, never the 100-tick election timeout: a split
// vote (both campaign in the same tick) is retried with the short spread as well.
TEST(RaftFastFailover, SurvivorsElectANewLeaderInAFewHeartbeats) {
  std::vector<int> elected_after;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    std::map<NodeId, Node> nodes;
    nodes.emplace(2, Node(config(2, seed), three_voters()));
    nodes.emplace(3, Node(config(3, seed), three_voters()));
    for (auto& [id, n] : nodes) hear_leader(n);
    for (auto& [id, n] : nodes) n.peer_connection_lost(1);
    int ticks = 0;
    auto leads = [&] { return nodes.at(2).role() == Role::leader || nodes.at(3).role() == Role::leader; };
    while (!leads() && ticks < 10 * kElection) {
      ++ticks;
      std::vector<Message> wire;
      for (auto& [id, n] : nodes) {
        n.tick();
        auto out = drain(n);
        wire.insert(wire.end(), out.begin(), out.end());
      }
      // Deliver until quiet (one loopback round trip is far below a tick).
      while (!wire.empty()) {
        std::vector<Message> next;
        for (const auto& m : wire) {
          auto it = nodes.find(m.to);
          if (it == nodes.end()) continue;  // to the dead leader
          it->second.step(m);
          auto out = drain(it->second);
          next.insert(next.end(), out.begin(), out.end());
        }
        wire = std::move(next);
      }
    }
    ASSERT_TRUE(leads()) << "seed " << seed << ": no leader after " << ticks << " ticks";
    elected_after.push_back(ticks);
  }
  std::sort(elected_after.begin(), elected_after.end());
  const int fast = static_cast<int>(std::count_if(elected_after.begin(), elected_after.end(),
                                                  [](int t) { return t <= 2 * kHeartbeat; }));
  EXPECT_GE(fast, 180) << "of 200 elections within two heartbeats";
  EXPECT_LE(elected_after[elected_after.size() / 2], 2 * kHeartbeat);
  // A split vote is retried with the short spread too, never after the 100-tick timeout.
  EXPECT_LT(elected_after.back(), kElection) << "slowest of 200 elections";
}

}  // namespace
}  // namespace homestead::raft
