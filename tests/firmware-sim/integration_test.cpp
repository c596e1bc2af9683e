// firmware-sim against a real Mosquitto: the default house comes online, commands and acks
// follow the wire contract, every fault mode does what it says, and the broker's ACLs keep
// devices in their own topics. One firmware-sim serves the suite; each test uses its own
// devices and clears the faults it sets.
#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <map>
#include <optional>
#include <set>

#include "devices/discovery.h"
#include "devices/payloads.h"
#include "devices/topics.h"
#include "tests/firmware-sim/sim_home.h"

namespace homestead::testing {
namespace {

using devices::Channel;
using namespace std::chrono_literals;

class FirmwareSimHouse : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { house = new SimHome(source_path("deploy/homes/default.json")); }
  static void TearDownTestSuite() {
    delete house;
    house = nullptr;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << house->log_tail() << "\n";
  }
  const devices::KindInfo& kind_of(const std::string& device) { return *house->home().device(device)->kind; }
  std::vector<devices::StateReport> reports(const std::string& device, std::size_t from = 0) {
    std::vector<devices::StateReport> out;
    auto msgs = house->observer().on(house->topic(device, Channel::state));
    for (std::size_t i = from; i < msgs.size(); ++i) out.push_back(devices::decode_state(kind_of(device), msgs[i].payload));
    return out;
  }
  std::size_t state_count(const std::string& device) { return house->observer().on(house->topic(device, Channel::state)).size(); }
  static SimHome* house;
};
SimHome* FirmwareSimHouse::house = nullptr;

TEST_F(FirmwareSimHouse, EveryDeviceIsOnlineWithValidStateAndDiscovery) {
  std::set<std::string> kinds;
  for (const auto& d : house->home().devices) {
    SCOPED_TRACE(d.id);
    EXPECT_EQ(house->last_status(d.id), "online");
    ASSERT_TRUE(house->observer().wait_for(house->topic(d.id, Channel::state), [](const auto& m) { return !m.empty(); }));
    for (const auto& m : house->observer().on(house->topic(d.id, Channel::state))) {
      EXPECT_NO_THROW(devices::decode_state(*d.kind, m.payload)) << m.payload;
    }
    const auto discovery = house->observer().on(devices::discovery_topic(*d.kind, "default", d.id));
    ASSERT_FALSE(discovery.empty());
    const auto doc = nlohmann::json::parse(discovery.back().payload);
    EXPECT_EQ(doc["unique_id"], "default_" + d.id);
    EXPECT_EQ(doc["availability_topic"], house->topic(d.id, Channel::status));
    EXPECT_EQ(doc, devices::discovery_document(*d.kind, {"default", d.id, d.name, d.room}));
    kinds.insert(d.kind->name);
  }
  EXPECT_EQ(kinds.size(), devices::all_kinds().size()) << "the default house has every kind";
}

TEST_F(FirmwareSimHouse, LateSubscribersGetRetainedStateStatusAndDiscovery) {
  MqttObserver late(house->broker().uri(), "late", "observer", house->password_of_observer(),
                    {"homestead/+/+/state", "homestead/+/+/status", "homeassistant/#"});
  for (const auto& d : house->home().devices) {
    SCOPED_TRACE(d.id);
    for (const std::string& topic : {house->topic(d.id, Channel::state), house->topic(d.id, Channel::status),
                                     devices::discovery_topic(*d.kind, "default", d.id)}) {
      ASSERT_TRUE(late.wait_for(topic, [](const auto& m) { return !m.empty(); })) << topic;
      EXPECT_TRUE(late.on(topic).front().retained) << topic;
    }
  }
}

TEST_F(FirmwareSimHouse, CommandActuatesOnceAndARepeatGetsTheSameAckWithoutActuating) {
  house->send_command("hall_light", "it-c1", "set_brightness", {{"brightness", 90}});
  ASSERT_TRUE(house->wait_for_ack("hall_light", "it-c1"));
  auto first = house->acks_for("hall_light", "it-c1");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["result"], "ok");
  EXPECT_EQ(first[0]["state"], (nlohmann::json{{"on", true}, {"brightness", 90}}));
  EXPECT_NO_THROW(devices::ack_from_json(kind_of("hall_light"), first[0]));

  house->send_command("hall_light", "it-c1", "set_brightness", {{"brightness", 90}});
  ASSERT_TRUE(house->wait_for_ack("hall_light", "it-c1", 2));
  auto both = house->acks_for("hall_light", "it-c1");
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1], both[0]) << "the repeat is answered with the earlier ack";
  auto [status, counts] = house->api("GET", "/devices/hall_light/actuations");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(counts, (nlohmann::json{{"it-c1", 1}})) << "exactly one actuation";
}

TEST_F(FirmwareSimHouse, StatusQueryOverMqtt) {
  house->send_command("living_plug", "it-p1", "turn_off");
  ASSERT_TRUE(house->wait_for_ack("living_plug", "it-p1"));
  house->send_command("living_plug", "it-q1", "status", {{"cmd_id", "it-p1"}});
  house->send_command("living_plug", "it-q2", "status", {{"cmd_id", "it-never"}});
  ASSERT_TRUE(house->wait_for_ack("living_plug", "it-q2"));
  auto done = house->acks_for("living_plug", "it-q1");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["status_of"]["outcome"], "done");
  EXPECT_EQ(done[0]["status_of"]["ack"], house->acks_for("living_plug", "it-p1")[0]);
  EXPECT_EQ(house->acks_for("living_plug", "it-q2")[0]["status_of"]["outcome"], "unknown");
}

TEST_F(FirmwareSimHouse, DroppedCommandGetsNoAckAndNoActuation) {
  auto [s1, r1] = house->api("PUT", "/devices/kitchen_plug/faults", {{"drop_commands", 1.0}});
  ASSERT_EQ(s1, 200) << r1.dump();
  house->send_command("kitchen_plug", "it-d1", "turn_on");
  // The command reached the device (it counts it) and was dropped there.
  ASSERT_TRUE(wait_until([&] { return house->api("GET", "/devices/kitchen_plug").second.value("commands_dropped", 0) == 1; }, 10s));
  ASSERT_EQ(house->api("DELETE", "/devices/kitchen_plug/faults").first, 200);
  // Acks from one device arrive in order: once the query's ack is here, a late ack for
  // it-d1 would have been here first.
  house->send_command("kitchen_plug", "it-d1q", "status", {{"cmd_id", "it-d1"}});
  ASSERT_TRUE(house->wait_for_ack("kitchen_plug", "it-d1q"));
  EXPECT_TRUE(house->acks_for("kitchen_plug", "it-d1").empty());
  EXPECT_EQ(house->acks_for("kitchen_plug", "it-d1q")[0]["status_of"]["outcome"], "unknown");
  EXPECT_EQ(house->api("GET", "/devices/kitchen_plug/actuations").second, nlohmann::json::object());
}

TEST_F(FirmwareSimHouse, JammedLockAcksErrorAndReportsJammed) {
  ASSERT_EQ(house->api("PUT", "/devices/back_door_lock/faults", {{"fail_acks", "jammed"}}).first, 200);
  house->send_command("back_door_lock", "it-j1", "unlock");
  ASSERT_TRUE(house->wait_for_ack("back_door_lock", "it-j1"));
  auto ack = house->acks_for("back_door_lock", "it-j1")[0];
  EXPECT_EQ(ack["result"], "error");
  EXPECT_EQ(ack["reason"], "jammed");
  EXPECT_EQ(ack["state"]["lock"], "jammed");
  EXPECT_TRUE(house->observer().wait_for(house->topic("back_door_lock", Channel::state), [](const auto& m) {
    return !m.empty() && nlohmann::json::parse(m.back().payload)["state"]["lock"] == "jammed";
  }));
  ASSERT_EQ(house->api("DELETE", "/devices/back_door_lock/faults").first, 200);
  house->send_command("back_door_lock", "it-j2", "lock");
  ASSERT_TRUE(house->wait_for_ack("back_door_lock", "it-j2"));
  EXPECT_EQ(house->acks_for("back_door_lock", "it-j2")[0]["state"]["lock"], "locked") << "unjammed after the fault cleared";
}

TEST_F(FirmwareSimHouse, DelayedAckComesAfterAQueryAlreadySeesItDone) {
  ASSERT_EQ(house->api("PUT", "/devices/landing_strobe/faults", {{"ack_delay_ms", 3000}}).first, 200);
  house->send_command("landing_strobe", "it-a1", "turn_on");
  house->send_command("landing_strobe", "it-a1q", "status", {{"cmd_id", "it-a1"}});
  ASSERT_TRUE(house->wait_for_ack("landing_strobe", "it-a1q"));
  EXPECT_TRUE(house->acks_for("landing_strobe", "it-a1").empty()) << "the ack is held back";
  EXPECT_EQ(house->acks_for("landing_strobe", "it-a1q")[0]["status_of"]["outcome"], "done");
  ASSERT_TRUE(house->wait_for_ack("landing_strobe", "it-a1"));
  EXPECT_EQ(house->acks_for("landing_strobe", "it-a1")[0]["result"], "ok");
  house->api("DELETE", "/devices/landing_strobe/faults");
}

TEST_F(FirmwareSimHouse, StuckSensorKeepsReportingTheOldValue) {
  ASSERT_EQ(house->api("PUT", "/devices/hall_motion/faults", {{"stuck", true}}).first, 200);
  const auto frozen = house->api("GET", "/devices/hall_motion").second["state"]["motion"];
  ASSERT_EQ(house->api("POST", "/devices/hall_motion/events", {{"event", frozen == true ? "motion_clear" : "motion"}}).first, 200);
  EXPECT_NE(house->api("GET", "/devices/hall_motion").second["state"]["motion"], frozen) << "the world changed";
  const std::size_t from = state_count("hall_motion");
  ASSERT_TRUE(wait_until([&] { return state_count("hall_motion") >= from + 3; }, 10s)) << "periodic reports continue";
  for (const auto& r : reports("hall_motion", from)) EXPECT_EQ(r.state["motion"], frozen);
  house->api("DELETE", "/devices/hall_motion/faults");
  ASSERT_TRUE(wait_until([&] {
    auto r = reports("hall_motion");
    return !r.empty() && r.back().state["motion"] != frozen;
  }, 10s));
}

TEST_F(FirmwareSimHouse, StaleReportsCarryOldTimestamps) {
  ASSERT_EQ(house->api("PUT", "/devices/landing_motion/faults", {{"stale_ms", 3'600'000}}).first, 200);
  const std::size_t from = state_count("landing_motion");
  ASSERT_TRUE(wait_until([&] { return state_count("landing_motion") >= from + 2; }, 10s));
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto r = reports("landing_motion", from);
  EXPECT_LT(r.back().ts_ms, now_ms - 3'500'000);
  EXPECT_GT(r.back().ts_ms, now_ms - 3'700'000);
  house->api("DELETE", "/devices/landing_motion/faults");
}

TEST_F(FirmwareSimHouse, MalformedPayloadsAreRejectedByTheValidatorWithTheFieldNamed) {
  const std::size_t from = state_count("kitchen_temperature");
  ASSERT_EQ(house->api("PUT", "/devices/kitchen_temperature/faults", {{"malformed", true}}).first, 200);
  // Reports published before the fault took effect may still be on their way (one every
  // 300 ms): skip the valid ones up to the first malformed report, then the next four must
  // all be rejected, one per way of getting it wrong.
  auto decodes = [&](const std::string& payload) {
    try {
      devices::decode_state(kind_of("kitchen_temperature"), payload);
      return true;
    } catch (const devices::PayloadError&) {
      return false;
    }
  };
  auto first_malformed = [&]() -> std::optional<std::size_t> {
    auto msgs = house->observer().on(house->topic("kitchen_temperature", Channel::state));
    for (std::size_t i = from; i < msgs.size(); ++i)
      if (!decodes(msgs[i].payload)) return i;
    return std::nullopt;
  };
  ASSERT_TRUE(wait_until([&] {
    auto first = first_malformed();
    return first && state_count("kitchen_temperature") >= *first + 4;
  }, 10s));
  house->api("DELETE", "/devices/kitchen_temperature/faults");
  const std::size_t first = *first_malformed();
  std::set<std::string> fields;
  auto msgs = house->observer().on(house->topic("kitchen_temperature", Channel::state));
  for (std::size_t i = first; i < first + 4; ++i) {
    try {
      devices::decode_state(kind_of("kitchen_temperature"), msgs[i].payload);
      ADD_FAILURE() << "accepted " << msgs[i].payload;
    } catch (const devices::PayloadError& e) {
      fields.insert(e.field());
    }
  }
  EXPECT_EQ(fields, (std::set<std::string>{"", "seq", "state.temperature", "ts"}));
}

TEST_F(FirmwareSimHouse, OfflineFaultFiresTheLwtAndTheDeviceComesBack) {
  const std::size_t from = house->observer().on(house->topic("hall_siren", Channel::status)).size();
  ASSERT_EQ(house->api("POST", "/devices/hall_siren/offline", {{"duration_ms", 1500}}).first, 200);
  ASSERT_TRUE(house->observer().wait_for(house->topic("hall_siren", Channel::status),
                                         [&](const auto& m) { return m.size() >= from + 2; }))
      << "status messages: " << [&] {
           std::string all;
           for (const auto& m : house->observer().on(house->topic("hall_siren", Channel::status))) all += m.payload + " ";
           return all;
         }();
  auto msgs = house->observer().on(house->topic("hall_siren", Channel::status));
  EXPECT_EQ(msgs[from].payload, "offline") << "published by the broker as the LWT";
  EXPECT_EQ(msgs[from + 1].payload, "online");
}

TEST_F(FirmwareSimHouse, RebootLosesVolatileStateAndRestartsSeq) {
  house->send_command("bedroom_light", "it-r1", "turn_on");
  ASSERT_TRUE(house->wait_for_ack("bedroom_light", "it-r1"));
  const std::size_t status_from = house->observer().on(house->topic("bedroom_light", Channel::status)).size();
  const std::size_t from = state_count("bedroom_light");
  ASSERT_EQ(house->api("POST", "/devices/bedroom_light/reboot").first, 200);
  ASSERT_TRUE(house->observer().wait_for(house->topic("bedroom_light", Channel::status),
                                         [&](const auto& m) { return m.size() >= status_from + 2; }));
  // Periodic reports from before the reboot (one every 300 ms) may still arrive first: they
  // carry the old, growing seq. The first report of the new boot restarts at seq 0.
  auto first_of_new_boot = [&]() -> std::optional<devices::StateReport> {
    for (const auto& r : reports("bedroom_light", from))
      if (r.seq == 0) return r;
    return std::nullopt;
  };
  ASSERT_TRUE(wait_until([&] { return first_of_new_boot().has_value(); }, 10s)) << "no report restarted at seq 0";
  for (const auto& r : reports("bedroom_light", from)) {
    if (r.seq == 0) break;
    EXPECT_EQ(r.state["on"], true) << "a pre-reboot report (seq " << r.seq << ") was still on";
  }
  EXPECT_EQ(first_of_new_boot()->state["on"], false) << "a bulb comes back off";
  // Bulbs keep cmd_ids in RAM: after the reboot the same cmd_id actuates again.
  house->send_command("bedroom_light", "it-r1", "turn_on");
  ASSERT_TRUE(house->wait_for_ack("bedroom_light", "it-r1", 2));
  EXPECT_EQ(house->api("GET", "/devices/bedroom_light/actuations").second["it-r1"], 2);
}

TEST_F(FirmwareSimHouse, TriggeredSmokeIsReported) {
  ASSERT_EQ(house->api("POST", "/devices/landing_smoke/events", {{"event", "smoke"}}).first, 200);
  ASSERT_TRUE(wait_until([&] {
    auto r = reports("landing_smoke");
    return !r.empty() && r.back().state["smoke"] == true;
  }, 10s));
  auto [status, body] = house->api("POST", "/devices/landing_smoke/events", {{"event", "motion"}});
  EXPECT_EQ(status, 400);
  EXPECT_NE(body["error"].get<std::string>().find("no event 'motion'"), std::string::npos);
  house->api("POST", "/devices/landing_smoke/events", {{"event", "smoke_clear"}});
}

TEST_F(FirmwareSimHouse, ControlApiNeedsTheTokenAndNamesBadFields) {
  auto [s404, b404] = house->api("GET", "/devices/nope");
  EXPECT_EQ(s404, 404);
  auto [s400, b400] = house->api("PUT", "/devices/hall_light/faults", {{"drop_commands", "half"}});
  EXPECT_EQ(s400, 400);
  EXPECT_NE(b400["error"].get<std::string>().find("field 'drop_commands'"), std::string::npos) << b400.dump();
}

TEST_F(FirmwareSimHouse, ADeviceCannotPublishOrReadAnotherDevicesTopics) {
  // The intruder holds hall_light's real credentials.
  MqttObserver intruder(house->broker().uri(), "intruder", house->home().device("hall_light")->credentials,
                        house->password_of("hall_light"),
                        {house->topic("kitchen_plug", Channel::cmd), house->topic("hall_light", Channel::cmd)});
  intruder.publish(house->topic("kitchen_plug", Channel::state), R"({"forged":true})");
  intruder.publish(house->topic("kitchen_plug", Channel::cmd), R"({"cmd_id":"forged","command":"turn_on"})");
  intruder.publish("homestead/default/hall_light/../kitchen_plug/status", "forged");
  // A message the intruder may send, after the forged ones: once it is seen, they would have been.
  intruder.publish(house->topic("hall_light", Channel::status), "online");
  house->send_command("kitchen_plug", "it-acl-1", "status", {{"cmd_id", "x"}});
  house->send_command("hall_light", "it-acl-2", "status", {{"cmd_id", "x"}});
  ASSERT_TRUE(house->wait_for_ack("hall_light", "it-acl-2"));
  ASSERT_TRUE(intruder.wait_for(house->topic("hall_light", Channel::cmd), [](const auto& m) { return !m.empty(); }));
  for (const auto& m : house->observer().all()) {
    EXPECT_EQ(m.payload.find("forged"), std::string::npos) << m.topic << " " << m.payload;
  }
  EXPECT_TRUE(intruder.on(house->topic("kitchen_plug", Channel::cmd)).empty()) << "read another device's commands";
  EXPECT_EQ(house->api("GET", "/devices/kitchen_plug/actuations").second.count("forged"), 0u);
}

TEST_F(FirmwareSimHouse, WrongPasswordAndAnonymousAreRefused) {
  const std::string user = house->home().device("hall_light")->credentials;
  EXPECT_THROW(MqttObserver(house->broker().uri(), "wrong-pw", user, "not-the-password", {}), std::exception);
  EXPECT_THROW(MqttObserver(house->broker().uri(), "anon", "", "", {}), std::exception);
  EXPECT_NO_THROW(MqttObserver(house->broker().uri(), "right-pw", user, house->password_of("hall_light"), {}));
}

}  // namespace
}  // namespace homestead::testing
