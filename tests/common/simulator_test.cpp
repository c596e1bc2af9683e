// Tests of the deterministic simulator itself (common/sim).
#include "common/sim/simulator.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/process.h"
#include "tests/support/seeds.h"

namespace homestead::sim {
namespace {

struct Note {
  int seq = 0;
  std::string text;
};
std::string to_string(const Note& note) { return "note(" + std::to_string(note.seq) + "," + note.text + ")"; }

// Records every delivery; on a timer with tag 1 it sends `burst` numbered notes to `peer`.
class Recorder : public Process<Note> {
 public:
  struct Delivery {
    NodeId from;
    int seq;
    Time at;
  };
  std::vector<Delivery> deliveries;
  std::vector<std::uint64_t> timers;

  void receive(Context<Note>& ctx, NodeId from, const Note& note) override {
    deliveries.push_back({from, note.seq, ctx.now()});
    // "kick" from the test asks this node to ping node `seq`, which answers "pong".
    if (note.text == "kick") ctx.send(static_cast<NodeId>(note.seq), Note{note.seq, "ping"});
    if (note.text == "ping") ctx.send(from, Note{note.seq, "pong"});
  }
  void timer(Context<Note>&, TimerId, std::uint64_t tag) override { timers.push_back(tag); }
};

Simulator<Note>::Factory recorder() {
  return [](NodeId) { return std::make_unique<Recorder>(); };
}

// A ping-pong workload on a lossy, reordering network whose trace depends on every draw.
std::pair<std::uint64_t, std::string> run_workload(std::uint64_t seed) {
  Simulator<Note> sim(seed);
  sim.keep_trace(true);
  sim.set_default_link(LinkConfig{0.1, 0.1, 1 * kMillisecond, 20 * kMillisecond, false});
  for (int i = 0; i < 4; ++i) sim.add_node(recorder());
  for (int i = 0; i < 200; ++i) {
    const NodeId from = static_cast<NodeId>(sim.rng().uniform(0, 3));
    const int target = static_cast<int>((from + 1 + sim.rng().uniform(0, 2)) % 4);
    sim.inject(from, Note{target, "kick"}, sim.rng().uniform(0, 100) * kMillisecond);
  }
  sim.run_until(10 * kSecond);
  return {sim.trace_hash(), sim.trace_text()};
}

TEST(Simulator, SameSeedGivesIdenticalTrace) {
  homestead::testing::for_each_seed(20, [](std::uint64_t seed) {
    auto first = run_workload(seed);
    auto second = run_workload(seed);
    EXPECT_EQ(first.first, second.first);
    EXPECT_EQ(first.second, second.second);
    EXPECT_FALSE(first.second.empty());
  });
}

TEST(Simulator, DifferentSeedsGiveDifferentTraces) {
  EXPECT_NE(run_workload(1).first, run_workload(2).first);
}

// Node 0 sends `count` numbered notes to node 1 when its timer fires.
class Sender : public Process<Note> {
 public:
  explicit Sender(int count) : count_(count) {}
  void start(Context<Note>& ctx) override { ctx.set_timer(1 * kMillisecond, 1); }
  void receive(Context<Note>&, NodeId, const Note&) override {}
  void timer(Context<Note>& ctx, TimerId, std::uint64_t) override {
    for (int i = 0; i < count_; ++i) ctx.send(1, Note{i, "data"});
  }

 private:
  int count_;
};

std::vector<int> delivered_order(std::uint64_t seed, bool fifo, double duplicate) {
  Simulator<Note> sim(seed);
  sim.set_default_link(LinkConfig{0.0, duplicate, 1 * kMillisecond, 100 * kMillisecond, fifo});
  sim.add_node([](NodeId) { return std::make_unique<Sender>(500); });
  sim.add_node(recorder());
  sim.run_until(10 * kSecond);
  std::vector<int> order;
  for (const auto& d : sim.process_as<Recorder>(1).deliveries) order.push_back(d.seq);
  return order;
}

TEST(Simulator, FifoLinksNeverReorder) {
  homestead::testing::for_each_seed(20, [](std::uint64_t seed) {
    auto order = delivered_order(seed, /*fifo=*/true, /*duplicate=*/0.2);
    ASSERT_GE(order.size(), 500u);
    for (std::size_t i = 1; i < order.size(); ++i) {
      ASSERT_LE(order[i - 1], order[i]) << "position " << i;  // duplicates may repeat a seq
    }
  });
}

TEST(Simulator, NonFifoLinksDoReorder) {
  // The check above could not fail if the simulator never reordered at all.
  auto order = delivered_order(7, /*fifo=*/false, 0.0);
  ASSERT_EQ(order.size(), 500u);
  int inversions = 0;
  for (std::size_t i = 1; i < order.size(); ++i) inversions += order[i - 1] > order[i];
  EXPECT_GT(inversions, 50);
}

// Every node sends one note to every other node on its timer.
class AllToAll : public Recorder {
 public:
  void start(Context<Note>& ctx) override { ctx.set_timer(1 * kMillisecond, 1); }
  void timer(Context<Note>& ctx, TimerId, std::uint64_t) override {
    for (NodeId to : ctx.nodes()) {
      if (to != ctx.self()) ctx.send(to, Note{static_cast<int>(ctx.self()), "hello"});
    }
  }
};

TEST(Simulator, PartitionDropsExactlyTheCrossPartitionMessages) {
  Simulator<Note> sim(3);
  for (int i = 0; i < 5; ++i) sim.add_node([](NodeId) { return std::make_unique<AllToAll>(); });
  sim.partition({{0, 1, 2}, {3, 4}});
  sim.run_until(1 * kSecond);
  const std::set<NodeId> left{0, 1, 2};
  std::size_t delivered = 0;
  for (NodeId n = 0; n < 5; ++n) {
    std::set<NodeId> heard_from;
    for (const auto& d : sim.process_as<AllToAll>(n).deliveries) heard_from.insert(d.from);
    std::set<NodeId> expected;
    for (NodeId m = 0; m < 5; ++m) {
      if (m != n && left.count(m) == left.count(n)) expected.insert(m);
    }
    EXPECT_EQ(heard_from, expected) << "node " << n;
    delivered += sim.process_as<AllToAll>(n).deliveries.size();
  }
  // 3*2 + 2*1 same-side pairs delivered; 2*3*2 = 12 cross pairs dropped.
  EXPECT_EQ(delivered, 8u);
  EXPECT_EQ(sim.stats().sent, 20u);
  EXPECT_EQ(sim.stats().dropped, 12u);
  EXPECT_EQ(sim.stats().delivered, 8u);

  sim.heal();
  EXPECT_TRUE(sim.connected(0, 4));
  // The same round after the partition heals reaches everyone.
  Simulator<Note> healed(3);
  for (int i = 0; i < 5; ++i) healed.add_node([](NodeId) { return std::make_unique<AllToAll>(); });
  healed.partition({{0, 1, 2}, {3, 4}});
  healed.heal();
  healed.run_until(1 * kSecond);
  EXPECT_EQ(healed.stats().delivered, 20u);
}

TEST(Simulator, IsolateCutsOneNodeOff) {
  Simulator<Note> sim(4);
  for (int i = 0; i < 3; ++i) sim.add_node([](NodeId) { return std::make_unique<AllToAll>(); });
  sim.isolate(2);
  sim.run_until(1 * kSecond);
  EXPECT_TRUE(sim.process_as<AllToAll>(2).deliveries.empty());
  EXPECT_EQ(sim.process_as<AllToAll>(0).deliveries.size(), 1u);
  EXPECT_EQ(sim.stats().dropped, 4u);
}

// Writes "synced" then syncs, writes "unsynced" without syncing, and reports what it finds
// on disk when it starts.
class DiskUser : public Process<Note> {
 public:
  std::map<std::string, std::string> found_at_start;
  int timers_fired = 0;

  void start(Context<Note>& ctx) override {
    for (const auto& key : ctx.disk().keys()) found_at_start[key] = *ctx.disk().get(key);
    ctx.set_timer(100 * kMillisecond, 7);
  }
  void receive(Context<Note>& ctx, NodeId, const Note& note) override {
    ctx.disk().put(note.text, std::to_string(note.seq));
    if (note.text.starts_with("synced")) ctx.disk().sync();
  }
  void timer(Context<Note>&, TimerId, std::uint64_t) override { ++timers_fired; }
};

TEST(Simulator, CrashRestartKeepsOnlyFsyncedState) {
  Simulator<Note> sim(5);
  const NodeId node = sim.add_node([](NodeId) { return std::make_unique<DiskUser>(); });
  sim.inject(node, Note{1, "synced-a"});
  sim.inject(node, Note{2, "unsynced-b"});
  sim.run_until(10 * kMillisecond);
  // Before the crash the node sees its own unsynced write (page cache)...
  EXPECT_EQ(sim.disk(node).get("unsynced-b"), "2");
  sim.crash(node);
  EXPECT_FALSE(sim.is_up(node));
  // ...messages to a crashed node are dropped, and its timers die with it.
  sim.inject(node, Note{3, "synced-c"});
  sim.run_until(500 * kMillisecond);
  sim.restart(node);
  auto& restarted = sim.process_as<DiskUser>(node);
  EXPECT_EQ(restarted.found_at_start, (std::map<std::string, std::string>{{"synced-a", "1"}}));
  sim.run_until(1 * kSecond);
  EXPECT_EQ(restarted.timers_fired, 1);  // only the new incarnation's timer
}

TEST(Simulator, DropAndDuplicateRatesFollowTheLinkConfig) {
  Simulator<Note> sim(11);
  sim.set_default_link(LinkConfig{0.3, 0.2, 1 * kMillisecond, 5 * kMillisecond, false});
  sim.add_node([](NodeId) { return std::make_unique<Sender>(10000); });
  sim.add_node(recorder());
  sim.run_until(10 * kSecond);
  const double drop_rate = static_cast<double>(sim.stats().dropped) / 10000.0;
  const double dup_rate = static_cast<double>(sim.stats().duplicated) / (10000.0 - sim.stats().dropped);
  EXPECT_NEAR(drop_rate, 0.3, 0.02);
  EXPECT_NEAR(dup_rate, 0.2, 0.02);
  EXPECT_EQ(sim.process_as<Recorder>(1).deliveries.size(), 10000 - sim.stats().dropped + sim.stats().duplicated);
}

TEST(Simulator, DelaysStayWithinTheConfiguredRange) {
  Simulator<Note> sim(12);
  sim.set_default_link(LinkConfig{0, 0, 20 * kMillisecond, 30 * kMillisecond, false});
  sim.add_node([](NodeId) { return std::make_unique<Sender>(1000); });
  sim.add_node(recorder());
  sim.run_until(10 * kSecond);
  Time lo = INT64_MAX, hi = 0;
  for (const auto& d : sim.process_as<Recorder>(1).deliveries) {
    lo = std::min(lo, d.at);
    hi = std::max(hi, d.at);
  }
  // Sent at t = 1 ms; so arrivals lie in [21 ms, 31 ms] and use most of that range.
  EXPECT_GE(lo, 21 * kMillisecond);
  EXPECT_LE(hi, 31 * kMillisecond);
  EXPECT_GT(hi - lo, 8 * kMillisecond);
}

TEST(Simulator, PerLinkSettingsOverrideTheDefault) {
  Simulator<Note> sim(13);
  sim.add_node([](NodeId) { return std::make_unique<AllToAll>(); });
  sim.add_node([](NodeId) { return std::make_unique<AllToAll>(); });
  sim.set_link(0, 1, LinkConfig{1.0, 0, kMillisecond, kMillisecond, true});  // 0 -> 1 loses all
  sim.run_until(1 * kSecond);
  EXPECT_TRUE(sim.process_as<AllToAll>(1).deliveries.empty());
  EXPECT_EQ(sim.process_as<AllToAll>(0).deliveries.size(), 1u);
}

TEST(Simulator, ClockSkewAndDrift) {
  Simulator<Note> sim(14);
  const NodeId a = sim.add_node(recorder());
  const NodeId b = sim.add_node(recorder());
  sim.set_clock(a, ClockConfig{5 * kMillisecond, 0});
  sim.set_clock(b, ClockConfig{0, 1000});  // 0.1% fast
  sim.run_until(10 * kSecond);
  EXPECT_EQ(sim.local_time(a), 10 * kSecond + 5 * kMillisecond);
  EXPECT_EQ(sim.local_time(b), 10 * kSecond + 10 * kMillisecond);
}

class TimerNode : public Process<Note> {
 public:
  Time fired_local = -1;
  bool cancelled_fired = false;
  void start(Context<Note>& ctx) override {
    ctx.set_timer(1 * kSecond, 1);
    ctx.cancel_timer(ctx.set_timer(500 * kMillisecond, 2));
  }
  void receive(Context<Note>&, NodeId, const Note&) override {}
  void timer(Context<Note>& ctx, TimerId, std::uint64_t tag) override {
    if (tag == 1) fired_local = ctx.now();
    if (tag == 2) cancelled_fired = true;
  }
};

TEST(Simulator, TimersFireOnLocalTimeAndCancelledOnesNever) {
  Simulator<Note> sim(15);
  const NodeId node = sim.add_node([](NodeId) { return std::make_unique<TimerNode>(); });
  // Drift applies to timers set after it is configured: restart the node under drift.
  sim.crash(node);
  sim.set_clock(node, ClockConfig{0, 1e5});  // 10% fast: 1 s local passes in 1/1.1 s true
  sim.restart(node);
  ASSERT_TRUE(sim.run_until([&] { return sim.process_as<TimerNode>(node).fired_local >= 0; }, 5 * kSecond));
  EXPECT_EQ(sim.now(), 909090);
  EXPECT_NEAR(static_cast<double>(sim.process_as<TimerNode>(node).fired_local), 1e6, 1.0);
  sim.run_until(5 * kSecond);
  EXPECT_FALSE(sim.process_as<TimerNode>(node).cancelled_fired);
}

TEST(Simulator, TraceEnvironmentVariableWritesTheTraceToAFile) {
  homestead::testing::TempDir dir;
  const char* old_tmp = std::getenv("TMPDIR");
  const std::string saved_tmp = old_tmp ? old_tmp : "";
  setenv("TMPDIR", dir.path().c_str(), 1);
  setenv("HOMESTEAD_SIM_TRACE", "1", 1);
  {
    Simulator<Note> sim(4242);
    sim.add_node([](NodeId) { return std::make_unique<AllToAll>(); });
    sim.add_node([](NodeId) { return std::make_unique<AllToAll>(); });
    sim.run_until(1 * kSecond);
  }
  unsetenv("HOMESTEAD_SIM_TRACE");
  if (old_tmp) {
    setenv("TMPDIR", saved_tmp.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
  const auto path = dir.path() / "homestead-sim-trace-seed4242-0.txt";
  ASSERT_TRUE(std::filesystem::exists(path));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("send 0->1 #"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("deliver 1->0 #"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("note(1,hello)"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace homestead::sim
