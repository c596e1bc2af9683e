// Deterministic unit tests of the pure core, driving Node by hand with crafted messages:
// exact situations that random simulation reaches only rarely (the Figure 8 commit rule,
// persist-before-answer, fast-backtracking hints, pre-vote term rules, learners, ReadIndex).
#include <gtest/gtest.h>

#include <algorithm>

#include "replication/raft/codec.h"
#include "replication/raft/node.h"

namespace homestead::raft {
namespace {

Config config(NodeId id) {
  Config c;
  c.id = id;
  c.pre_vote = false;
  return c;
}

Bootstrap boot(std::vector<NodeId> voters, HardState hs = {}, std::vector<Entry> entries = {}) {
  Bootstrap b;
  b.initial_conf.voters = std::move(voters);
  b.hard_state = hs;
  b.entries = std::move(entries);
  return b;
}

// Drains one Ready, applying the adapter contract; returns it for inspection.
Ready drain(Node& n) {
  Ready rd = n.ready();
  n.advance(rd);
  return rd;
}

std::vector<Message> of_type(const Ready& rd, MessageType type) {
  std::vector<Message> out;
  for (const auto& m : rd.messages) {
    if (m.type == type) out.push_back(m);
  }
  return out;
}

Message vote_from(NodeId from, NodeId to, Term term) {
  Message m;
  m.type = MessageType::vote_resp;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

Message ack(NodeId from, NodeId to, Term term, Index index) {
  Message m;
  m.type = MessageType::append_resp;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = index;
  return m;
}

Message heartbeat_ack(NodeId from, NodeId to, Term term, std::uint64_t context) {
  Message m;
  m.type = MessageType::heartbeat_resp;
  m.from = from;
  m.to = to;
  m.term = term;
  m.context = context;
  return m;
}

TEST(RaftCore, Figure8LeaderDoesNotCommitOldTermEntryByCounting) {
  // Paper figure 8 (c): S1 leads in term 4 with an entry from term 2 at index 2 that now
  // sits on a majority (S1, S2, S3). Counting alone would commit it, yet S5 (term 3 entry
  // at index 2) could still win an election and overwrite it. It must wait for term 4.
  std::vector<Entry> log{{1, 1, EntryType::normal, "a"}, {2, 2, EntryType::normal, "b"}};
  Node s1(config(1), boot({1, 2, 3, 4, 5}, {3, 0, 1}, log));
  s1.campaign();
  drain(s1);
  ASSERT_EQ(s1.term(), 4u);
  s1.step(vote_from(2, 1, 4));
  s1.step(vote_from(3, 1, 4));
  ASSERT_EQ(s1.role(), Role::leader);
  drain(s1);  // persists its no-op at index 3
  s1.step(ack(2, 1, 4, 2));
  s1.step(ack(3, 1, 4, 2));
  drain(s1);
  EXPECT_EQ(s1.commit_index(), 1u) << "index 2 (term 2) must not commit by counting in term 4";
  s1.step(ack(2, 1, 4, 3));
  s1.step(ack(3, 1, 4, 3));
  drain(s1);
  EXPECT_EQ(s1.commit_index(), 3u) << "the term-4 no-op commits, and index 2 with it";
}

TEST(RaftCore, VoteIsPersistedInTheSameReadyAsTheGrant) {
  Node n(config(2), boot({1, 2, 3}));
  Message m;
  m.type = MessageType::vote;
  m.from = 1;
  m.to = 2;
  m.term = 5;
  n.step(m);
  Ready rd = n.ready();
  ASSERT_TRUE(rd.hard_state);
  EXPECT_EQ(rd.hard_state->term, 5u);
  EXPECT_EQ(rd.hard_state->vote, 1u);
  EXPECT_TRUE(rd.must_sync) << "the adapter must fsync the vote before sending the grant";
  ASSERT_EQ(of_type(rd, MessageType::vote_resp).size(), 1u);
  EXPECT_FALSE(of_type(rd, MessageType::vote_resp)[0].reject);
  n.advance(rd);
  // A second candidate in the same term is refused.
  m.from = 3;
  n.step(m);
  rd = drain(n);
  ASSERT_EQ(of_type(rd, MessageType::vote_resp).size(), 1u);
  EXPECT_TRUE(of_type(rd, MessageType::vote_resp)[0].reject);
}

TEST(RaftCore, RejectCarriesConflictHintThatSkipsTheTerm) {
  // Follower log: terms 1 1 2 2 2 2 2 (a long stale term-2 tail).
  std::vector<Entry> log;
  for (Index i = 1; i <= 7; ++i) log.push_back({i <= 2 ? 1u : 2u, i, EntryType::normal, "x"});
  Node f(config(2), boot({1, 2, 3}, {2, 0, 2}, log));
  Message m;
  m.type = MessageType::append;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.index = 9;  // leader probes beyond our end with its own term-3 entry
  m.log_term = 3;
  f.step(m);
  Ready rd = drain(f);
  auto resp = of_type(rd, MessageType::append_resp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_TRUE(resp[0].reject);
  EXPECT_EQ(resp[0].reject_hint, 7u);
  EXPECT_EQ(resp[0].hint_term, 2u);
  // A leader whose log has term 1 up to index 2 and term 3 after jumps straight to index 3.
  std::vector<Entry> leader_log;
  for (Index i = 1; i <= 9; ++i) leader_log.push_back({i <= 2 ? 1u : 3u, i, EntryType::normal, "y"});
  RaftLog l;
  l.reset(0, 0, leader_log);
  EXPECT_EQ(l.find_conflict_by_term(7, 2), 2u);
}

TEST(RaftCore, ConflictingSuffixIsTruncatedAndReportedForPersistence) {
  std::vector<Entry> log{{1, 1, EntryType::normal, "a"}, {1, 2, EntryType::normal, "b"}, {1, 3, EntryType::normal, "c"}};
  Node f(config(2), boot({1, 2, 3}, {1, 0, 1}, log));
  Message m;
  m.type = MessageType::append;
  m.from = 1;
  m.to = 2;
  m.term = 2;
  m.index = 1;
  m.log_term = 1;
  m.entries = {{2, 2, EntryType::normal, "B"}};
  m.commit = 1;
  f.step(m);
  Ready rd = drain(f);
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(rd.entries[0].data, "B");
  EXPECT_EQ(f.last_index(), 2u) << "index 3 of the old term must be gone";
  ASSERT_EQ(of_type(rd, MessageType::append_resp).size(), 1u);
  EXPECT_EQ(of_type(rd, MessageType::append_resp)[0].index, 2u);
}

TEST(RaftCore, PreVoteNeitherChangesTermNorVote) {
  Node n(config(2), boot({1, 2, 3}, {3, 0, 0}));
  Message m;
  m.type = MessageType::pre_vote;
  m.from = 3;
  m.to = 2;
  m.term = 4;
  n.step(m);
  Ready rd = drain(n);
  EXPECT_EQ(n.term(), 3u);
  EXPECT_FALSE(rd.hard_state) << "granting a pre-vote writes nothing";
  auto resp = of_type(rd, MessageType::pre_vote_resp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_FALSE(resp[0].reject);
  EXPECT_EQ(resp[0].term, 4u);
}

TEST(RaftCore, LearnerNeverCampaignsAndDoesNotCount) {
  Bootstrap b = boot({1, 2});
  b.initial_conf.learners = {3};
  Node learner(config(3), b);
  for (int t = 0; t < 100; ++t) learner.tick();
  Ready rd = drain(learner);
  EXPECT_EQ(learner.role(), Role::follower);
  EXPECT_TRUE(rd.messages.empty());

  Node leader(config(1), b);
  leader.campaign();
  drain(leader);
  leader.step(vote_from(2, 1, 1));
  ASSERT_EQ(leader.role(), Role::leader);
  drain(leader);
  leader.step(ack(3, 1, 1, 1));  // only the learner acknowledges the no-op
  drain(leader);
  EXPECT_EQ(leader.commit_index(), 0u) << "a learner's copy does not count toward the quorum";
  leader.step(ack(2, 1, 1, 1));
  drain(leader);
  EXPECT_EQ(leader.commit_index(), 1u);
}

TEST(RaftCore, ReadIndexWaitsForAQuorumHeartbeatRound) {
  Node leader(config(1), boot({1, 2, 3}));
  leader.campaign();
  drain(leader);
  leader.step(vote_from(2, 1, 1));
  drain(leader);
  leader.step(ack(2, 1, 1, 1));
  drain(leader);
  ASSERT_EQ(leader.commit_index(), 1u);
  ASSERT_TRUE(leader.read_index(77));
  Ready rd = drain(leader);
  EXPECT_TRUE(rd.reads.empty()) << "no read before leadership is confirmed";
  auto beats = of_type(rd, MessageType::heartbeat);
  ASSERT_EQ(beats.size(), 2u);
  leader.step(heartbeat_ack(3, 1, 1, beats[0].context));
  rd = drain(leader);
  ASSERT_EQ(rd.reads.size(), 1u);
  EXPECT_EQ(rd.reads[0].request_id, 77u);
  EXPECT_EQ(rd.reads[0].index, 1u);
}

TEST(RaftCore, NewLeaderAnswersReadIndexOnlyAfterCommittingInItsTerm) {
  // The new leader holds entries 1..3 but knows only commit 1: reading at index 1 could
  // miss writes 2..3 that the old leader acknowledged. It must wait for its no-op.
  std::vector<Entry> log{{1, 1, EntryType::normal, "a"}, {1, 2, EntryType::normal, "b"}, {1, 3, EntryType::normal, "c"}};
  Node leader(config(1), boot({1, 2, 3}, {1, 0, 1}, log));
  leader.campaign();
  drain(leader);
  leader.step(vote_from(2, 1, 2));
  ASSERT_EQ(leader.role(), Role::leader);
  drain(leader);
  ASSERT_TRUE(leader.read_index(5));
  Ready rd = drain(leader);
  EXPECT_TRUE(rd.reads.empty());
  EXPECT_TRUE(of_type(rd, MessageType::heartbeat).empty()) << "no read round before the no-op commits";
  leader.step(ack(2, 1, 2, 4));  // the no-op at index 4 is on a majority
  rd = drain(leader);
  auto beats = of_type(drain(leader), MessageType::heartbeat);
  for (const auto& m : rd.messages) {
    if (m.type == MessageType::heartbeat) beats.push_back(m);
  }
  ASSERT_FALSE(beats.empty());
  leader.step(heartbeat_ack(2, 1, 2, beats[0].context));
  rd = drain(leader);
  ASSERT_EQ(rd.reads.size(), 1u);
  EXPECT_EQ(rd.reads[0].index, 4u) << "the read point covers everything the old leader could have acknowledged";
}

TEST(RaftCore, CodecRoundTripsAndNamesCorruption) {
  Message m;
  m.type = MessageType::install_snapshot;
  m.from = 1;
  m.to = 2;
  m.term = 9;
  m.entries = {{3, 4, EntryType::conf_change, encode_conf_change({ConfChangeType::promote, 5})}};
  m.snapshot.index = 10;
  m.snapshot.conf.voters = {1, 2};
  m.chunk = "abc";
  m.chunk_last = true;
  const std::string bytes = encode_message(m);
  const Message back = decode_message(bytes);
  EXPECT_EQ(back.term, 9u);
  EXPECT_EQ(back.entries, m.entries);
  EXPECT_EQ(back.snapshot, m.snapshot);
  EXPECT_TRUE(back.chunk_last);
  EXPECT_EQ(decode_conf_change(back.entries[0].data), (ConfChange{ConfChangeType::promote, 5}));
  try {
    decode_message(bytes.substr(0, bytes.size() - 2));
    FAIL() << "a truncated message must not decode";
  } catch (const CodecError& e) {
    EXPECT_NE(std::string(e.what()).find("raft message"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace homestead::raft
