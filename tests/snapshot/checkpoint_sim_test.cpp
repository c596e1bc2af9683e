// Coordinated checkpoint + recovery in the deterministic simulator (common/sim): nodes of a
// token-passing application take Chandy-Lamport checkpoints to their simulated disks; a
// node crashes; every node rolls back to the recovery line and replays the saved in-flight
// messages. Afterwards no message is received without its send (no orphans), none is lost,
// and tokens are conserved. Independent (uncoordinated) checkpoints, for contrast, leave
// orphans or lost messages.
#include <gtest/gtest.h>

#include <sstream>

#include "cloud/snapshot/checkpoint.h"
#include "common/sim/simulator.h"
#include "tests/support/seeds.h"

namespace homestead::snapshot {
namespace {

using sim::NodeId;
using sim::kMillisecond;

struct Msg {
  enum class Kind { token, marker, saved } kind = Kind::token;
  std::uint64_t epoch = 0;     // execution after the epoch-th rollback; others are dropped
  SnapshotId checkpoint = 0;   // marker, saved
  std::int64_t tokens = 0;     // token
};

// The application's state, as checkpointed: tokens, and per peer how many token messages
// were sent to it and received from it (what the orphan check compares).
struct AppState {
  std::int64_t tokens = 0;
  std::map<ProcessId, std::uint64_t> sent, received;
};

using Participant = SnapshotParticipant<AppState, std::int64_t>;
using Saved = LocalSnapshot<AppState, std::int64_t>;

enum class Mode { coordinated, independent };

ProcessId name(NodeId id) { return "n" + std::to_string(id); }

// ---- disk format of a saved part: one line per field ----
std::string encode(const Saved& saved) {
  std::ostringstream out;
  out << "id " << saved.id << "\ntokens " << saved.state.tokens << '\n';
  for (const auto& [peer, n] : saved.state.sent) out << "sent " << peer << ' ' << n << '\n';
  for (const auto& [peer, n] : saved.state.received) out << "received " << peer << ' ' << n << '\n';
  for (const auto& [peer, messages] : saved.channels) {
    for (auto tokens : messages) out << "inflight " << peer << ' ' << tokens << '\n';
  }
  return out.str();
}

Saved decode(const std::string& text) {
  Saved saved;
  std::istringstream in(text);
  std::string field, peer;
  while (in >> field) {
    if (field == "id") {
      in >> saved.id;
    } else if (field == "tokens") {
      in >> saved.state.tokens;
    } else {
      std::int64_t n = 0;
      in >> peer >> n;
      if (field == "sent") saved.state.sent[peer] = static_cast<std::uint64_t>(n);
      if (field == "received") saved.state.received[peer] = static_cast<std::uint64_t>(n);
      if (field == "inflight") saved.channels[peer].push_back(n);
    }
  }
  return saved;
}

struct Config {
  std::size_t nodes = 4;
  std::int64_t initial_tokens = 10;
  Mode mode = Mode::coordinated;
  sim::Time checkpoint_every = 30 * kMillisecond;
  sim::Time stop_sending_at = 400 * kMillisecond;
};

constexpr std::uint64_t kAppTimer = 1;
constexpr std::uint64_t kCheckpointTimer = 2;
constexpr NodeId kCoordinator = 0;

class CheckpointNode : public sim::Process<Msg> {
 public:
  CheckpointNode(NodeId self, const Config& config) : self_(self), config_(config) {}

  void start(sim::Context<Msg>& ctx) override {
    std::vector<ProcessId> peers;
    for (NodeId n = 0; n < config_.nodes; ++n) {
      if (n != self_) peers.push_back(name(n));
    }
    participant_ = std::make_unique<Participant>(name(self_), peers, peers);
    state_.tokens = config_.initial_tokens;
    std::optional<SnapshotId> line;
    if (auto recover = ctx.disk().get("recover")) {  // "<line or none> <epoch>", left by recovery
      std::istringstream in(*recover);
      std::string line_text;
      in >> line_text >> epoch_;
      if (line_text != "none") line = std::stoull(line_text);
      roll_back(ctx, line);
    }
    std::vector<ProcessId> everyone = peers;
    everyone.push_back(name(self_));
    coordinator_ = std::make_unique<CheckpointCoordinator>(everyone, line ? *line + 1 : 0, line);
    ctx.set_timer(ctx.rng().uniform(1, 3) * kMillisecond, kAppTimer);
    if (config_.mode == Mode::independent || self_ == kCoordinator) {
      ctx.set_timer(ctx.rng().uniform(1, config_.checkpoint_every), kCheckpointTimer);
    }
  }

  void receive(sim::Context<Msg>& ctx, NodeId from, const Msg& msg) override {
    if (msg.epoch != epoch_) return;  // from the execution the rollback abandoned
    switch (msg.kind) {
      case Msg::Kind::token:
        participant_->on_message(name(from), msg.tokens);
        state_.tokens += msg.tokens;
        ++state_.received[name(from)];
        return;
      case Msg::Kind::marker:
        send_markers(ctx, participant_->on_marker(msg.checkpoint, name(from), state_));
        save_if_complete(ctx, msg.checkpoint);
        return;
      case Msg::Kind::saved:
        if (coordinator_->saved(msg.checkpoint, name(from))) {
          ctx.disk().put("line", std::to_string(msg.checkpoint));
          ctx.disk().sync();
        }
        return;
    }
  }

  void timer(sim::Context<Msg>& ctx, sim::TimerId, std::uint64_t tag) override {
    if (tag == kAppTimer) {
      if (ctx.now() < config_.stop_sending_at && state_.tokens > 0) {
        const auto to = static_cast<NodeId>((self_ + ctx.rng().uniform(1, config_.nodes - 1)) % config_.nodes);
        const auto amount = ctx.rng().uniform(1, state_.tokens);
        state_.tokens -= amount;
        ++state_.sent[name(to)];
        ctx.send(to, Msg{Msg::Kind::token, epoch_, 0, amount});
      }
      ctx.set_timer(ctx.rng().uniform(1, 3) * kMillisecond, kAppTimer);
      return;
    }
    if (config_.mode == Mode::independent) {  // each node alone, no channel state
      ctx.disk().put("solo", encode(Saved{0, name(self_), state_, {}}));
      ctx.disk().sync();
    } else if (coordinator_->idle()) {
      const SnapshotId id = coordinator_->begin();
      send_markers(ctx, participant_->initiate(id, state_));
      save_if_complete(ctx, id);
    }
    ctx.set_timer(config_.checkpoint_every, kCheckpointTimer);
  }

  const AppState& state() const { return state_; }
  std::uint64_t epoch() const { return epoch_; }

 private:
  void send_markers(sim::Context<Msg>& ctx, const std::vector<MarkerSend>& markers) {
    for (const auto& marker : markers) {
      ctx.send(static_cast<NodeId>(std::stoul(marker.to.substr(1))), Msg{Msg::Kind::marker, epoch_, marker.id, 0});
    }
  }

  // Durable before anyone is told: the coordinator may make it the recovery line at once.
  void save_if_complete(sim::Context<Msg>& ctx, SnapshotId id) {
    auto local = participant_->local(id);
    if (!local) return;
    ctx.disk().put("ckpt/" + std::to_string(id), encode(*local));
    ctx.disk().sync();
    participant_->forget(id);
    if (self_ == kCoordinator) {
      if (coordinator_->saved(id, name(self_))) {
        ctx.disk().put("line", std::to_string(id));
        ctx.disk().sync();
      }
    } else {
      ctx.send(kCoordinator, Msg{Msg::Kind::saved, epoch_, id, 0});
    }
  }

  void roll_back(sim::Context<Msg>& ctx, std::optional<SnapshotId> line) {
    std::optional<std::string> saved;
    if (config_.mode == Mode::independent) {
      saved = ctx.disk().get("solo");
    } else if (line) {
      saved = ctx.disk().get("ckpt/" + std::to_string(*line));
      if (!saved) throw std::logic_error(name(self_) + " lacks its part of recovery line " + std::to_string(*line));
    }
    if (!saved) return;  // no checkpoint yet: back to the initial state
    const auto plan = plan_recovery(decode(*saved));
    state_ = plan.state;
    for (const auto& [from, tokens] : plan.replay) {  // handle again what was in flight
      state_.tokens += tokens;
      ++state_.received[from];
    }
  }

  NodeId self_;
  Config config_;
  AppState state_;
  std::uint64_t epoch_ = 0;
  std::unique_ptr<Participant> participant_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
};

struct Audit {
  std::int64_t tokens_at_nodes = 0;
  std::size_t orphans = 0;  // channels where more was received than sent
  std::size_t lost = 0;     // channels where less was received than sent (nothing in flight)
};

Audit audit(sim::Simulator<Msg>& sim, const Config& config) {
  Audit result;
  for (NodeId d = 0; d < config.nodes; ++d) {
    const auto& receiver = sim.process_as<CheckpointNode>(d).state();
    result.tokens_at_nodes += receiver.tokens;
    for (NodeId s = 0; s < config.nodes; ++s) {
      if (s == d) continue;
      const auto& sender = sim.process_as<CheckpointNode>(s).state();
      const auto sent = sender.sent.count(name(d)) ? sender.sent.at(name(d)) : 0;
      const auto received = receiver.received.count(name(s)) ? receiver.received.at(name(s)) : 0;
      if (received > sent) ++result.orphans;
      if (received < sent) ++result.lost;
    }
  }
  return result;
}

struct Outcome {
  std::optional<SnapshotId> line;  // the recovery line used
  Audit after_recovery;            // right after rollback + replay, before anything new is sent
  Audit at_end;                    // after the application stopped and the network drained
};

// Runs the application, crashes one node at a random moment, rolls everyone back, runs on.
Outcome crash_and_recover(const Config& config, std::uint64_t seed) {
  sim::Simulator<Msg> sim(seed);
  sim.set_default_link(sim::LinkConfig{0.0, 0.0, 1 * kMillisecond, 6 * kMillisecond, true});
  for (NodeId n = 0; n < config.nodes; ++n) {
    sim.add_node([config](NodeId id) { return std::make_unique<CheckpointNode>(id, config); });
  }
  const sim::Time crash_at = sim.rng().uniform(120, 300) * kMillisecond;
  const auto victim = static_cast<NodeId>(sim.rng().uniform(0, config.nodes - 1));
  Outcome outcome;
  sim.run_until(crash_at);
  sim.crash(victim);
  sim.run_for(5 * kMillisecond);  // the others run on, unaware, until recovery starts

  // Recovery manager: read the line from the coordinator's stable storage, roll back all.
  if (auto line = sim.disk(kCoordinator).get("line")) outcome.line = std::stoull(*line);
  for (NodeId n = 0; n < config.nodes; ++n) sim.crash(n);
  for (NodeId n = 0; n < config.nodes; ++n) {
    sim.disk(n).put("recover", (outcome.line ? std::to_string(*outcome.line) : std::string("none")) + " 1");
    sim.disk(n).sync();
  }
  for (NodeId n = 0; n < config.nodes; ++n) sim.restart(n);
  outcome.after_recovery = audit(sim, config);

  sim.run_until(config.stop_sending_at + 100 * kMillisecond);  // stop sending, let the network drain
  outcome.at_end = audit(sim, config);
  return outcome;
}

TEST(CoordinatedCheckpoint, RecoveryHasNoOrphansAndLosesNothing) {
  homestead::testing::for_each_seed(30, [](std::uint64_t seed) {
    Config config;
    config.nodes = 3 + seed % 3;
    const auto total = config.initial_tokens * static_cast<std::int64_t>(config.nodes);
    const Outcome outcome = crash_and_recover(config, seed);
    ASSERT_TRUE(outcome.line.has_value()) << "no checkpoint completed before the crash";
    EXPECT_EQ(outcome.after_recovery.orphans, 0u);
    // Saved in-flight messages were replayed, so every channel is back in step.
    EXPECT_EQ(outcome.after_recovery.lost, 0u);
    EXPECT_EQ(outcome.after_recovery.tokens_at_nodes, total);
    EXPECT_EQ(outcome.at_end.orphans, 0u);
    EXPECT_EQ(outcome.at_end.lost, 0u);
    EXPECT_EQ(outcome.at_end.tokens_at_nodes, total);
  });
}

// Without coordination, each node's latest checkpoint is taken on its own; the set of them
// is usually not a consistent cut. Over these fixed runs some recovery must show an orphan
// (or a lost message): the audit that passes above can fail.
TEST(CoordinatedCheckpoint, IndependentCheckpointsLeaveOrphans) {
  std::size_t orphans = 0, lost = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Config config;
    config.mode = Mode::independent;
    const Outcome outcome = crash_and_recover(config, seed);
    orphans += outcome.after_recovery.orphans;
    lost += outcome.after_recovery.lost;
  }
  EXPECT_GT(orphans, 0u);
  EXPECT_GT(lost, 0u);
}

TEST(CheckpointCoordinator, RecoveryLineIsTheNewestCheckpointSavedByAll) {
  CheckpointCoordinator coordinator({"a", "b"});
  EXPECT_FALSE(coordinator.recovery_line().has_value());
  const auto first = coordinator.begin();
  const auto second = coordinator.begin();
  EXPECT_FALSE(coordinator.saved(second, "a"));
  EXPECT_FALSE(coordinator.saved(first, "a"));
  EXPECT_TRUE(coordinator.saved(second, "b"));
  EXPECT_EQ(coordinator.recovery_line(), second);
  EXPECT_FALSE(coordinator.saved(first, "b"));  // older one finishing late does not move the line back
  EXPECT_EQ(coordinator.recovery_line(), second);
  EXPECT_TRUE(coordinator.idle());
  EXPECT_THROW(coordinator.saved(first, "b"), std::logic_error);
}

TEST(CheckpointCoordinator, RecoveryPlanReplaysInFlightMessagesInOrder) {
  Saved saved;
  saved.state.tokens = 3;
  saved.channels["x"] = {1, 2};
  saved.channels["y"] = {4};
  const auto plan = plan_recovery(decode(encode(saved)));
  EXPECT_EQ(plan.state.tokens, 3);
  EXPECT_EQ(plan.replay, (std::vector<std::pair<ProcessId, std::int64_t>>{{"x", 1}, {"x", 2}, {"y", 4}}));
}

}  // namespace
}  // namespace homestead::snapshot
