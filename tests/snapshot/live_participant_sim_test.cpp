// The non-FIFO live snapshot core (cloud/snapshot/live_participant.h) in the deterministic
// simulator: a token-passing mesh whose links reorder messages and duplicate them (like
// retried RPCs), with several snapshots started at random times from random nodes, some
// at once. For every snapshot:
//  - tokens are conserved (recorded states + recorded in-flight tokens = total);
//  - the cut is consistent, checked against ground truth the test keeps itself: the
//    in-flight messages of a channel are exactly the ones the sender sent before its cut
//    that had not arrived when the receiver recorded (nothing orphaned, nothing lost);
//  - the counters line up: received-before-cut + in-flight = the sender's cut seq.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cloud/snapshot/live_participant.h"
#include "common/sim/simulator.h"
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

constexpr std::int64_t kInitialTokens = 100;
constexpr std::uint64_t kSendTimer = 1;

ProcessId name(NodeId id) { return "n" + std::to_string(id); }

// Ground truth kept outside the core: what each node had received (by channel and seq) at
// the moment it recorded each snapshot.
struct Truth {
  // (snapshot, receiver, sender) -> seqs received before the receiver recorded
  std::map<std::tuple<SnapshotId, ProcessId, ProcessId>, std::set<std::uint64_t>> before_cut;
  // (receiver, sender) -> seqs received so far
  std::map<std::pair<ProcessId, ProcessId>, std::set<std::uint64_t>> received;
};

class TokenNode : public sim::Process<Msg> {
 public:
  TokenNode(NodeId id, std::size_t nodes, Truth& truth, bool* sending)
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

  void start(sim::Context<Msg>& ctx) override { ctx.set_timer(ctx.rng().uniform(1, 5) * kMillisecond, kSendTimer); }

  void timer(sim::Context<Msg>& ctx, sim::TimerId, std::uint64_t) override {
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
      on_recorded(ctx, m.initiate);
      return;
    }
    const auto result = participant_.on_receive(
        m.stamp, [&] { return std::to_string(tokens_); },
        [&] { return InFlightMessage{0, "token", static_cast<std::uint64_t>(m.tokens)}; });
    for (SnapshotId id : result.recorded) on_recorded(ctx, id);
    if (result.duplicate) return;
    truth_.received[{name(id_), m.stamp.from}].insert(m.stamp.seq);
    tokens_ += m.tokens;
  }

  const LiveParticipant& participant() const { return participant_; }
  std::int64_t tokens() const { return tokens_; }

 private:
  void send(sim::Context<Msg>& ctx, NodeId to, std::int64_t tokens) {
    ctx.send(to, Msg{participant_.stamp(name(to)), tokens});
  }

  void on_recorded(sim::Context<Msg>& ctx, SnapshotId id) {
    for (NodeId peer : peer_ids_) {
      truth_.before_cut[{id, name(id_), name(peer)}] = truth_.received[{name(id_), name(peer)}];
    }
    for (NodeId peer : peer_ids_) send(ctx, peer, 0);  // the explicit marker
  }

  NodeId id_;
  LiveParticipant participant_;
  Truth& truth_;
  bool* sending_;
  std::int64_t tokens_ = kInitialTokens;
  std::vector<NodeId> peer_ids_;
};

// Every message sent, by channel: seq -> tokens (the test's log, not the core's).
struct SendLog {
  std::map<std::pair<ProcessId, ProcessId>, std::map<std::uint64_t, std::int64_t>> sent;
};

void run_scenario(std::uint64_t seed, std::size_t nodes, std::size_t snapshots) {
  sim::Simulator<Msg> simulator(seed);
  sim::LinkConfig link;
  link.fifo = false;
  link.duplicate = 0.15;
  link.min_delay = 1 * kMillisecond;
  link.max_delay = 30 * kMillisecond;
  simulator.set_default_link(link);
  Truth truth;
  bool sending = true;
  for (std::size_t i = 0; i < nodes; ++i) {
    simulator.add_node([&, nodes](NodeId id) { return std::make_unique<TokenNode>(id, nodes, truth, &sending); });
  }
  auto node = [&](NodeId id) -> TokenNode& { return simulator.process_as<TokenNode>(id); };

  // Snapshot ids are arbitrary 64-bit numbers chosen by initiators; start some close
  // together so they overlap.
  std::vector<SnapshotId> ids;
  for (std::size_t i = 0; i < snapshots; ++i) {
    const SnapshotId id = simulator.rng().next() | 1;
    const auto when = simulator.rng().uniform(20, 200) * kMillisecond;
    const auto initiator = static_cast<NodeId>(simulator.rng().uniform(0, static_cast<std::int64_t>(nodes) - 1));
    ids.push_back(id);
    Msg start;
    start.initiate = id;
    simulator.at(when, [&simulator, initiator, start] { simulator.inject(initiator, start); });
  }
  simulator.at(400 * kMillisecond, [&] { sending = false; });
  auto all_complete = [&] {
    for (SnapshotId id : ids) {
      for (NodeId n = 0; n < nodes; ++n) {
        const auto local = node(n).participant().local(id);
        if (!local || !local->complete) return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(simulator.run_until(all_complete, 10 * sim::kSecond)) << "snapshots did not complete";

  const std::int64_t total = kInitialTokens * static_cast<std::int64_t>(nodes);
  for (SnapshotId id : ids) {
    std::int64_t sum = 0;
    std::map<ProcessId, LiveLocal> parts;
    for (NodeId n = 0; n < nodes; ++n) {
      parts[name(n)] = *node(n).participant().local(id);
      sum += std::stoll(parts[name(n)].state);
    }
    for (const auto& [receiver, local] : parts) {
      for (const auto& [sender, channel] : local.incoming) {
        const std::uint64_t cut = parts.at(sender).sent_through.at(receiver);
        ASSERT_TRUE(channel.cut_known) << sender << "->" << receiver;
        EXPECT_EQ(channel.sender_cut_seq, cut) << sender << "->" << receiver;
        EXPECT_EQ(channel.received_before_cut + channel.in_flight.size(), cut) << sender << "->" << receiver;
        // Ground truth: in flight = sent before the sender's cut, not received before ours.
        const auto& before = truth.before_cut.at({id, receiver, sender});
        std::set<std::uint64_t> expected;
        for (std::uint64_t seq = 1; seq <= cut; ++seq) {
          if (!before.count(seq)) expected.insert(seq);
        }
        std::set<std::uint64_t> recorded;
        for (const auto& m : channel.in_flight) {
          EXPECT_TRUE(recorded.insert(m.seq).second) << "seq " << m.seq << " recorded twice on " << sender << "->" << receiver;
          sum += static_cast<std::int64_t>(m.bytes);
        }
        EXPECT_EQ(recorded, expected) << "snapshot " << id << " channel " << sender << "->" << receiver;
        // No orphan: nothing received before our cut was sent after the sender's.
        if (!before.empty()) {
          EXPECT_LE(*before.rbegin(), cut) << sender << "->" << receiver;
        }
      }
    }
    EXPECT_EQ(sum, total) << "snapshot " << id << " does not conserve tokens";
  }
}

}  // namespace

namespace {

TEST(LiveParticipantSim, ThreeNodesReorderedAndDuplicated) {
  testing::for_each_seed(60, [](std::uint64_t seed) { run_scenario(seed, 3, 1); });
}

TEST(LiveParticipantSim, FiveNodesConcurrentSnapshots) {
  testing::for_each_seed(40, [](std::uint64_t seed) { run_scenario(seed, 5, 4); });
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

}  // namespace

}  // namespace homestead::snapshot
