// Direct device commands (REST, outside any transactuation) interleaved with transactuations on
// the same device: with Runtime::hold_device, the order in which the device EXECUTES commands
// must equal the serial (admission) order, however the network delays each command and ack.
// Pure core + a seeded virtual-time device model (no threads, clocks or files).
#include <gtest/gtest.h>

#include <map>
#include <queue>
#include <random>
#include <vector>

#include "tests/support/seeds.h"
#include "transactuation/runtime.h"

namespace homestead::transactuation {
namespace {

constexpr Time kStart = 1'000 * kSecond;

// Every command carries the index of the operation that issued it ("op"), so the device's
// execution log can be compared with the submission order.
AppDefinition door_app(const std::string& name, std::vector<std::string> devices) {
  return AppBuilder(name)
      .actuates(devices)
      .logic([devices](const LogicInput& in) {
        LogicResult result;
        for (const auto& d : devices) result.actuations.push_back(Actuation{d, "set", Json{{"op", in.trigger["payload"]["op"]}}});
        return result;
      })
      .actuating(Quorum::all())
      .actuation_timeout(10 * kSecond, 0)  // longer than any delay below: no retries
      .lock_timeout(3600 * kSecond)        // nobody gives up: every operation must execute
      .build();
}

struct Scenario {
  bool ordered = true;  // false: direct commands bypass the lock queue (the old gateway)
  std::uint64_t seed = 1;
  int operations = 40;
};

struct Event {
  Time at;
  std::uint64_t order;  // ties broken by insertion order
  std::function<void()> run;
  bool operator>(const Event& other) const { return at != other.at ? at > other.at : order > other.order; }
};

// Returns the op indexes in the order the device "door" executed them.
std::vector<int> run_scenario(const Scenario& s, int* lamp_executions = nullptr) {
  std::mt19937_64 rng(s.seed);
  auto delay = [&](Time max) { return static_cast<Time>(rng() % static_cast<std::uint64_t>(max + 1)); };
  Runtime runtime;
  runtime.install(door_app("door_only", {"door"}));
  runtime.install(door_app("door_and_lamp", {"door", "lamp"}));
  runtime.install(door_app("lamp_only", {"lamp"}));

  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::uint64_t counter = 0;
  Time now = kStart;
  auto at = [&](Time t, std::function<void()> fn) { events.push(Event{t, counter++, std::move(fn)}); };

  std::vector<int> door_log;
  int lamp_log = 0;
  std::map<Runtime::HoldId, int> hold_op;  // hold -> op index, until granted
  // The network: each command arrives after a random delay, the device executes it on
  // arrival and its ack comes back after another random delay.
  auto deliver = [&](const std::string& device, int op, std::function<void()> on_ack) {
    at(now + delay(300 * kMillisecond), [&, device, op, on_ack] {
      if (device == "door") door_log.push_back(op);
      else ++lamp_log;
      at(now + delay(300 * kMillisecond), on_ack);
    });
  };
  auto drain = [&] {
    Ready ready = runtime.take_ready();
    for (const auto& c : ready.commands) {
      deliver(c.device, c.args.at("op").get<int>(), [&, c] {
        runtime.on_ack(Ack{c.device, c.cmd_id, true, ""}, now);
      });
    }
    for (auto hold : runtime.take_granted_holds()) {
      const int op = hold_op.at(hold);
      hold_op.erase(hold);
      deliver("door", op, [&, hold] { runtime.release_device(hold, now); });
    }
  };
  auto send_direct = [&](int op) {
    if (!s.ordered) {
      deliver("door", op, [] {});
      return;
    }
    hold_op[runtime.hold_device("door", now)] = op;
  };

  Time t = kStart;
  for (int op = 0; op < s.operations; ++op) {
    t += delay(150 * kMillisecond);
    at(t, [&, op] {
      switch (rng() % 4) {
        case 0:
        case 1: send_direct(op); break;
        case 2: runtime.trigger("door_only", Json{{"op", op}}, now); break;
        default: runtime.trigger("door_and_lamp", Json{{"op", op}}, now); break;
      }
    });
  }
  while (!events.empty()) {
    Event e = events.top();
    events.pop();
    now = e.at;
    e.run();
    runtime.tick(now);
    drain();
  }
  EXPECT_EQ(runtime.active(), 0u);
  if (lamp_executions) *lamp_executions = lamp_log;
  return door_log;
}

TEST(DirectCommandOrder, DeviceExecutesInSerialOrderUnderRandomDelays) {
  testing::for_each_seed(60, [](std::uint64_t seed) {
    const auto log = run_scenario(Scenario{.ordered = true, .seed = seed});
    ASSERT_EQ(log.size(), 40u) << "every operation reaches the door exactly once";
    for (std::size_t i = 0; i < log.size(); ++i) {
      ASSERT_EQ(log[i], static_cast<int>(i)) << "seed " << seed << ": the door executed op " << log[i]
                                              << " in position " << i;
    }
  });
}

// The checker above can fail: without the hold, direct commands overtake (or are overtaken
// by) transactuations' commands on the door for some seeds, which is the fire scenario bug.
TEST(DirectCommandOrder, WithoutHoldsTheOrderBreaks) {
  int broken = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto log = run_scenario(Scenario{.ordered = false, .seed = seed});
    ASSERT_EQ(log.size(), 40u);
    for (std::size_t i = 0; i < log.size(); ++i) {
      if (log[i] != static_cast<int>(i)) {
        ++broken;
        break;
      }
    }
  }
  EXPECT_GT(broken, 0);
}

TEST(DirectCommandOrder, HoldWaitsForEarlierTransactuationAndBlocksLaterOnes) {
  Runtime runtime;
  runtime.install(door_app("door_only", {"door"}));
  runtime.install(door_app("lamp_only", {"lamp"}));
  const TxnId first = runtime.trigger("door_only", Json{{"op", 0}}, kStart);
  auto ready = runtime.take_ready();
  ASSERT_EQ(ready.commands.size(), 1u);
  const auto first_cmd = ready.commands[0];

  const auto hold = runtime.hold_device("door", kStart + 1);
  EXPECT_TRUE(runtime.take_granted_holds().empty()) << "the door is still commanded by transactuation " << first;
  runtime.trigger("door_only", Json{{"op", 2}}, kStart + 2);
  runtime.trigger("lamp_only", Json{{"op", 3}}, kStart + 3);
  ready = runtime.take_ready();
  ASSERT_EQ(ready.commands.size(), 1u) << "only the lamp goes: it shares nothing with the door";
  EXPECT_EQ(ready.commands[0].device, "lamp");

  runtime.on_ack(Ack{"door", first_cmd.cmd_id, true, ""}, kStart + 4);
  EXPECT_EQ(runtime.take_granted_holds(), std::vector<Runtime::HoldId>{hold});
  ready = runtime.take_ready();
  EXPECT_TRUE(ready.commands.empty()) << "the later door transactuation waits for the direct command";

  runtime.release_device(hold, kStart + 5);
  ready = runtime.take_ready();
  ASSERT_EQ(ready.commands.size(), 1u);
  EXPECT_EQ(ready.commands[0].device, "door");
  EXPECT_EQ(ready.commands[0].args["op"], 2);
  runtime.release_device(hold, kStart + 6);  // a second release is ignored
  EXPECT_TRUE(runtime.take_granted_holds().empty());
}

TEST(DirectCommandOrder, HoldReleasedWhileWaitingIsNeverGranted) {
  Runtime runtime;
  runtime.install(door_app("door_only", {"door"}));
  runtime.trigger("door_only", Json{{"op", 0}}, kStart);
  const auto cmd = runtime.take_ready().commands.at(0);
  const auto hold = runtime.hold_device("door", kStart + 1);
  runtime.release_device(hold, kStart + 2);  // e.g. the command expired while waiting
  runtime.on_ack(Ack{"door", cmd.cmd_id, true, ""}, kStart + 3);
  EXPECT_TRUE(runtime.take_granted_holds().empty());
  const auto again = runtime.hold_device("door", kStart + 4);
  EXPECT_EQ(runtime.take_granted_holds(), std::vector<Runtime::HoldId>{again});
}

// A transactuation queued behind a direct command that never finishes aborts with `conflict`
// and names the direct command in its detail.
TEST(DirectCommandOrder, LockTimeoutNamesTheDirectCommand) {
  Runtime runtime;
  runtime.install(AppBuilder("impatient").actuates({"door"}).lock_timeout(kSecond).logic([](const LogicInput&) {
    return LogicResult{{Actuation{"door", "set"}}, {}, ""};
  }).build());
  runtime.hold_device("door", kStart);
  runtime.trigger("impatient", Json::object(), kStart);
  runtime.tick(kStart + 2 * kSecond);
  const auto ready = runtime.take_ready();
  ASSERT_EQ(ready.finished.size(), 1u);
  EXPECT_EQ(ready.finished[0].reason, Reason::conflict);
  EXPECT_NE(ready.finished[0].detail.find("direct command 1"), std::string::npos) << ready.finished[0].detail;
  EXPECT_TRUE(ready.commands.empty());
}

}  // namespace
}  // namespace homestead::transactuation
