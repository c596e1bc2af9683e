// The non-FIFO live snapshot core (cloud/snapshot/live_participant.h) in the deterministic
// simulator: a token-passing mesh whose links reorder messages and duplicate them (like
// retried RPCs), with several snapshots started at random times from random nodes, some
// at once. For every snapshot:
//  - tokens are conserved (recorded states + recorded in-flight tokens = total);
//  - the cut is consistent, checked against ground truth the test keeps itself: the
//    in-flight messages of a channel are exactly the ones the sender sent before its cut
//    that had not arrived when the receiver recorded (nothing orphaned, nothing lost);
//  - the counters line up: received-before-cut + in-flight + lost = the sender's cut seq.
// With lossy links (drop > 0) every node also runs what the adapters run: a LossCloser
// (gaps closed as lost after a wait longer than any delay) and repeated explicit markers
// while its marks ride; then every snapshot must still complete, the lost seqs must be
// exactly the ones the network dropped (never delivered) and the tokens they carried make
// up the difference.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cloud/snapshot/live_participant.h"
#include "cloud/snapshot/live_report.h"
#include "cloud/snapshot/loss_closer.h"
#include "common/sim/simulator.h"
#include "tests/snapshot/live_truth.h"
#include "tests/support/seeds.h"

namespace homestead::snapshot {
namespace {

using sim::kMillisecond;
using sim::NodeId;

struct Msg {
  Stamp stamp;
  std::int64_t tokens = 0;  // 0: an explicit marker message
  SnapshotId initiate = 0;  // injected by the test: "start this snapshot here"
};

constexpr std::uint64_t kSendTimer = 1;
constexpr std::uint64_t kHousekeepingTimer = 2;
// Longer than the links' max delay (30 ms): a frame not there by then was dropped.
constexpr auto kLossWait = std::chrono::milliseconds(100);

ProcessId name(NodeId id) { return "n" + std::to_string(id); }

class TokenNode : public sim::Process<Msg> {
 public:
  TokenNode(NodeId id, std::size_t nodes, LiveTruth& truth, bool* sending)
      : id_(id), participant_(name(id), 1 + id), truth_(truth), sending_(sending) {
    std::vector<ProcessId> peers;
    for (NodeId other = 0; other < nodes; ++other) {
      if (other != id) {
        peers.push_back(name(other));
        peer_ids_.push_back(other);
      }
    }
    participant_.set_channels(peers, peers);
  }

  void start(sim::Context<Msg>& ctx) override {
    ctx.set_timer(ctx.rng().uniform(1, 5) * kMillisecond, kSendTimer);
    ctx.set_timer(kHousekeepingEvery, kHousekeepingTimer);
  }

  void timer(sim::Context<Msg>& ctx, sim::TimerId, std::uint64_t tag) override {
    if (tag == kHousekeepingTimer) {
      housekeeping(ctx);
      ctx.set_timer(kHousekeepingEvery, kHousekeepingTimer);
      return;
    }
    if (!*sending_) return;
    if (tokens_ > 0) {
      const NodeId to = peer_ids_[static_cast<std::size_t>(ctx.rng().uniform(0, static_cast<std::int64_t>(peer_ids_.size()) - 1))];
      const std::int64_t n = ctx.rng().uniform(1, std::min<std::int64_t>(tokens_, 10));
      tokens_ -= n;
      send(ctx, to, n);
    }
    ctx.set_timer(ctx.rng().uniform(1, 5) * kMillisecond, kSendTimer);
  }

  void receive(sim::Context<Msg>& ctx, NodeId, const Msg& m) override {
    if (m.initiate != 0) {
      participant_.initiate(m.initiate, std::to_string(tokens_));
      on_recorded(ctx, {m.initiate});
      return;
    }
    const auto result = participant_.on_receive(
        m.stamp, [&] { return std::to_string(tokens_); },
        [&] { return InFlightMessage{0, "token", static_cast<std::uint64_t>(m.tokens)}; });
    if (!result.recorded.empty()) on_recorded(ctx, result.recorded);
    if (result.duplicate) return;
    truth_.on_received(name(id_), m.stamp.from, m.stamp.seq);
    tokens_ += m.tokens;
  }

  const LiveParticipant& participant() const { return participant_; }
  std::int64_t tokens() const { return tokens_; }

 private:
  void send(sim::Context<Msg>& ctx, NodeId to, std::int64_t tokens) {
    Msg m{participant_.stamp(name(to)), tokens};
    truth_.on_sent(name(id_), name(to), m.stamp.seq, tokens);
    ctx.send(to, m);
  }

  // What the adapters do now and then: close gaps that waited too long, repeat the
  // explicit markers while marks ride (an idle link whose marker was dropped), stop marking.
  void housekeeping(sim::Context<Msg>& ctx) {
    loss_closer_.tick(participant_, std::chrono::steady_clock::time_point{} + std::chrono::microseconds(ctx.now()));
    bool marking = false;
    for (auto it = recorded_at_.begin(); it != recorded_at_.end();) {
      if (ctx.now() - it->second > kMarkFor) {
        participant_.stop_marking(it->first);
        it = recorded_at_.erase(it);
      } else {
        marking = true;
        ++it;
      }
    }
    if (marking && ctx.now() - last_markers_ >= kMarkerRepeat) {
      last_markers_ = ctx.now();
      for (NodeId peer : peer_ids_) send(ctx, peer, 0);
    }
  }

  // Several snapshots can be recorded on one message: all at the same cut, then markers.
  void on_recorded(sim::Context<Msg>& ctx, const std::vector<SnapshotId>& ids) {
    std::vector<ProcessId> peers;
    for (NodeId peer : peer_ids_) peers.push_back(name(peer));
    for (SnapshotId id : ids) {
      recorded_at_[id] = last_markers_ = ctx.now();
      truth_.on_recorded(id, name(id_), peers);
    }
    for (NodeId peer : peer_ids_) send(ctx, peer, 0);  // the explicit marker
  }

  NodeId id_;
  LiveParticipant participant_;
  LiveTruth& truth_;
  bool* sending_;
  std::int64_t tokens_ = kInitialTokens;
  std::vector<NodeId> peer_ids_;
  LossCloser loss_closer_{kLossWait};
  std::map<SnapshotId, sim::Time> recorded_at_;
  sim::Time last_markers_ = 0;
};

void run_scenario(std::uint64_t seed, std::size_t nodes, std::size_t snapshots, double drop = 0.0) {
  sim::Simulator<Msg> simulator(seed);
  sim::LinkConfig link;
  link.fifo = false;
  link.duplicate = 0.15;
  link.drop = drop;
  link.min_delay = 1 * kMillisecond;
  link.max_delay = 30 * kMillisecond;
  simulator.set_default_link(link);
  LiveTruth truth;
  bool sending = true;
  for (std::size_t i = 0; i < nodes; ++i) {
    simulator.add_node([&, nodes](NodeId id) { return std::make_unique<TokenNode>(id, nodes, truth, &sending); });
  }
  // Some start close together so they overlap.
  const auto ids = schedule_snapshots(simulator, snapshots, 20, 200, nodes);
  simulator.at(400 * kMillisecond, [&] { sending = false; });
  expect_snapshots_complete_and_consistent<Msg>(
      simulator, ids,
      [&] {
        std::map<ProcessId, const LiveParticipant*> all;
        for (NodeId n = 0; n < nodes; ++n) all[name(n)] = &simulator.process_as<TokenNode>(n).participant();
        return all;
      },
      truth, kInitialTokens * static_cast<std::int64_t>(nodes));
}

}  // namespace

namespace {

TEST(LiveParticipantSim, ThreeNodesReorderedAndDuplicated) {
  testing::for_each_seed(60, [](std::uint64_t seed) { run_scenario(seed, 3, 1); });
}

TEST(LiveParticipantSim, FiveNodesConcurrentSnapshots) {
  testing::for_each_seed(40, [](std::uint64_t seed) { run_scenario(seed, 5, 4); });
}

TEST(LiveParticipantSim, LossyLinksFiveNodesConcurrentSnapshots) {
  // 5% of frames dropped (markers too): snapshots complete only through the loss closer
  // and the repeated markers, with exactly the dropped seqs reported as lost.
  testing::for_each_seed(40, [](std::uint64_t seed) { run_scenario(seed, 5, 4, 0.05); });
}

TEST(LiveParticipantSim, DuplicateIsDroppedAndLateMessageIsInFlight) {
  // By hand: B sends seq 1 and 2 to A; seq 2 arrives first carrying B's cut mark (cut after
  // seq 1), so A records; seq 1 then arrives: in flight; a duplicate of 1 is dropped.
  LiveParticipant a("A", 1);
  a.set_channels({"B"}, {"B"});
  LiveParticipant b("B", 2);
  b.set_channels({"A"}, {"A"});
  const Stamp first = b.stamp("A");
  b.initiate(7, "b-state");
  const Stamp second = b.stamp("A");
  ASSERT_EQ(second.marks, (std::vector<CutMark>{{7, 1}}));
  auto describe = [] { return InFlightMessage{0, "put", 12}; };
  const auto r2 = a.on_receive(second, [] { return std::string("a-state"); }, describe);
  EXPECT_EQ(r2.recorded, std::vector<SnapshotId>{7});
  EXPECT_FALSE(a.local(7)->complete);
  const auto r1 = a.on_receive(first, [] { return std::string("never"); }, describe);
  EXPECT_FALSE(r1.duplicate);
  const auto r1again = a.on_receive(first, [] { return std::string("never"); }, describe);
  EXPECT_TRUE(r1again.duplicate);
  const LiveLocal local = *a.local(7);
  EXPECT_TRUE(local.complete);
  EXPECT_EQ(local.state, "a-state");
  ASSERT_EQ(local.incoming.at("B").in_flight.size(), 1u);
  EXPECT_EQ(local.incoming.at("B").in_flight[0].seq, 1u);
  EXPECT_EQ(local.incoming.at("B").in_flight[0].kind, "put");
  EXPECT_EQ(local.incoming.at("B").received_before_cut, 0u);
}

// By hand: B sends seqs 1..3 to A and records (cut 3); A gets 1, then B's marker frame
// (seq 4, carrying the mark), then 2; seq 3 was lost on the wire.
struct LostFrameCase {
  LiveParticipant a{"A", 1};
  LiveParticipant b{"B", 2};
  Stamp s3;
  std::function<InFlightMessage()> describe = [] { return InFlightMessage{0, "append", 40}; };
  std::function<std::string()> a_state = [] { return std::string("a-state"); };

  LostFrameCase() {
    a.set_channels({"B"}, {"B"});
    b.set_channels({"A"}, {"A"});
    const Stamp s1 = b.stamp("A");
    const Stamp s2 = b.stamp("A");
    s3 = b.stamp("A");
    b.initiate(9, "b-state");
    const Stamp marker = b.stamp("A");
    a.on_receive(s1, a_state, describe);
    a.on_receive(marker, a_state, describe);  // A records here: received before cut = 1
    a.on_receive(s2, a_state, describe);      // in flight
    // A's own marker closes B's only channel.
    b.on_receive(a.stamp("B"), [] { return std::string("never"); }, describe);
  }
  std::map<ProcessId, LiveLocal> parts() const { return {{"A", *a.local(9)}, {"B", *b.local(9)}}; }
};

TEST(LiveParticipantLoss, LostFrameKeepsTheChannelOpenUntilClosedAsLost) {
  LostFrameCase c;
  ASSERT_TRUE(c.b.local(9)->complete);
  // The sender moves on (later frames, still marked): without the loss close the channel
  // waits for seq 3 forever.
  for (int i = 0; i < 5; ++i) c.a.on_receive(c.b.stamp("A"), c.a_state, c.describe);
  EXPECT_FALSE(c.a.local(9)->complete);
  EXPECT_EQ(c.a.waiting_for_gaps(), (std::vector<std::pair<SnapshotId, ProcessId>>{{9, "B"}}));

  EXPECT_EQ(c.a.close_lost(9, "B"), 1u);
  const LiveLocal local = *c.a.local(9);
  EXPECT_TRUE(local.complete);
  const ChannelRecord& channel = local.incoming.at("B");
  EXPECT_TRUE(channel.closed);
  EXPECT_EQ(channel.sender_cut_seq, 3u);
  EXPECT_EQ(channel.received_before_cut, 1u);
  ASSERT_EQ(channel.in_flight.size(), 1u);
  EXPECT_EQ(channel.in_flight[0].seq, 2u);
  EXPECT_EQ(channel.lost, std::vector<std::uint64_t>{3});
  EXPECT_TRUE(channel.late.empty());
  EXPECT_TRUE(c.a.waiting_for_gaps().empty());
  EXPECT_EQ(check_live_cut(c.parts()), std::vector<std::string>{});
  EXPECT_EQ(c.a.close_lost(9, "B"), 0u) << "closing twice changes nothing";
}

TEST(LiveParticipantLoss, ALostFrameThatArrivesAfterAllIsLate) {
  LostFrameCase c;
  c.a.close_lost(9, "B");
  const auto r = c.a.on_receive(c.s3, c.a_state, c.describe);
  EXPECT_FALSE(r.duplicate) << "the application still gets it";
  const ChannelRecord channel = c.a.local(9)->incoming.at("B");
  EXPECT_EQ(channel.lost, std::vector<std::uint64_t>{3});
  EXPECT_EQ(channel.late, std::vector<std::uint64_t>{3});
  EXPECT_EQ(channel.in_flight.size(), 1u) << "the closed record's in-flight list is not reopened";
  EXPECT_EQ(check_live_cut(c.parts()), std::vector<std::string>{});
  EXPECT_TRUE(c.a.on_receive(c.s3, c.a_state, c.describe).duplicate);
  EXPECT_EQ(c.a.local(9)->incoming.at("B").late, std::vector<std::uint64_t>{3}) << "a duplicate is not late twice";
}

TEST(LiveParticipantLoss, ReportCarriesLostAndLateAndTheCheckCatchesBadOnes) {
  LostFrameCase c;
  c.a.close_lost(9, "B");
  c.a.on_receive(c.s3, c.a_state, c.describe);
  const LiveLocal parsed = live_local_from_json(to_json(*c.a.local(9)));
  EXPECT_EQ(parsed.incoming.at("B").lost, std::vector<std::uint64_t>{3});
  EXPECT_EQ(parsed.incoming.at("B").late, std::vector<std::uint64_t>{3});
  const auto report = global_report(9, c.parts(), {});
  EXPECT_EQ(report["status"], "complete");
  EXPECT_EQ(report["consistency"]["lost_messages"], 1);
  EXPECT_EQ(report["consistency"]["consistent"], true);

  auto parts = c.parts();
  parts["A"].incoming["B"].lost = {2};  // both lost and in flight, and seq 3 unaccounted... 
  parts["A"].incoming["B"].late = {3};  // ... and a late seq that was never lost
  const auto violations = check_live_cut(parts);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0], "B->A: seq 2 both lost and in flight");
  EXPECT_EQ(violations[1], "B->A: late seq 3 was not recorded as lost");
  parts["A"].incoming["B"].lost = {3, 7};
  parts["A"].incoming["B"].late = {};
  const auto outside = check_live_cut(parts);
  ASSERT_EQ(outside.size(), 2u);
  EXPECT_EQ(outside[0], "B->A: received before cut (1) + in flight (1) + lost (2) != sent before cut (3)");
  EXPECT_EQ(outside[1], "B->A: lost seq 7 lies outside the sender's cut");
}

TEST(LiveParticipantLoss, LossCloserWaitsBeforeClosing) {
  LostFrameCase c;
  LossCloser closer(std::chrono::seconds(5));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(closer.tick(c.a, t0).empty());
  EXPECT_TRUE(closer.tick(c.a, t0 + std::chrono::milliseconds(4999)).empty());
  EXPECT_FALSE(c.a.local(9)->complete);
  const auto closed = closer.tick(c.a, t0 + std::chrono::seconds(5));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, 9u);
  EXPECT_EQ(closed[0].from, "B");
  EXPECT_EQ(closed[0].lost, 1u);
  EXPECT_TRUE(c.a.local(9)->complete);
}

TEST(LiveParticipantLoss, LossCloserLeavesAGapThatFillsInTime) {
  LostFrameCase c;
  LossCloser closer(std::chrono::seconds(5));
  const auto t0 = std::chrono::steady_clock::time_point{};
  closer.tick(c.a, t0);
  c.a.on_receive(c.s3, c.a_state, c.describe);  // the reordered frame comes
  EXPECT_TRUE(c.a.local(9)->complete);
  EXPECT_TRUE(closer.tick(c.a, t0 + std::chrono::seconds(6)).empty());
  const ChannelRecord channel = c.a.local(9)->incoming.at("B");
  EXPECT_TRUE(channel.lost.empty());
  EXPECT_EQ(channel.in_flight.size(), 2u);
}

// Marks ride on a channel's frames only until its receiver acknowledges a seq past the cut
// (Stamp::acked_through, carried by every frame the other way): a frame stamped without the
// ack still carries the mark, the first one after it does not.
TEST(LiveParticipantAck, MarksStopRidingOnceTheReceiverAcknowledgesPastTheCut) {
  LiveParticipant a("A", 1);
  a.set_channels({"B"}, {"B"});
  LiveParticipant b("B", 2);
  b.set_channels({"A"}, {"A"});
  auto describe = [] { return InFlightMessage{0, "append", 10}; };
  auto state = [] { return std::string("a-state"); };
  b.stamp("A");  // seq 1, never delivered
  b.on_receive(a.stamp("B"), [] { return std::string("never"); }, describe);  // B has A's seq 1
  b.initiate(7, "b-state");  // cut on B->A: seq 1
  EXPECT_TRUE(b.marks_unacknowledged());
  const Stamp lost_marker = b.stamp("A");  // seq 2, lost on the wire
  EXPECT_EQ(lost_marker.marks, (std::vector<CutMark>{{7, 1}}));
  EXPECT_EQ(lost_marker.ack_incarnation, 1u);
  EXPECT_EQ(lost_marker.acked_through, 1u) << "B acknowledges A's seq 1";
  // A answers without having heard from B: its ack (nothing of B's) keeps the mark riding.
  const Stamp a_before = a.stamp("B");
  EXPECT_EQ(a_before.ack_incarnation, 0u);
  b.on_receive(a_before, [] { return std::string("never"); }, describe);
  const Stamp second = b.stamp("A");  // seq 3
  EXPECT_EQ(second.marks, (std::vector<CutMark>{{7, 1}}));
  // A gets seq 3: records (the mark), and its next stamp acknowledges B's seq 3 > cut 1.
  EXPECT_EQ(a.on_receive(second, state, describe).recorded, std::vector<SnapshotId>{7});
  const Stamp ack = a.stamp("B");
  EXPECT_EQ(ack.ack_incarnation, 2u);
  EXPECT_EQ(ack.acked_through, 3u);
  b.on_receive(ack, [] { return std::string("never"); }, describe);
  EXPECT_FALSE(b.marks_unacknowledged());
  EXPECT_TRUE(b.stamp("A").marks.empty()) << "acknowledged past the cut: the mark stays home";
  // The lost seq 2 is still accounted: A's channel from B waits for 1 and 2 (cut 1 known).
  EXPECT_FALSE(a.local(7)->complete);
  EXPECT_EQ(a.close_lost(7, "B"), 1u);
  EXPECT_EQ(a.local(7)->incoming.at("B").lost, std::vector<std::uint64_t>{1});
}

TEST(LiveParticipantAck, AnAcknowledgementWithinTheCutOrOfAnotherIncarnationKeepsTheMark) {
  LiveParticipant b("B", 2);
  b.set_channels({"A"}, {"A"});
  auto describe = [] { return InFlightMessage{}; };
  b.stamp("A");
  b.stamp("A");
  b.initiate(5, "b-state");  // cut 2
  // A received seq 2, which was sent before the cut: it does not carry the mark.
  b.on_receive(Stamp{"A", 1, 1, {}, 2, 2}, [] { return std::string("never"); }, describe);
  EXPECT_EQ(b.stamp("A").marks, (std::vector<CutMark>{{5, 2}}));
  // An ack naming an incarnation B never had (an old run of B) says nothing about these seqs.
  b.on_receive(Stamp{"A", 1, 2, {}, 99, 1000}, [] { return std::string("never"); }, describe);
  EXPECT_EQ(b.stamp("A").marks, (std::vector<CutMark>{{5, 2}}));
  EXPECT_TRUE(b.marks_unacknowledged());
  // stop_marking still bounds an unacknowledged mark.
  b.stop_marking(5);
  EXPECT_TRUE(b.stamp("A").marks.empty());
  EXPECT_FALSE(b.marks_unacknowledged());
}

TEST(LiveParticipantAck, EachChannelDropsOnlyTheMarksItsReceiverAcknowledged) {
  LiveParticipant a("A", 1);
  a.set_channels({"B", "C"}, {"B", "C"});
  auto describe = [] { return InFlightMessage{}; };
  a.initiate(3, "s3");  // cut 0 on both
  const Stamp to_b = a.stamp("B");
  a.stamp("C");
  a.initiate(4, "s4");  // cut 1 on both
  EXPECT_EQ(a.stamp("B").marks, (std::vector<CutMark>{{3, 0}, {4, 1}}));
  // B acknowledges seq 1 (it carried 3's mark, sent before 4's cut): 3 stays home on A->B only.
  a.on_receive(Stamp{"B", 20, 1, {}, 1, to_b.seq}, [] { return std::string("never"); }, describe);
  EXPECT_EQ(a.stamp("B").marks, (std::vector<CutMark>{{4, 1}}));
  EXPECT_EQ(a.stamp("C").marks, (std::vector<CutMark>{{3, 0}, {4, 1}}));
}

TEST(LiveParticipantSim, SenderRestartClosesTheChannel) {
  LiveParticipant a("A", 1);
  a.set_channels({"B"}, {"B"});
  a.initiate(3, "s");
  Stamp old{"B", 10, 1, {}};
  a.on_receive(old, [] { return std::string(); }, [] { return InFlightMessage{}; });
  EXPECT_FALSE(a.local(3)->complete);
  Stamp restarted{"B", 11, 1, {}};
  a.on_receive(restarted, [] { return std::string(); }, [] { return InFlightMessage{}; });
  EXPECT_TRUE(a.local(3)->complete);
  EXPECT_TRUE(a.local(3)->incoming.at("B").sender_restarted);
}

// B restarts: A's seqs so far went to B's earlier run. The new B must not wait for them (the
// loss closer would close the channel only after its wait, calling them lost, on every
// snapshot after the restart).
TEST(LiveParticipantSim, AReceiverThatRestartedDoesNotWaitForWhatWentToItsEarlierRun) {
  auto never = [] { return std::string("never"); };
  auto describe = [] { return InFlightMessage{0, "put", 1}; };
  LiveParticipant a("A", 1);
  a.set_channels({"B"}, {"B"});
  LiveParticipant old_b("B", 2);
  old_b.set_channels({"A"}, {"A"});
  for (int i = 0; i < 3; ++i) old_b.on_receive(a.stamp("B"), never, describe);
  a.on_receive(old_b.stamp("A"), never, describe);  // A hears from B's earlier run
  LiveParticipant b("B", 3);
  b.set_channels({"A"}, {"A"});
  const Stamp fourth = a.stamp("B");
  ASSERT_EQ(fourth.ack_incarnation, 2u);
  EXPECT_FALSE(b.on_receive(fourth, never, describe).duplicate);
  a.initiate(9, "a");  // A's cut on A->B: seq 4
  const auto marked = b.on_receive(a.stamp("B"), [] { return std::string("b"); }, describe);
  EXPECT_EQ(marked.recorded, std::vector<SnapshotId>{9});
  const LiveLocal local = *b.local(9);
  EXPECT_TRUE(local.complete);
  EXPECT_EQ(local.incoming.at("A").received_before_cut, 4u);
  EXPECT_TRUE(local.incoming.at("A").lost.empty());
  EXPECT_TRUE(b.waiting_for_gaps().empty());
  // A channel's first messages reordered without any restart are still told apart: see
  // DuplicateIsDroppedAndLateMessageIsInFlight (the sender acknowledged no earlier run).
}

// The same restart, but A heard from B's new run before sending it anything (a follower to
// follower link carries only marker frames): A's stamps acknowledge the new run, so only an
// ordered channel (cloudd's peer links) tells B to start at the first message.
TEST(LiveParticipantSim, AnOrderedChannelStartsAtTheFirstMessageOfThisRun) {
  auto never = [] { return std::string("never"); };
  auto describe = [] { return InFlightMessage{0, "append", 1}; };
  LiveParticipant a("A", 1);
  a.set_channels({"B"}, {"B"});
  for (int i = 0; i < 3; ++i) a.stamp("B");  // went to B's earlier run
  LiveParticipant ordered("B", 3), unordered("B", 3);
  ordered.set_ordered_start("A");
  for (LiveParticipant* b : {&ordered, &unordered}) b->set_channels({"A"}, {"A"});
  a.on_receive(ordered.stamp("A"), never, describe);  // hears from the new run (incarnation 3)
  const Stamp fourth = a.stamp("B");
  ASSERT_EQ(fourth.ack_incarnation, 3u);
  a.initiate(5, "a");  // cut 4 on A->B
  const Stamp marked = a.stamp("B");
  for (LiveParticipant* b : {&ordered, &unordered}) {
    b->on_receive(fourth, never, describe);
    b->on_receive(marked, [] { return std::string("b"); }, describe);
  }
  EXPECT_TRUE(ordered.local(5)->complete);
  EXPECT_EQ(ordered.local(5)->incoming.at("A").received_before_cut, 4u);
  EXPECT_TRUE(ordered.waiting_for_gaps().empty());
  EXPECT_FALSE(unordered.local(5)->complete) << "without the ordering it cannot tell";
  EXPECT_EQ(unordered.waiting_for_gaps(), (std::vector<std::pair<SnapshotId, ProcessId>>{{5, "A"}}));
}

}  // namespace

}  // namespace homestead::snapshot
