// Transactuations inside the real gatewayd, against real Mosquitto and the real firmware-sim
// running the default home: the built-in intrusion alarm (hall_motion -> landing_strobe +
// hall_siren, alarmActive only with an acked strobe), armed by a JSON app installed through
// the REST API. Checks the outcome each policy promises with healthy and jammed devices, and
// that kill -9 of gatewayd mid-transactuation is finished by recovery without any device
// actuating a cmd_id twice.
#include <gtest/gtest.h>

#include "tests/gateway/firmware_sim_home.h"

using namespace homestead::testing;
using nlohmann::json;

namespace {

json alarm_config() {
  const json alarm = {{"motion", {"hall_motion.motion"}}, {"strobe", "landing_strobe"}, {"siren", "hall_siren"}};
  return {{"transactuations", {{"builtin", {{"intrusion_alarm", alarm}}}}},
          {"home_file", FirmwareSimHome::home_file().string()}};
}

// An API-triggered JSON app that sets state.armed (no devices involved).
const char* kArmApp = R"({"name": "arm", "trigger": {"api": true}, "actions": [], "state": {"armed": "true"},
                          "actuating": {"require": "NONE"}})";

struct AlarmHome {
  // `extra_config` is merged into alarm_config() (JSON merge patch).
  explicit AlarmHome(const json& extra_config = json::object())
      : h([&] {
          json config = alarm_config();
          config.merge_patch(extra_config);
          return config;
        }()) {}
  GatewayHarness h;
  FirmwareSimHome sim{h};

  void start() {
    h.start_gateway();
    sim.start("zero");
    ASSERT_TRUE(sim.wait_all_reported()) << sim.process().log_tail() << h.context();
  }
  json run(std::uint64_t id) { return h.get_json("/api/v1/transactuations/" + std::to_string(id)); }
  // An API-triggered app that unlocks front_door_lock, as the fire app would.
  void install_fire_unlock(int timeout_s) {
    const json app = {{"name", "fire_unlock"},
                      {"trigger", {{"api", true}}},
                      {"actions", json::array({{{"device", "front_door_lock"}, {"command", "unlock"}}})},
                      {"actuating", {{"require", "ALL"}, {"timeout_s", timeout_s}, {"retries", 0}}}};
    const auto r = h.request("POST", "/api/v1/apps", app.dump());
    ASSERT_EQ(r->status, 201) << r->body;
  }
  void arm() {
    auto r = h.request("POST", "/api/v1/apps", kArmApp);
    ASSERT_EQ(r->status, 201) << r->body;
    r = h.request("POST", "/api/v1/apps/arm/trigger", "");
    ASSERT_EQ(r->status, 202) << r->body;
    const auto id = json::parse(r->body)["id"].get<std::uint64_t>();
    ASSERT_TRUE(wait_until([&] { return run(id)["status"] == "committed"; }, 10s)) << run(id).dump(2);
    ASSERT_EQ(h.get_json("/api/v1/app-state")["state"]["armed"], true);
  }
  // Motion in the hall; returns the id of the intrusion_alarm run that acted on it.
  std::uint64_t motion() {
    sim.event("hall_motion", "motion_clear");
    sim.event("hall_motion", "motion");
    std::uint64_t id = 0;
    EXPECT_TRUE(wait_until([&] {
      const auto list = h.get_json("/api/v1/transactuations?app=intrusion_alarm&limit=20");
      for (const auto& t : list["transactuations"]) {
        if (!run(t["id"])["actuations"].empty()) id = t["id"];
      }
      return id != 0;
    }, 15s)) << h.get_json("/api/v1/transactuations").dump(2) << h.context();
    return id;
  }
  json wait_finished(std::uint64_t id) {
    // After a restart the routes answer 503 until the runtime has started (first broker connect).
    json last;
    EXPECT_TRUE(wait_until([&] {
      const auto r = h.request("GET", "/api/v1/transactuations/" + std::to_string(id));
      if (!r || r->status != 200) return false;
      last = json::parse(r->body);
      return last["status"] != "running";
    }, 20s)) << last.dump(2) << h.context();
    return last;
  }
  // Every cmd_id the devices saw was actuated exactly once.
  void expect_no_duplicate_actuation(const json& record) {
    for (const auto& a : record["actuations"]) {
      const auto counts = sim.actuations(a["device"]);
      for (const auto& [cmd_id, count] : counts.items()) EXPECT_EQ(count, 1) << a["device"] << " " << cmd_id;
    }
  }
};

TEST(GatewayTransactuations, IntrusionAlarmCommitsWhenStrobeAndSirenAck) {
  AlarmHome home;
  home.start();
  const auto apps = home.h.get_json("/api/v1/apps")["apps"];
  ASSERT_EQ(apps.size(), 1u) << apps.dump();  // only what the config turned on
  EXPECT_EQ(apps[0]["name"], "intrusion_alarm");
  EXPECT_EQ(apps[0]["origin"], "builtin");
  home.arm();
  const auto id = home.motion();
  const auto r = home.wait_finished(id);
  EXPECT_EQ(r["status"], "committed") << r.dump(2);
  ASSERT_EQ(r["actuations"].size(), 2u);
  for (const auto& a : r["actuations"]) EXPECT_EQ(a["state"], "ok") << a.dump();
  ASSERT_FALSE(r["readings"].empty());
  EXPECT_EQ(r["readings"][0]["device"], "hall_motion");
  EXPECT_EQ(r["readings"][0]["value"], true);
  EXPECT_TRUE(r["timings"].contains("total_us"));
  EXPECT_EQ(home.h.get_json("/api/v1/app-state")["state"]["alarmActive"], true);
  EXPECT_EQ(home.sim.control("GET", "/devices/landing_strobe")["state"]["on"], true);
  home.expect_no_duplicate_actuation(r);
  // The list filters by status and app.
  const auto committed = home.h.get_json("/api/v1/transactuations?status=committed&app=intrusion_alarm");
  ASSERT_FALSE(committed["transactuations"].empty());
  EXPECT_EQ(committed["transactuations"][0]["id"], id);
  EXPECT_EQ(home.h.request("GET", "/api/v1/transactuations?status=nonsense")->status, 400);
}

TEST(GatewayTransactuations, JammedStrobeAndSirenAbortWithoutStateWrite) {
  AlarmHome home;
  home.start();
  home.sim.set_faults("landing_strobe", {{"fail_acks", "jammed"}});
  home.sim.set_faults("hall_siren", {{"fail_acks", "jammed"}});
  home.arm();
  const auto r = home.wait_finished(home.motion());
  EXPECT_EQ(r["status"], "aborted") << r.dump(2);
  EXPECT_EQ(r["reason"], "actuating") << r.dump(2);
  ASSERT_EQ(r["actuations"].size(), 2u);
  for (const auto& a : r["actuations"]) {
    EXPECT_EQ(a["state"], "failed") << a.dump();
    // Refused by the device itself (not by the gateway), and retried with the same cmd_id.
    EXPECT_NE(a["error"].get<std::string>().find("jammed"), std::string::npos) << a.dump();
    const auto counts = home.sim.actuations(a["device"]);
    EXPECT_EQ(counts.value(a["cmd_id"].get<std::string>(), 0), 1) << counts.dump();
  }
  // Guarantee 2: the state never claims an alarm whose strobe did not act.
  EXPECT_NE(home.h.get_json("/api/v1/app-state")["state"].value("alarmActive", false), true);
}

TEST(GatewayTransactuations, Kill9MidTransactuationRecoversWithoutDuplicateActuation) {
  AlarmHome home;
  home.start();
  home.arm();
  // The devices act at once but answer late, so gatewayd dies with both commands in flight.
  home.sim.set_faults("landing_strobe", {{"ack_delay_ms", 1500}});
  home.sim.set_faults("hall_siren", {{"ack_delay_ms", 1500}});
  home.sim.event("hall_motion", "motion_clear");
  home.sim.event("hall_motion", "motion");
  std::uint64_t id = 0;
  ASSERT_TRUE(wait_until([&] {
    const auto list = home.h.get_json("/api/v1/transactuations?status=running");
    for (const auto& t : list["transactuations"]) {
      const auto r = home.run(t["id"]);
      if (r["app"] == "intrusion_alarm" && r["actuations"].size() == 2 && r["actuations"][0]["state"] == "sent") {
        id = t["id"];
      }
    }
    return id != 0;
  }, 15s, 5ms)) << home.h.context();
  home.h.kill9_gateway();
  home.sim.set_faults("landing_strobe", json::object());
  home.sim.set_faults("hall_siren", json::object());
  // A siren keeps its cmd_id memory in RAM: after this power cycle a re-sent command WOULD
  // actuate again, so the count below catches any re-send by recovery (it may only query).
  home.sim.control("POST", "/devices/hall_siren/reboot", "{}");
  home.h.start_gateway();
  const auto r = home.wait_finished(id);
  EXPECT_TRUE(r["recovered"]) << r.dump(2);
  // The strobe acted before the crash and remembers it: the policy (ANY) holds and
  // alarmActive, claimed by the strobe, is written. The rebooted siren answers unknown (or
  // its late ack), either way without acting again.
  EXPECT_EQ(r["status"], "committed") << r.dump(2);
  EXPECT_EQ(r["actuations"][0]["device"], "landing_strobe");
  EXPECT_EQ(r["actuations"][0]["state"], "ok") << r.dump(2);
  EXPECT_EQ(home.h.get_json("/api/v1/app-state")["state"]["alarmActive"], true);
  for (const auto& a : r["actuations"]) {
    EXPECT_EQ(home.sim.actuations(a["device"]).value(a["cmd_id"].get<std::string>(), 0), 1) << a.dump();
  }
  home.expect_no_duplicate_actuation(r);
}

// Guarantee 3 for commands that bypass the runtime (the fire scenario bug): a slow `lock` sent
// through POST /api/v1/devices/{id}/commands before a transactuation's `unlock` of the same
// lock must be settled before the unlock leaves, so the lock ends unlocked (the serial order:
// lock, then unlock) however the network or the device delays the first one.
TEST(GatewayTransactuations, RestCommandIsOrderedBeforeALaterTransactuationOnTheSameDevice) {
  AlarmHome home;
  home.start();
  home.install_fire_unlock(5);
  // The lock acts at once but answers 1.5 s later: the REST lock is unsettled meanwhile.
  home.sim.set_faults("front_door_lock", {{"ack_delay_ms", 1500}});
  auto r = home.h.request("POST", "/api/v1/devices/front_door_lock/commands", R"({"command": "lock"})");
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string command_id = json::parse(r->body)["command_id"];
  r = home.h.request("POST", "/api/v1/apps/fire_unlock/trigger", "");
  ASSERT_EQ(r->status, 202) << r->body;
  const auto run_id = json::parse(r->body)["id"].get<std::uint64_t>();

  const auto run = home.wait_finished(run_id);
  EXPECT_EQ(run["status"], "committed") << run.dump(2);
  ASSERT_EQ(run["actuations"].size(), 1u) << run.dump(2);
  const auto command = home.h.get_json("/api/v1/commands/" + command_id + "?wait_ms=5000");
  ASSERT_EQ(command["status"], "acked") << command.dump(2);
  // The unlock left only after the gateway had the lock's ack (both are wall-clock times).
  EXPECT_GE(run["actuations"][0]["sent_at"].get<std::int64_t>(), command["acked_ms"].get<std::int64_t>() * 1000)
      << run.dump(2) << command.dump(2);
  EXPECT_EQ(home.sim.control("GET", "/devices/front_door_lock")["state"]["lock"], "unlocked");
  const auto counts = home.sim.actuations("front_door_lock");
  EXPECT_EQ(counts.value(command_id, 0), 1) << counts.dump();
  EXPECT_EQ(counts.value(run["actuations"][0]["cmd_id"].get<std::string>(), 0), 1) << counts.dump();
}

// The other direction: a REST command to a device a running transactuation still commands
// waits (202 `pending`) until that transactuation has finished, then goes out.
TEST(GatewayTransactuations, RestCommandWaitsForAnEarlierTransactuationOnTheSameDevice) {
  AlarmHome home;
  home.start();
  home.install_fire_unlock(5);
  home.sim.set_faults("front_door_lock", {{"ack_delay_ms", 1500}});
  auto r = home.h.request("POST", "/api/v1/apps/fire_unlock/trigger", "");
  ASSERT_EQ(r->status, 202) << r->body;
  const auto run_id = json::parse(r->body)["id"].get<std::uint64_t>();
  // Wait until the unlock is out (its ack is 1.5 s away), then send the REST lock.
  ASSERT_TRUE(wait_until([&] {
    const auto run = home.run(run_id);
    return !run["actuations"].empty() && run["actuations"][0]["state"] == "sent";
  }, 10s)) << home.run(run_id).dump(2);
  r = home.h.request("POST", "/api/v1/devices/front_door_lock/commands", R"({"command": "lock"})");
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(json::parse(r->body)["status"], "pending") << r->body;
  const std::string command_id = json::parse(r->body)["command_id"];
  const auto command = home.h.get_json("/api/v1/commands/" + command_id + "?wait_ms=10000");
  ASSERT_EQ(command["status"], "acked") << command.dump(2);
  const auto run = home.wait_finished(run_id);
  EXPECT_EQ(run["status"], "committed") << run.dump(2);
  // The lock left only after the transactuation had its unlock's ack.
  // (milliseconds against microseconds: compare whole milliseconds)
  EXPECT_GE(command["sent_ms"].get<std::int64_t>(), run["actuations"][0]["resolved_at"].get<std::int64_t>() / 1000)
      << run.dump(2) << command.dump(2);
  EXPECT_EQ(home.sim.control("GET", "/devices/front_door_lock")["state"]["lock"], "locked");
}

// A REST command to an offline device stays open (up to its expiry, 300 s by default) but
// keeps the device's place in the transactuation order only for commands.hold_max_ms:
// a transactuation on the device (here an unlock, as the fire app would send) then goes
// ahead instead of aborting with `conflict` at its 10 s lock timeout.
TEST(GatewayTransactuations, ARestCommandToAnOfflineDeviceHoldsItOnlyForHoldMax) {
  AlarmHome home(json{{"commands", {{"hold_max_ms", 1000}}}});
  home.start();
  home.install_fire_unlock(2);
  auto& h = home.h;
  auto& sim = home.sim;
  sim.control("POST", "/devices/front_door_lock/offline", R"({"duration_ms": 60000})");
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/devices/front_door_lock")["online"] == false; }, 10s))
      << h.get_json("/api/v1/devices/front_door_lock").dump(2);
  auto r = h.request("POST", "/api/v1/devices/front_door_lock/commands", R"({"command": "lock"})");
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string command_id = json::parse(r->body)["command_id"];
  r = h.request("POST", "/api/v1/apps/fire_unlock/trigger", "");
  ASSERT_EQ(r->status, 202) << r->body;
  const auto run_id = json::parse(r->body)["id"].get<std::uint64_t>();
  json run;
  ASSERT_TRUE(wait_until([&] {
    run = h.get_json("/api/v1/transactuations/" + std::to_string(run_id));
    return run["status"] != "running";
  }, 9s)) << "still waiting for the device after 9 s: the REST command kept it\n" << run.dump(2);
  EXPECT_NE(run["reason"], "conflict") << run.dump(2);
  ASSERT_EQ(run["actuations"].size(), 1u) << "the unlock was attempted\n" << run.dump(2);
  EXPECT_EQ(h.get_json("/api/v1/commands/" + command_id)["status"], "pending") << "still open, never sent";
  EXPECT_EQ(h.metric("homestead_command_holds_released_total"), 1);
}

}  // namespace

namespace {

TEST(GatewayTransactuations, AppsApiValidatesInstallsDisablesAndKeepsApps) {
  GatewayHarness h;
  h.start_gateway();
  ASSERT_TRUE(wait_until([&] { return h.request("GET", "/api/v1/apps")->status == 200; }, 10s)) << h.context();
  EXPECT_TRUE(h.get_json("/api/v1/apps")["apps"].empty());  // nothing runs unless configured
  // A bad definition names the field and installs nothing.
  auto r = h.request("POST", "/api/v1/apps",
                     R"({"name": "bad", "trigger": {"api": true}, "when": "state.x ==", "actions": []})");
  ASSERT_EQ(r->status, 400) << r->body;
  const auto error = json::parse(r->body)["error"];
  EXPECT_EQ(error["code"], "invalid_app");
  EXPECT_NE(error["message"].get<std::string>().find("field 'when'"), std::string::npos) << error.dump();
  EXPECT_EQ(h.request("GET", "/api/v1/apps/bad")->status, 404);

  ASSERT_EQ(h.request("POST", "/api/v1/apps", kArmApp)->status, 201);
  EXPECT_EQ(h.request("POST", "/api/v1/apps", kArmApp)->status, 409);
  EXPECT_EQ(h.get_json("/api/v1/apps/arm")["origin"], "api");
  ASSERT_EQ(h.request("POST", "/api/v1/apps/arm/disable")->status, 200);
  EXPECT_EQ(h.request("POST", "/api/v1/apps/arm/trigger")->status, 409);
  // Installed apps and the disabled flag survive a restart.
  h.stop_gateway();
  h.start_gateway();
  ASSERT_TRUE(wait_until([&] { return h.request("GET", "/api/v1/apps/arm")->status == 200; }, 10s)) << h.context();
  EXPECT_EQ(h.get_json("/api/v1/apps/arm")["enabled"], false);
  ASSERT_EQ(h.request("POST", "/api/v1/apps/arm/enable")->status, 200);
  r = h.request("POST", "/api/v1/apps/arm/trigger");
  ASSERT_EQ(r->status, 202) << r->body;
  const auto id = json::parse(r->body)["id"].get<std::uint64_t>();
  // Ids never repeat across restarts: the second boot's epoch is in the high bits.
  EXPECT_EQ(id >> 32, 2u);
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/app-state")["state"].value("armed", false); }, 10s));
  ASSERT_EQ(h.request("DELETE", "/api/v1/apps/arm")->status, 204);
  EXPECT_EQ(h.request("GET", "/api/v1/apps/arm")->status, 404);
  // homectl shows apps, runs and one run.
  auto homectl = [&](std::vector<std::string> args) {
    ProcessOptions o;
    o.executable = build_path("gateway/homectl").string();
    o.args = {"--url", "http://127.0.0.1:" + std::to_string(h.http_port()), "--token", h.admin_token()};
    o.args.insert(o.args.end(), args.begin(), args.end());
    o.log_file = h.dir() / ("homectl-" + args[0] + ".log");
    ChildProcess p(std::move(o));
    EXPECT_TRUE(wait_until([&] { return !p.running(); }, 15s));
    return p.log();
  };
  const auto runs = homectl({"runs"});
  EXPECT_NE(runs.find(std::to_string(id) + "  arm"), std::string::npos) << runs;
  const auto one = homectl({"run", std::to_string(id)});
  EXPECT_NE(one.find("status        committed"), std::string::npos) << one;
  EXPECT_NE(one.find("\"armed\":true"), std::string::npos) << one;
  ASSERT_EQ(h.request("POST", "/api/v1/apps", kArmApp)->status, 201);
  const auto apps = homectl({"apps"});
  EXPECT_NE(apps.find("arm   api     yes      api"), std::string::npos) << apps;
}

}  // namespace
