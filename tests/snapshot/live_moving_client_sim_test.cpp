// Live snapshots (cloud/snapshot/live_participant.h) when a client's channels come and go:
// a gateway-like client talks to one cloud member at a time (request -> stamped reply, the
// way a gateway's Sync calls work) and moves from member to member (it located its home
// group through one member, then syncs with the leader; the leader changes). Members only
// learn of the client when its first request arrives, so a member can record a snapshot
// before the client is one of its channels, and the client can record before it ever
// sent to a member it talks to later.
//
// What must hold (CI saw the first two fail on real processes, snapshot_live_gatewayd_test):
//  - the member's replies after its cut carry the cut mark even though the client was not
//    its channel when it recorded: the client records (else it never does, and its reply
//    receives after the member's cut look like receives before it: orphans);
//  - the member tracks the client's channel from its first request: requests the client
//    sent before its own cut that arrive after the member recorded are in flight;
//  - every snapshot completes, and is consistent against the test's own ground truth
//    (live_truth.h), with tokens conserved.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cloud/snapshot/live_participant.h"
#include "common/sim/simulator.h"
#include "tests/snapshot/live_truth.h"
#include "tests/support/seeds.h"

namespace homestead::snapshot {
namespace {

using sim::kMillisecond;
using sim::NodeId;

struct Msg {
  Stamp stamp;
  std::int64_t tokens = 0;
  bool request = false;     // client -> member; a member answers every one
  SnapshotId initiate = 0;  // injected by the test: "start this snapshot here"
};

constexpr std::uint64_t kSendTimer = 1;
constexpr std::uint64_t kHousekeepingTimer = 2;
constexpr std::uint64_t kMoveTimer = 3;

ProcessId member_name(NodeId id) { return "cloud-" + std::to_string(id); }
const ProcessId kClient = "gateway:home/gw";

// What both kinds of node share: the participant, the ground truth, marking bookkeeping.
class Participant : public sim::Process<Msg> {
 public:
  Participant(ProcessId self, std::uint64_t incarnation, LiveTruth& truth, std::vector<ProcessId> everyone)
      : self_(std::move(self)), participant_(self_, incarnation), truth_(truth), everyone_(std::move(everyone)) {
    everyone_.erase(std::remove(everyone_.begin(), everyone_.end(), self_), everyone_.end());
  }

  const LiveParticipant& participant() const { return participant_; }
  std::int64_t tokens() const { return tokens_; }

 protected:
  void send(sim::Context<Msg>& ctx, NodeId to, const ProcessId& to_name, std::int64_t tokens, bool request) {
    Msg m;
    m.stamp = participant_.stamp(to_name);
    m.tokens = tokens;
    m.request = request;
    tokens_ -= tokens;
    truth_.on_sent(self_, to_name, m.stamp.seq, tokens);
    ctx.send(to, m);
  }

  // Returns false for a duplicate. Records (and calls on_recorded) as the core says.
  bool receive_stamped(sim::Context<Msg>& ctx, const Msg& m) {
    const auto result = participant_.on_receive(
        m.stamp, [&] { return std::to_string(tokens_); },
        [&] { return InFlightMessage{0, m.request ? "request" : "reply", static_cast<std::uint64_t>(m.tokens)}; });
    if (!result.recorded.empty()) recorded(ctx, result.recorded);
    if (result.duplicate) return false;
    truth_.on_received(self_, m.stamp.from, m.stamp.seq);
    tokens_ += m.tokens;
    return true;
  }

  void initiate(sim::Context<Msg>& ctx, SnapshotId id) {
    participant_.initiate(id, std::to_string(tokens_));
    recorded(ctx, {id});
  }

  // Stops marking after kMarkFor; true while some snapshot still marks and markers are due.
  bool markers_due(sim::Context<Msg>& ctx) {
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
    if (!marking || ctx.now() - last_markers_ < kMarkerRepeat) return false;
    last_markers_ = ctx.now();
    return true;
  }

  virtual void send_markers(sim::Context<Msg>& ctx) = 0;

  ProcessId self_;
  LiveParticipant participant_;
  std::int64_t tokens_ = kInitialTokens;

 private:
  // Several snapshots can be recorded on one message: all at the same cut, then markers.
  void recorded(sim::Context<Msg>& ctx, const std::vector<SnapshotId>& ids) {
    for (SnapshotId id : ids) {
      recorded_at_[id] = last_markers_ = ctx.now();
      truth_.on_recorded(id, self_, everyone_);
    }
    send_markers(ctx);
  }

  LiveTruth& truth_;
  std::vector<ProcessId> everyone_;
  std::map<SnapshotId, sim::Time> recorded_at_;
  sim::Time last_markers_ = 0;
};

// A cloud member: passes tokens to the other members, answers the client's requests (with
// some tokens), and counts the client as a channel once it heard it (as cloudd's
// SnapshotChannels does when a gateway's first Sync call arrives).
class Member : public Participant {
 public:
  Member(NodeId id, std::size_t members, NodeId client, LiveTruth& truth, std::vector<ProcessId> everyone, bool* sending)
      : Participant(member_name(id), 10 + id, truth, std::move(everyone)), client_(client), sending_(sending) {
    for (NodeId other = 0; other < members; ++other) {
      if (other != id) peers_.push_back(other);
    }
    update_channels();
  }

  void start(sim::Context<Msg>& ctx) override {
    ctx.set_timer(ctx.rng().uniform(1, 5) * kMillisecond, kSendTimer);
    ctx.set_timer(kHousekeepingEvery, kHousekeepingTimer);
  }

  void timer(sim::Context<Msg>& ctx, sim::TimerId, std::uint64_t tag) override {
    if (tag == kHousekeepingTimer) {
      if (markers_due(ctx)) send_markers(ctx);
      ctx.set_timer(kHousekeepingEvery, kHousekeepingTimer);
      return;
    }
    if (!*sending_) return;
    if (tokens_ > 0) {
      const NodeId to = peers_[static_cast<std::size_t>(ctx.rng().uniform(0, static_cast<std::int64_t>(peers_.size()) - 1))];
      send(ctx, to, member_name(to), ctx.rng().uniform(1, std::min<std::int64_t>(tokens_, 10)), false);
    }
    ctx.set_timer(ctx.rng().uniform(1, 5) * kMillisecond, kSendTimer);
  }

  void receive(sim::Context<Msg>& ctx, NodeId, const Msg& m) override {
    if (m.initiate != 0) return initiate(ctx, m.initiate);
    if (m.stamp.from == kClient && !heard_client_) {
      heard_client_ = true;
      update_channels();
    }
    if (!receive_stamped(ctx, m) || !m.request) return;
    // The reply: an RPC answer rides back on the request's exchange.
    const std::int64_t back = *sending_ && tokens_ > 0 ? ctx.rng().uniform(0, std::min<std::int64_t>(tokens_, 3)) : 0;
    send(ctx, client_, kClient, back, false);
  }

 private:
  void update_channels() {
    std::vector<ProcessId> channels;
    for (NodeId peer : peers_) channels.push_back(member_name(peer));
    if (heard_client_) channels.push_back(kClient);
    participant_.set_channels(channels, channels);
  }
  // A member cannot call the client: its markers reach the client on replies only.
  void send_markers(sim::Context<Msg>& ctx) override {
    for (NodeId peer : peers_) send(ctx, peer, member_name(peer), 0, false);
  }

  NodeId client_;
  bool* sending_;
  std::vector<NodeId> peers_;
  bool heard_client_ = false;
};

// The gateway-like client: requests to its current member only; moves now and then.
class Client : public Participant {
 public:
  Client(std::size_t members, LiveTruth& truth, std::vector<ProcessId> everyone, bool* sending)
      : Participant(kClient, 99, truth, std::move(everyone)), members_(members), sending_(sending) {}

  void start(sim::Context<Msg>& ctx) override {
    current_ = static_cast<NodeId>(ctx.rng().uniform(0, static_cast<std::int64_t>(members_) - 1));
    ctx.set_timer(ctx.rng().uniform(1, 5) * kMillisecond, kSendTimer);
    ctx.set_timer(kHousekeepingEvery, kHousekeepingTimer);
    ctx.set_timer(ctx.rng().uniform(20, 100) * kMillisecond, kMoveTimer);
  }

  void timer(sim::Context<Msg>& ctx, sim::TimerId, std::uint64_t tag) override {
    if (tag == kHousekeepingTimer) {
      if (markers_due(ctx)) send_markers(ctx);
      ctx.set_timer(kHousekeepingEvery, kHousekeepingTimer);
    } else if (tag == kMoveTimer) {
      current_ = static_cast<NodeId>(ctx.rng().uniform(0, static_cast<std::int64_t>(members_) - 1));
      ctx.set_timer(ctx.rng().uniform(20, 100) * kMillisecond, kMoveTimer);
    } else if (*sending_) {
      request(ctx, current_, ctx.rng().uniform(0, std::min<std::int64_t>(tokens_, 5)));
      ctx.set_timer(ctx.rng().uniform(1, 5) * kMillisecond, kSendTimer);
    }
  }

  void receive(sim::Context<Msg>& ctx, NodeId, const Msg& m) override {
    if (heard_.insert(m.stamp.from).second) update_channels();
    receive_stamped(ctx, m);
  }

 private:
  void request(sim::Context<Msg>& ctx, NodeId to, std::int64_t tokens) {
    if (used_.insert(member_name(to)).second) update_channels();
    send(ctx, to, member_name(to), tokens, true);
  }
  void update_channels() {
    participant_.set_channels({heard_.begin(), heard_.end()}, {used_.begin(), used_.end()});
  }
  // Like a gateway: an empty request (a Pull) to every member it has talked to.
  void send_markers(sim::Context<Msg>& ctx) override {
    for (NodeId member = 0; member < members_; ++member) {
      if (used_.count(member_name(member))) request(ctx, member, 0);
    }
  }

  std::size_t members_;
  bool* sending_;
  NodeId current_ = 0;
  std::set<ProcessId> heard_, used_;
};

void run_moving_client(std::uint64_t seed, std::size_t members, std::size_t snapshots) {
  sim::Simulator<Msg> simulator(seed);
  sim::LinkConfig link;
  link.fifo = false;
  link.duplicate = 0.1;
  link.min_delay = 1 * kMillisecond;
  link.max_delay = 20 * kMillisecond;
  simulator.set_default_link(link);
  LiveTruth truth;
  bool sending = true;
  std::vector<ProcessId> everyone{kClient};
  for (NodeId m = 0; m < members; ++m) everyone.push_back(member_name(m));
  const auto client = static_cast<NodeId>(members);
  for (NodeId m = 0; m < members; ++m) {
    simulator.add_node([&](NodeId id) { return std::make_unique<Member>(id, members, client, truth, everyone, &sending); });
  }
  simulator.add_node([&](NodeId) { return std::make_unique<Client>(members, truth, everyone, &sending); });
  // Snapshots start at members (POST /api/v1/snapshots), from a few ms after the client's
  // first request on, while it moves.
  const auto ids = schedule_snapshots(simulator, snapshots, 2, 250, members);
  simulator.at(400 * kMillisecond, [&] { sending = false; });
  expect_snapshots_complete_and_consistent<Msg>(
      simulator, ids,
      [&] {
        std::map<ProcessId, const LiveParticipant*> all{{kClient, &simulator.process_as<Client>(client).participant()}};
        for (NodeId m = 0; m < members; ++m) all[member_name(m)] = &simulator.process_as<Member>(m).participant();
        return all;
      },
      truth, kInitialTokens * static_cast<std::int64_t>(members + 1));
}

TEST(LiveParticipantMovingClient, ClientMovesBetweenThreeMembersWhileSnapshotsRun) {
  testing::for_each_seed(60, [](std::uint64_t seed) { run_moving_client(seed, 3, 3); });
}

TEST(LiveParticipantMovingClient, ClientMovesBetweenFiveMembersOneSnapshot) {
  testing::for_each_seed(40, [](std::uint64_t seed) { run_moving_client(seed, 5, 1); });
}

// By hand, the case CI saw: member 1 recorded with the client as a channel (the client
// located its home through it: 4 requests and replies), member 3 recorded before the
// client's first request to it. Member 3's reply must carry the mark, its first request
// must be in flight, and member 1 learns the client's cut from the client's explicit marker.
TEST(LiveParticipantMovingClient, AMemberThatRecordedBeforeHearingTheClientStillMarksItsReplies) {
  LiveParticipant one("cloud-1", 1), three("cloud-3", 3), client(kClient, 9);
  one.set_channels({"cloud-3", kClient}, {"cloud-3", kClient});
  three.set_channels({"cloud-1"}, {"cloud-1"});
  client.set_channels({}, {"cloud-1"});
  auto describe = [] { return InFlightMessage{0, "sync", 0}; };
  auto never = [] { return std::string("never"); };
  for (int i = 0; i < 4; ++i) {
    one.on_receive(client.stamp("cloud-1"), never, describe);
    client.set_channels({"cloud-1"}, {"cloud-1"});
    client.on_receive(one.stamp(kClient), never, describe);
  }
  one.initiate(5, "one-state");
  three.on_receive(one.stamp("cloud-3"), [] { return std::string("three-state"); }, describe);  // the marker
  ASSERT_TRUE(three.known(5));
  one.on_receive(three.stamp("cloud-1"), never, describe);  // member 3's explicit marker

  // The client moves to member 3, which has not heard it yet.
  client.set_channels({"cloud-1"}, {"cloud-1", "cloud-3"});
  const Stamp request = client.stamp("cloud-3");
  EXPECT_TRUE(request.marks.empty()) << "the client has not recorded";
  three.set_channels({"cloud-1", kClient}, {"cloud-1", kClient});
  three.on_receive(request, never, describe);
  ASSERT_EQ(three.local(5)->incoming.count(kClient), 1u) << "the late channel is tracked";
  EXPECT_EQ(three.local(5)->incoming.at(kClient).in_flight.size(), 1u) << "sent before the client's cut";
  EXPECT_FALSE(three.local(5)->complete);

  const Stamp reply = three.stamp(kClient);
  EXPECT_EQ(reply.marks, (std::vector<CutMark>{{5, 0}})) << "nothing went to the client before member 3's cut";
  client.set_channels({"cloud-1", "cloud-3"}, {"cloud-1", "cloud-3"});
  EXPECT_EQ(client.on_receive(reply, [] { return std::string("client-state"); }, describe).recorded,
            std::vector<SnapshotId>{5});
  EXPECT_EQ(client.local(5)->sent_through, (std::map<ProcessId, std::uint64_t>{{"cloud-1", 4}, {"cloud-3", 1}}));

  // The client's explicit markers (a Pull to each member it talks to) carry its cuts.
  one.on_receive(client.stamp("cloud-1"), never, describe);
  three.on_receive(client.stamp("cloud-3"), never, describe);
  EXPECT_TRUE(one.local(5)->complete);
  EXPECT_TRUE(three.local(5)->complete);
  EXPECT_EQ(three.local(5)->incoming.at(kClient).sender_cut_seq, 1u);
  // Member 1's reply to the marker Pull carries its cut (4): the client's channels close.
  client.on_receive(one.stamp(kClient), never, describe);
  EXPECT_TRUE(client.local(5)->complete);
}

}  // namespace
}  // namespace homestead::snapshot
