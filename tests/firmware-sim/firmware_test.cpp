// The firmware core without a broker: commands, acks, cmd_id memory, status queries,
// reconnect backoff and every fault mode, on explicit millisecond timestamps.
#include "firmware-sim/firmware.h"

#include <gtest/gtest.h>

#include "devices/payloads.h"

namespace homestead::firmware {
namespace {

using devices::Channel;

devices::DeviceDescription describe(const std::string& kind, nlohmann::json initial = nlohmann::json::object()) {
  devices::DeviceDescription d;
  d.id = "dev";
  d.kind = devices::find_kind(kind);
  d.room = "hall";
  d.name = "Dev";
  d.credentials = "dev";
  d.initial_state = std::move(initial);
  return d;
}

struct Harness {
  explicit Harness(const std::string& kind, LatencyMode latency = LatencyMode::zero, nlohmann::json initial = nlohmann::json::object())
      : fw("h", describe(kind, std::move(initial)), settings(latency), 7) {
    Output out;
    EXPECT_TRUE(fw.wants_connect(now));
    fw.connect_started(now);
    fw.connected(now, out);
  }
  static FirmwareSettings settings(LatencyMode latency) {
    FirmwareSettings s;
    s.latency = latency;
    s.report_interval_ms = 1000;
    return s;
  }
  Output send(const std::string& cmd_id, const std::string& command, nlohmann::json args = nlohmann::json::object()) {
    Output out;
    fw.command(now, devices::encode(devices::Command{cmd_id, command, std::move(args)}), out);
    return out;
  }
  Output advance(std::int64_t ms) {
    Output out;
    now += ms;
    fw.tick(now, out);
    return out;
  }
  std::vector<devices::Ack> acks(const Output& out) const {
    std::vector<devices::Ack> result;
    for (const auto& p : out.publishes)
      if (p.channel == Channel::ack) result.push_back(devices::decode_ack(*fw.description().kind, p.payload));
    return result;
  }
  std::vector<devices::StateReport> states(const Output& out) const {
    std::vector<devices::StateReport> result;
    for (const auto& p : out.publishes)
      if (p.channel == Channel::state && !p.discovery) result.push_back(devices::decode_state(*fw.description().kind, p.payload));
    return result;
  }
  std::int64_t now = 1'767'225'600'000;
  Firmware fw;
};

TEST(Firmware, ConnectPublishesOnlineDiscoveryAndState) {
  Firmware fw("h", describe("light"), FirmwareSettings{}, 1);
  Output out;
  fw.connect_started(0);
  fw.connected(5, out);
  ASSERT_EQ(out.publishes.size(), 3u);
  EXPECT_EQ(out.publishes[0].channel, Channel::status);
  EXPECT_EQ(out.publishes[0].payload, "online");
  EXPECT_TRUE(out.publishes[1].discovery);
  EXPECT_EQ(nlohmann::json::parse(out.publishes[1].payload)["unique_id"], "h_dev");
  auto report = devices::decode_state(devices::kind_info(devices::Kind::light), out.publishes[2].payload);
  EXPECT_EQ(report.seq, 0u);
  EXPECT_EQ(report.ts_ms, 5);
}

TEST(Firmware, CommandActuatesOnceAndAcksWithNewState) {
  Harness h("light");
  Output out = h.send("c1", "set_brightness", {{"brightness", 80}});
  auto acks = h.acks(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].cmd_id, "c1");
  EXPECT_TRUE(acks[0].ok);
  EXPECT_EQ(acks[0].state, (nlohmann::json{{"on", true}, {"brightness", 80}}));
  EXPECT_EQ(h.states(out).size(), 1u) << "state published on change";
  EXPECT_EQ(h.fw.actuations().at("c1"), 1);
}

TEST(Firmware, RepeatedCmdIdGetsTheSameAckWithoutActuatingAgain) {
  Harness h("plug");
  Output first = h.send("c1", "turn_on");
  h.send("c2", "turn_off");  // the world moves on
  Output again = h.send("c1", "turn_on");
  ASSERT_EQ(h.acks(again).size(), 1u);
  EXPECT_EQ(again.publishes.back().payload, first.publishes.back().payload) << "byte-identical earlier ack";
  EXPECT_EQ(h.fw.actuations().at("c1"), 1);
  EXPECT_EQ(h.fw.state()["on"], false) << "the repeat did not turn it on again";
  EXPECT_TRUE(h.states(again).empty());
}

TEST(Firmware, LatencyDelaysActuationAndRepeatWhilePendingIsIgnored) {
  Harness h("lock", LatencyMode::realistic);
  Output out = h.send("u1", "unlock");
  EXPECT_TRUE(h.acks(out).empty());
  EXPECT_TRUE(h.acks(h.advance(299)).empty()) << "a motorised lock takes at least 300 ms";
  EXPECT_TRUE(h.acks(h.send("u1", "unlock")).empty()) << "repeat while pending: no second ack, no second actuation";
  std::vector<devices::Ack> acks;
  for (int i = 0; i < 20 && acks.empty(); ++i) acks = h.acks(h.advance(100));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].state["lock"], "unlocked");
  EXPECT_EQ(h.fw.actuations().at("u1"), 1);
}

TEST(Firmware, StatusQueryReportsDonePendingUnknown) {
  Harness h("water_valve", LatencyMode::realistic, {{"open", true}});
  h.send("close1", "close");
  auto pending = h.acks(h.send("q1", "status", {{"cmd_id", "close1"}}));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].cmd_id, "q1");
  EXPECT_EQ(pending[0].status_of->outcome, devices::CommandOutcome::pending);
  h.advance(3000);
  auto done = h.acks(h.send("q2", "status", {{"cmd_id", "close1"}}));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status_of->outcome, devices::CommandOutcome::done);
  EXPECT_EQ(done[0].status_of->ack["cmd_id"], "close1");
  EXPECT_EQ(done[0].status_of->ack["state"]["open"], false);
  auto unknown = h.acks(h.send("q3", "status", {{"cmd_id", "never"}}));
  EXPECT_EQ(unknown[0].status_of->outcome, devices::CommandOutcome::unknown);
  EXPECT_EQ(h.fw.actuations().count("q1"), 0u) << "queries are not actuations";
}

TEST(Firmware, InvalidCommandIsAnsweredWithTheFieldNamed) {
  Harness h("light");
  Output out;
  h.fw.command(h.now, R"({"cmd_id":"b1","command":"set_brightness","args":{"brightness":999}})", out);
  auto acks = h.acks(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks[0].ok);
  EXPECT_NE(acks[0].reason.find("args.brightness"), std::string::npos) << acks[0].reason;
  Output garbage;
  h.fw.command(h.now, "not json", garbage);
  EXPECT_TRUE(garbage.publishes.empty());
  EXPECT_EQ(h.fw.commands_rejected(), 2u);
  EXPECT_TRUE(h.fw.actuations().empty());
}

TEST(Firmware, PeriodicReportsWithIncreasingSeq) {
  Harness h("temperature");
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 50; ++i)
    for (const auto& r : h.states(h.advance(100))) seqs.push_back(r.seq);
  ASSERT_GE(seqs.size(), 4u);
  ASSERT_LE(seqs.size(), 6u) << "one report per second over 5 s";
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
}

TEST(Firmware, DropFaultLosesCommandsSilently) {
  Harness h("plug");
  Faults f;
  f.drop_commands = 1.0;
  h.fw.set_faults(f);
  Output out = h.send("c1", "turn_on");
  EXPECT_TRUE(out.publishes.empty());
  EXPECT_EQ(h.fw.actuations().count("c1"), 0u);
  EXPECT_EQ(h.fw.commands_dropped(), 1u);
  h.fw.set_faults(Faults{});
  EXPECT_EQ(h.acks(h.send("c1", "turn_on")).size(), 1u) << "the retry after the fault cleared works";
}

TEST(Firmware, PartialDropIsAFraction) {
  Harness h("plug");
  Faults f;
  f.drop_commands = 0.5;
  h.fw.set_faults(f);
  for (int i = 0; i < 400; ++i) h.send("c" + std::to_string(i), i % 2 ? "turn_on" : "turn_off");
  EXPECT_GT(h.fw.commands_dropped(), 140u);
  EXPECT_LT(h.fw.commands_dropped(), 260u);
}

TEST(Firmware, AckDelayFault) {
  Harness h("plug");
  Faults f;
  f.ack_delay_ms = 2000;
  h.fw.set_faults(f);
  Output out = h.send("c1", "turn_on");
  EXPECT_TRUE(h.acks(out).empty());
  EXPECT_EQ(h.fw.actuations().at("c1"), 1) << "actuated at once, only the ack waits";
  EXPECT_TRUE(h.acks(h.advance(1999)).empty());
  EXPECT_EQ(h.acks(h.advance(1)).size(), 1u);
}

TEST(Firmware, JammedLockAcksErrorAndReportsJammed) {
  Harness h("lock", LatencyMode::zero, {{"lock", "locked"}});
  Faults f;
  f.fail_acks = "jammed";
  h.fw.set_faults(f);
  auto acks = h.acks(h.send("u1", "unlock"));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks[0].ok);
  EXPECT_EQ(acks[0].reason, "jammed");
  EXPECT_EQ(acks[0].state["lock"], "jammed");
  EXPECT_EQ(h.fw.actuations().at("u1"), 1) << "the motor ran";
}

TEST(Firmware, StuckSensorKeepsReportingTheOldValue) {
  Harness h("temperature");
  Output out;
  h.fw.sense(h.now, "temperature", 21.0, out);
  Faults f;
  f.stuck = true;
  h.fw.set_faults(f);
  Output moved;
  h.fw.sense(h.now, "temperature", 25.0, moved);
  EXPECT_TRUE(h.states(moved).empty()) << "no change is reported";
  auto later = h.states(h.advance(1500));
  ASSERT_FALSE(later.empty());
  EXPECT_EQ(later.back().state["temperature"], 21.0);
  h.fw.set_faults(Faults{});
  auto healed = h.states(h.advance(1500));
  ASSERT_FALSE(healed.empty());
  EXPECT_EQ(healed.back().state["temperature"], 25.0);
}

TEST(Firmware, StaleReportsCarryOldTimestamps) {
  Harness h("motion");
  Faults f;
  f.stale_ms = 600'000;
  h.fw.set_faults(f);
  Output out;
  h.fw.sense(h.now, "motion", true, out);
  auto states = h.states(out);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].ts_ms, h.now - 600'000);
}

TEST(Firmware, MalformedReportsAreRejectedByTheValidator) {
  Harness h("light");
  Faults f;
  f.malformed = true;
  h.fw.set_faults(f);
  std::set<std::string> fields;
  for (int i = 0; i < 8; ++i) {
    Output out = h.advance(1000);
    for (const auto& p : out.publishes) {
      if (p.channel != Channel::state) continue;
      try {
        devices::decode_state(devices::kind_info(devices::Kind::light), p.payload);
        ADD_FAILURE() << "accepted malformed " << p.payload;
      } catch (const devices::PayloadError& e) {
        fields.insert(e.field());
      }
    }
  }
  EXPECT_EQ(fields, (std::set<std::string>{"", "seq", "state.on", "ts"}));
}

TEST(Firmware, GoOfflineCutsTheLinkAndReconnectsAfterThePeriod) {
  Harness h("plug");
  Output out;
  h.fw.go_offline(h.now, 5000, out);
  EXPECT_TRUE(out.drop_connection);
  EXPECT_FALSE(h.fw.wants_connect(h.now + 4999));
  EXPECT_TRUE(h.fw.wants_connect(h.now + 5000));
  h.fw.connection_lost(h.now + 1);  // the adapter reports the cut; it must not shorten the period
  EXPECT_FALSE(h.fw.wants_connect(h.now + 4999));
}

TEST(Firmware, ReconnectBackoffGrowsAndResets) {
  FirmwareSettings s;
  s.backoff_min_ms = 100;
  s.backoff_max_ms = 1000;
  Firmware fw("h", describe("plug"), s, 3);
  std::int64_t now = 0;
  std::vector<std::int64_t> waits;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(fw.wants_connect(now));
    fw.connect_started(now);
    fw.connect_failed(now);
    std::int64_t t = now;
    while (!fw.wants_connect(t)) ++t;
    waits.push_back(t - now);
    now = t;
  }
  EXPECT_GE(waits[0], 80);
  EXPECT_LE(waits[0], 120);
  EXPECT_GE(waits[3], 640);  // 100 * 2^3 less 20%
  EXPECT_LE(waits[5], 1200);  // capped at 1000 plus 20%
  Output out;
  fw.connect_started(now);
  fw.connected(now, out);
  fw.connection_lost(now);
  std::int64_t t = now;
  while (!fw.wants_connect(t)) ++t;
  EXPECT_LE(t - now, 120) << "a successful connect resets the backoff";
}

TEST(Firmware, RebootLosesVolatileStateAndRamCmdIds) {
  Harness plug("plug");
  plug.send("on1", "turn_on");
  Output out;
  plug.fw.reboot(plug.now, out);
  EXPECT_TRUE(out.drop_connection);
  EXPECT_EQ(plug.fw.state()["on"], false) << "a plug comes back off";
  EXPECT_EQ(plug.fw.seq(), 0u);
  plug.now += 2000;
  Output reconnect;
  plug.fw.connect_started(plug.now);
  plug.fw.connected(plug.now, reconnect);
  plug.send("on1", "turn_on");
  EXPECT_EQ(plug.fw.actuations().at("on1"), 2) << "a plug forgets cmd_ids: the repeat actuates again";

  Harness lock("lock");
  lock.send("u1", "unlock");
  Output lout;
  lock.fw.reboot(lock.now, lout);
  EXPECT_EQ(lock.fw.state()["lock"], "unlocked") << "the bolt does not move on a reboot";
  lock.now += 2000;
  lock.fw.connect_started(lock.now);
  lock.fw.connected(lock.now, lout);
  auto acks = lock.acks(lock.send("u1", "unlock"));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(lock.fw.actuations().at("u1"), 1) << "a lock persists cmd_ids: the repeat is answered from memory";
}

TEST(Firmware, AckDueWhileOfflineIsLostButStatusFindsIt) {
  Harness h("lock", LatencyMode::realistic);
  h.send("u1", "unlock");
  Output out;
  h.fw.go_offline(h.now, 3000, out);
  EXPECT_TRUE(h.acks(h.advance(2000)).empty());
  EXPECT_EQ(h.fw.actuations().at("u1"), 1) << "it actuated while offline";
  h.advance(1000);
  Output back;
  h.fw.connect_started(h.now);
  h.fw.connected(h.now, back);
  auto status = h.acks(h.send("q", "status", {{"cmd_id", "u1"}}));
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].status_of->outcome, devices::CommandOutcome::done);
}

TEST(Faults, ParseNamesTheBadField) {
  EXPECT_EQ(parse_faults(nlohmann::json{{"drop_commands", 0.25}, {"stuck", true}}, "x").drop_commands, 0.25);
  try {
    parse_faults(nlohmann::json{{"drop_commands", 2}}, "--fault lamp");
    FAIL();
  } catch (const FaultError& e) {
    EXPECT_STREQ(e.what(), "--fault lamp: field 'drop_commands': expected a fraction 0..1, got 2");
  }
  EXPECT_THROW(parse_faults(nlohmann::json{{"explode", true}}, "x"), FaultError);
  EXPECT_THROW(parse_faults(nlohmann::json{{"ack_delay_ms", -1}}, "x"), FaultError);
  Faults f = parse_faults(nlohmann::json{{"fail_acks", "jammed"}, {"stale_ms", 5}, {"malformed", true}}, "x");
  EXPECT_EQ(parse_faults(to_json(f), "y").fail_acks, "jammed");
  EXPECT_EQ(to_json(f), to_json(parse_faults(to_json(f), "y")));
}

}  // namespace
}  // namespace homestead::firmware
