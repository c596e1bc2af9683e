// The command/ack protocol between a retrying gateway and the firmware core, on the
// deterministic simulator: the "broker" link loses, duplicates and reorders messages, and
// the device reboots now and then. A gateway resends a command with the same cmd_id until
// it sees an ack. Invariants per seed:
//  - a kind that persists cmd_ids (lock) actuates every command exactly once, reboots or not;
//  - every ack for one cmd_id is the same ack;
//  - every command is eventually acked;
//  - a kind that keeps cmd_ids in RAM (plug) actuates at least once, and exactly once when
//    it never reboots.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/sim/simulator.h"
#include "firmware-sim/firmware.h"
#include "tests/support/seeds.h"

namespace homestead::firmware {
namespace {

using Msg = std::string;  // an MQTT payload; the device is node 0, the gateway node 1
constexpr sim::NodeId kDevice = 0, kGateway = 1;
constexpr int kCommands = 20;

devices::DeviceDescription describe(const std::string& kind) {
  devices::DeviceDescription d;
  d.id = "dev";
  d.kind = devices::find_kind(kind);
  d.room = "hall";
  d.credentials = "dev";
  return d;
}

class DeviceProcess : public sim::Process<Msg> {
 public:
  DeviceProcess(const std::string& kind, std::uint64_t seed) : fw_("h", describe(kind), settings(), seed) {}
  void start(sim::Context<Msg>& ctx) override { ctx.set_timer(10 * sim::kMillisecond); }
  void receive(sim::Context<Msg>& ctx, sim::NodeId, const Msg& m) override {
    // Clean sessions: the broker does not keep commands for a device that is offline.
    if (fw_.link() != LinkState::connected) return;
    Output out;
    fw_.command(ms(ctx), m, out);
    send(ctx, out);
  }
  void timer(sim::Context<Msg>& ctx, sim::TimerId, std::uint64_t) override {
    Output out;
    if (fw_.wants_connect(ms(ctx))) {
      fw_.connect_started(ms(ctx));
      fw_.connected(ms(ctx), out);
    }
    fw_.tick(ms(ctx), out);
    send(ctx, out);
    ctx.set_timer(10 * sim::kMillisecond);
  }
  void reboot(std::int64_t now_ms) {
    Output ignored;
    fw_.reboot(now_ms, ignored);
  }
  const Firmware& firmware() const { return fw_; }

 private:
  static FirmwareSettings settings() {
    FirmwareSettings s;
    s.latency = LatencyMode::realistic;
    s.boot_ms = 500;
    return s;
  }
  static std::int64_t ms(sim::Context<Msg>& ctx) { return ctx.now() / sim::kMillisecond; }
  void send(sim::Context<Msg>& ctx, Output& out) {
    for (auto& p : out.publishes)
      if (p.channel == devices::Channel::ack) ctx.send(kGateway, p.payload);
  }
  Firmware fw_;
};

class GatewayProcess : public sim::Process<Msg> {
 public:
  GatewayProcess(std::string on, std::string off) : on_(std::move(on)), off_(std::move(off)) {}
  void start(sim::Context<Msg>& ctx) override { ctx.set_timer(0); }
  void receive(sim::Context<Msg>&, sim::NodeId, const Msg& m) override {
    const auto ack = nlohmann::json::parse(m);
    acks[ack["cmd_id"]].push_back(m);
  }
  void timer(sim::Context<Msg>& ctx, sim::TimerId, std::uint64_t) override {
    // Resend every unacknowledged command (same cmd_id) every 300 ms.
    for (int i = 0; i < kCommands; ++i) {
      const std::string id = "c" + std::to_string(i);
      if (acks.count(id)) continue;
      ctx.send(kDevice, devices::encode(devices::Command{id, i % 2 ? on_ : off_, nlohmann::json::object()}));
    }
    ctx.set_timer(300 * sim::kMillisecond);
  }
  bool all_acked() const { return acks.size() == kCommands; }
  std::map<std::string, std::vector<std::string>> acks;

 private:
  std::string on_, off_;
};

struct Outcome {
  std::map<std::string, int> actuations;
  std::map<std::string, std::vector<std::string>> acks;
  bool all_acked = false;
};

Outcome run(std::uint64_t seed, const std::string& kind, bool reboots) {
  sim::Simulator<Msg> s(seed);
  s.set_default_link({.drop = 0.2, .duplicate = 0.2, .min_delay = 1 * sim::kMillisecond,
                      .max_delay = 80 * sim::kMillisecond, .fifo = false});
  s.add_node([&](sim::NodeId) { return std::make_unique<DeviceProcess>(kind, seed); });
  s.add_node([&](sim::NodeId) {
    return kind == "lock" ? std::make_unique<GatewayProcess>("lock", "unlock") : std::make_unique<GatewayProcess>("turn_on", "turn_off");
  });
  if (reboots) {
    sim::Rng r(seed ^ 0x5eed);
    for (int i = 0; i < 4; ++i) {
      const sim::Time when = r.uniform(100, 4000) * sim::kMillisecond;
      s.at(when, [&s, when] { s.process_as<DeviceProcess>(kDevice).reboot(when / sim::kMillisecond); });
    }
  }
  Outcome result;
  result.all_acked = s.run_until([&] { return s.process_as<GatewayProcess>(kGateway).all_acked(); }, 120 * sim::kSecond);
  s.run_for(2 * sim::kSecond);  // let late duplicates land
  result.actuations = s.process_as<DeviceProcess>(kDevice).firmware().actuations();
  result.acks = s.process_as<GatewayProcess>(kGateway).acks;
  return result;
}

TEST(CommandDedupeSim, PersistingKindActuatesExactlyOnceThroughLossDuplicatesAndReboots) {
  testing::for_each_seed(30, [](std::uint64_t seed) {
    Outcome r = run(seed, "lock", /*reboots=*/true);
    ASSERT_TRUE(r.all_acked) << "every command acked";
    for (int i = 0; i < kCommands; ++i) {
      const std::string id = "c" + std::to_string(i);
      EXPECT_EQ(r.actuations[id], 1) << id;
      const auto& acks = r.acks[id];
      for (const auto& a : acks) EXPECT_EQ(a, acks.front()) << id << ": every ack for a cmd_id is the same";
    }
  });
}

TEST(CommandDedupeSim, RamOnlyKindIsExactlyOnceWithoutRebootsAndAtLeastOnceWithThem) {
  testing::for_each_seed(30, [](std::uint64_t seed) {
    Outcome steady = run(seed, "plug", /*reboots=*/false);
    ASSERT_TRUE(steady.all_acked);
    for (const auto& [id, n] : steady.actuations) EXPECT_EQ(n, 1) << id;
    EXPECT_EQ(steady.actuations.size(), static_cast<std::size_t>(kCommands));
    Outcome rebooting = run(seed, "plug", /*reboots=*/true);
    ASSERT_TRUE(rebooting.all_acked);
    for (int i = 0; i < kCommands; ++i) EXPECT_GE(rebooting.actuations["c" + std::to_string(i)], 1);
  });
}

TEST(CommandDedupeSim, SameSeedSameRun) {
  Outcome a = run(42, "lock", true), b = run(42, "lock", true);
  EXPECT_EQ(a.acks, b.acks);
  EXPECT_EQ(a.actuations, b.actuations);
}

}  // namespace
}  // namespace homestead::firmware
