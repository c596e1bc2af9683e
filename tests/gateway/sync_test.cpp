// gatewayd's cloud sync against a fake Sync service (tests/gateway/fake_sync_cloud.h: a
// leader applying the contract's seq rule and a follower answering not_leader), with real
// Mosquitto, real gatewayd processes and (for desired state) the real firmware-sim:
//   - records arrive exactly once and in order through lost replies, refusals, not_leader
//     redirects and an outage;
//   - kill -9 of gatewayd with a full (bounded) outbox, restart, drain: nothing duplicated,
//     nothing lost except what the documented bound dropped (counted), no record dropped;
//   - a desired change from the cloud reaches the device through a cloud_desired
//     transactuation and flows back as reported state;
//   - a local change made while offline conflicting with a cloud desired change is resolved
//     by the rule (desired applied, local change reported first) and recorded.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/gateway/fake_sync_cloud.h"
#include "tests/gateway/firmware_sim_home.h"
#include "tests/gateway/harness.h"

using namespace homestead::testing;
using nlohmann::json;

namespace {

constexpr const char* kToken = "sync-test-token-0123456789abcdef";

// An API-triggered JSON app without devices: each trigger is one transactuation record.
const char* kArmApp = R"({"name": "arm", "trigger": {"api": true}, "actions": [], "state": {"armed": "true"},
                          "actuating": {"require": "NONE"}})";

struct CloudSetup {
  TempDir secrets{"synctoken"};
  std::filesystem::path token_file = secrets / "cloud.token";
  FakeSyncCloud cloud;

  explicit CloudSetup(const std::string& home) : cloud(kToken, home, "gw1") {
    std::ofstream(token_file) << kToken << "\n";
    ::chmod(token_file.c_str(), 0600);
    cloud.start();
  }
  json config(json extra = json::object()) const {
    json c = {{"cloud",
               {{"enabled", true},
                // The follower first: every fresh connection starts with a not_leader redirect.
                {"urls", {cloud.follower_url(), cloud.leader_url()}},
                {"gateway_id", "gw1"},
                {"token_file", token_file.string()},
                {"sync_interval_ms", 50},
                {"batch_max", 8},
                {"request_timeout_ms", 400}}}};
    c.merge_patch(extra);
    return c;
  }
};

json sync_status(GatewayHarness& h) { return h.get_json("/api/v1/sync"); }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<double> reported_values(const FakeSyncCloud& cloud, const std::string& device, const std::string& attr) {
  std::vector<double> out;
  for (const auto& b : cloud.bodies("reported")) {
    if (b["device"] == device && b["state"].contains(attr)) out.push_back(b["state"][attr].get<double>());
  }
  return out;
}

std::vector<std::uint64_t> transactuation_ids(const FakeSyncCloud& cloud, const std::string& app) {
  std::vector<std::uint64_t> out;
  for (const auto& b : cloud.bodies("transactuation")) {
    if (b["app"] == app) out.push_back(b["id"].get<std::uint64_t>());
  }
  return out;
}

void expect_contiguous_seqs(const FakeSyncCloud& cloud) {
  const auto items = cloud.applied();
  for (std::size_t i = 0; i < items.size(); ++i) ASSERT_EQ(items[i].seq, i + 1) << "item " << i;
}

// The runtime starts at the first broker connect; until then the app routes answer 503.
void install_arm(GatewayHarness& h) {
  int status = 0;
  EXPECT_TRUE(wait_until([&] {
    status = h.request("POST", "/api/v1/apps", kArmApp)->status;
    return status != 503;
  }, 10s));
  EXPECT_EQ(status, 201);
}

std::uint64_t trigger_arm(GatewayHarness& h) {
  auto r = h.request("POST", "/api/v1/apps/arm/trigger", "");
  EXPECT_EQ(r->status, 202) << r->body;
  const auto id = json::parse(r->body)["id"].get<std::uint64_t>();
  EXPECT_TRUE(wait_until([&] { return h.get_json("/api/v1/transactuations/" + std::to_string(id))["status"] == "committed"; },
                         10s));
  return id;
}

void publish_temperatures(FakeDevice& temp, int from, int to) {
  for (int t = from; t <= to; ++t) temp.publish_state({{"temperature", static_cast<double>(t)}});
}

// gatewayd started with the test home's temperature sensor connected (reporting 0.0) and
// the "arm" app installed.
struct TempDevice {
  std::unique_ptr<FakeDevice> temp;
  explicit TempDevice(GatewayHarness& h) {
    h.start_gateway();
    temp = std::make_unique<FakeDevice>(h.broker().uri(), "t", "temp", json{{"temperature", 0.0}},
                                        GatewayHarness::kDeviceUser, h.device_password());
    EXPECT_TRUE(temp->connect());
    install_arm(h);
  }
};

}  // namespace

TEST(GatewaySync, RecordsArriveOnceInOrderThroughLostRepliesRedirectsAndOutage) {
  CloudSetup setup("t");
  auto& cloud = setup.cloud;
  GatewayHarness h(setup.config());
  TempDevice home(h);
  auto& temp = *home.temp;
  std::vector<std::uint64_t> runs;

  publish_temperatures(temp, 1, 10);
  runs.push_back(trigger_arm(h));
  ASSERT_TRUE(wait_until([&] { return reported_values(cloud, "temp", "temperature").size() == 11; }, 20s))
      << sync_status(h).dump(2) << h.context();
  EXPECT_GT(cloud.not_leader_answers(), 0u);

  // Applied, reply lost (held past the 400 ms client timeout): the resend must be a no-op.
  cloud.set_fault(FakeSyncCloud::Fault::drop_reply, 700);
  publish_temperatures(temp, 11, 20);
  ASSERT_TRUE(wait_until([&] { return cloud.duplicates() > 0; }, 20s)) << sync_status(h).dump(2) << h.context();
  cloud.set_fault(FakeSyncCloud::Fault::refuse);
  publish_temperatures(temp, 21, 30);
  ASSERT_TRUE(wait_until([&] { return cloud.refused() > 0; }, 20s)) << sync_status(h).dump(2);

  // Outage: the gateway keeps working, the outbox grows, /api/v1/sync says so.
  cloud.stop();
  cloud.set_fault(FakeSyncCloud::Fault::none);
  publish_temperatures(temp, 31, 40);
  runs.push_back(trigger_arm(h));
  json status;
  ASSERT_TRUE(wait_until([&] {
    status = sync_status(h);
    return status["connected"] == false && status["outbox"]["depth"].get<int>() >= 11;
  }, 20s)) << status.dump(2);
  EXPECT_NE(status["last_error"].get<std::string>(), "");
  EXPECT_GE(h.metric("homestead_sync_outbox_depth"), 11);

  cloud.start();
  ASSERT_TRUE(wait_until([&] {
    status = sync_status(h);
    return status["connected"] == true && status["outbox"]["depth"] == 0 &&
           reported_values(cloud, "temp", "temperature").size() == 41;
  }, 30s)) << status.dump(2) << h.context();

  std::vector<double> expected;
  for (int t = 0; t <= 40; ++t) expected.push_back(t);
  EXPECT_EQ(reported_values(cloud, "temp", "temperature"), expected);
  EXPECT_EQ(transactuation_ids(cloud, "arm"), runs);
  expect_contiguous_seqs(cloud);
  EXPECT_EQ(status["applied_through"], cloud.applied_through());
  EXPECT_EQ(status["next_seq"], cloud.applied_through() + 1);
  EXPECT_GT(status["last_success_ms"].get<std::int64_t>(), 0);
  EXPECT_EQ(status["outbox"]["dropped"], 0);
  EXPECT_EQ(status["enabled"], true);
  EXPECT_EQ(status["leader"], cloud.leader_url());
  EXPECT_EQ(h.get_json("/api/v1/health")["sync"]["connected"], true);
}

TEST(GatewaySync, Kill9WithFullOutboxThenRestartDrainsWithoutDuplicatesOrLostRecords) {
  CloudSetup setup("t");
  auto& cloud = setup.cloud;
  cloud.stop();  // offline from the start
  GatewayHarness h(setup.config({{"cloud", {{"outbox_max_items", 25}}}}));
  TempDevice home(h);
  auto& temp = *home.temp;
  std::vector<std::uint64_t> runs;
  publish_temperatures(temp, 1, 20);
  for (int i = 0; i < 3; ++i) runs.push_back(trigger_arm(h));
  publish_temperatures(temp, 21, 40);
  json status;
  // 41 reports + 3 records against a bound of 25: reported rows were dropped, records not.
  ASSERT_TRUE(wait_until([&] {
    status = sync_status(h);
    return status["outbox"]["depth"].get<int>() + status["outbox"]["dropped"].get<int>() == 44;
  }, 20s)) << status.dump(2) << h.context();
  EXPECT_EQ(status["outbox"]["depth"], 25);
  EXPECT_EQ(status["outbox"]["dropped"], 19);
  EXPECT_EQ(h.metric("homestead_sync_outbox_dropped"), 19);

  h.kill9_gateway();
  h.start_gateway();
  cloud.start();
  ASSERT_TRUE(wait_until([&] {
    status = sync_status(h);
    return status["connected"] == true && status["outbox"]["depth"] == 0 && cloud.applied_through() >= 25;
  }, 30s)) << status.dump(2) << h.context();

  // Every record exactly once; reports strictly increasing (none twice, order kept), the
  // newest one present, and exactly the counted drops missing.
  EXPECT_EQ(transactuation_ids(cloud, "arm"), runs);
  const auto temps = reported_values(cloud, "temp", "temperature");
  ASSERT_FALSE(temps.empty());
  for (std::size_t i = 1; i < temps.size(); ++i) EXPECT_LT(temps[i - 1], temps[i]) << i;
  EXPECT_EQ(temps.back(), 40.0);
  EXPECT_EQ(temps.size(), 41u - 19u);
  expect_contiguous_seqs(cloud);
  EXPECT_EQ(cloud.applied_through(), 25u);
  EXPECT_EQ(status["outbox"]["dropped"], 19);
}

namespace {

struct SimHomeWithCloud {
  CloudSetup setup{"default"};
  GatewayHarness h{setup.config({{"home_file", FirmwareSimHome::home_file().string()}})};
  FirmwareSimHome sim{h};

  void start() {
    h.start_gateway();
    sim.start("zero");
    ASSERT_TRUE(sim.wait_all_reported()) << sim.process().log_tail() << h.context();
    // The cloud has the devices' first reports (so a desired change made from here on was
    // made by someone who could see them: not a conflict). First every ingested report must
    // be committed (and noted as a local change): a batch still in the writer when t0 is
    // taken would be a "local change the cloud had not seen" and flag a false conflict.
    ASSERT_TRUE(wait_until([&] {
      return h.metric("homestead_readings_stored_total") >= h.metric("homestead_mqtt_messages_in_total{channel=\"state\"}");
    }, 10s)) << h.context();
    const auto t0 = now_ms();
    ASSERT_TRUE(wait_until([&] { return sync_status(h)["synced_through_ms"].get<std::int64_t>() > t0; }, 10s))
        << sync_status(h).dump(2);
  }
  json device_state(const std::string& id) { return sim.control("GET", "/devices/" + id)["state"]; }
  json wait_desired_handled(std::uint64_t cursor) {
    json status;
    EXPECT_TRUE(wait_until([&] {
      status = sync_status(h);
      return status["desired_cursor"] == cursor;
    }, 20s)) << status.dump(2) << h.context();
    return status;
  }
};

}  // namespace

TEST(GatewaySync, DesiredChangeRunsAsTransactuationAndFlowsBackAsReported) {
  SimHomeWithCloud home;
  home.start();
  auto& cloud = home.setup.cloud;
  cloud.add_desired("thermostat", {{"setpoint", 19.5}});
  const auto status = home.wait_desired_handled(1);
  EXPECT_EQ(status["desired_applied"], 1);
  EXPECT_EQ(status["desired_failed"], 0);
  EXPECT_EQ(home.device_state("thermostat")["setpoint"], 19.5);

  const auto runs = home.h.get_json("/api/v1/transactuations?app=cloud_desired")["transactuations"];
  ASSERT_EQ(runs.size(), 1u) << runs.dump(2);
  const auto run = home.h.get_json("/api/v1/transactuations/" + std::to_string(runs[0]["id"].get<std::uint64_t>()));
  EXPECT_EQ(run["status"], "committed") << run.dump(2);
  ASSERT_EQ(run["actuations"].size(), 1u);
  EXPECT_EQ(run["actuations"][0]["device"], "thermostat");
  EXPECT_EQ(run["actuations"][0]["command"], "set_setpoint");

  // The result comes back as reported state, and the run's record reaches the audit log.
  ASSERT_TRUE(wait_until([&] {
    const auto values = reported_values(cloud, "thermostat", "setpoint");
    return !values.empty() && values.back() == 19.5 && transactuation_ids(cloud, "cloud_desired").size() == 1;
  }, 20s)) << sync_status(home.h).dump(2);
  EXPECT_EQ(transactuation_ids(cloud, "cloud_desired")[0], runs[0]["id"].get<std::uint64_t>());
  // A desired value no command can produce is recorded as failed, not dropped.
  cloud.add_desired("thermostat", {{"colour", "red"}});
  const auto after = home.wait_desired_handled(2);
  EXPECT_EQ(after["desired_failed"], 1);
  const auto conflicts = home.h.get_json("/api/v1/sync/conflicts")["conflicts"];
  EXPECT_TRUE(conflicts.empty()) << conflicts.dump(2);
}

TEST(GatewaySync, OfflineLocalChangeConflictingWithCloudDesiredIsResolvedByTheRuleAndRecorded) {
  SimHomeWithCloud home;
  home.start();
  auto& cloud = home.setup.cloud;
  cloud.stop();
  ASSERT_TRUE(wait_until([&] { return sync_status(home.h)["connected"] == false; }, 10s));
  // A local change while offline (a local command; the device reports the new setpoint).
  auto r = home.h.request("POST", "/api/v1/devices/thermostat/commands",
                          R"({"command": "set_setpoint", "args": {"setpoint": 23}})");
  ASSERT_EQ(r->status, 202) << r->body;
  ASSERT_TRUE(wait_until([&] { return home.h.get_json("/api/v1/devices/thermostat/state")["reported"]["setpoint"] == 23; },
                         10s))
      << home.h.get_json("/api/v1/devices/thermostat/state").dump(2);
  // Meanwhile in the cloud, someone sets another value.
  cloud.add_desired("thermostat", {{"setpoint", 18}});
  cloud.start();

  const auto status = home.wait_desired_handled(1);
  EXPECT_EQ(status["conflicts_resolved"], 1);
  EXPECT_EQ(status["desired_applied"], 1);
  // Desired from the cloud wins the intent ...
  EXPECT_EQ(home.device_state("thermostat")["setpoint"], 18);
  const auto conflicts = home.h.get_json("/api/v1/sync/conflicts")["conflicts"];
  ASSERT_EQ(conflicts.size(), 1u) << conflicts.dump(2);
  EXPECT_EQ(conflicts[0]["device"], "thermostat");
  EXPECT_EQ(conflicts[0]["attribute"], "setpoint");
  EXPECT_EQ(conflicts[0]["local_value"], 23);
  EXPECT_EQ(conflicts[0]["desired_value"], 18);
  EXPECT_EQ(conflicts[0]["desired_version"], 10);
  EXPECT_EQ(conflicts[0]["resolution"], "desired_applied");
  // ... reported keeps what the device said: the local change goes up before the result.
  ASSERT_TRUE(wait_until([&] {
    const auto values = reported_values(cloud, "thermostat", "setpoint");
    return !values.empty() && values.back() == 18 && cloud.bodies("conflict").size() == 1;
  }, 20s)) << sync_status(home.h).dump(2);
  const auto values = reported_values(cloud, "thermostat", "setpoint");
  const auto local_at = std::find(values.begin(), values.end(), 23.0);
  ASSERT_NE(local_at, values.end());
  EXPECT_EQ(values.back(), 18.0);
  EXPECT_LT(local_at - values.begin(), static_cast<long>(values.size()) - 1);
  const auto item = cloud.bodies("conflict")[0];
  EXPECT_EQ(item["resolution"], "desired_applied");
  EXPECT_EQ(item["local_value"], 23);
  EXPECT_EQ(home.h.metric("homestead_sync_conflicts_total"), 1);

  // homectl shows the same.
  const std::vector<std::string> base = {"--url", "http://127.0.0.1:" + std::to_string(home.h.http_port()), "--token",
                                         home.h.admin_token()};
  auto args = base;
  args.insert(args.end(), {"sync", "conflicts"});
  const auto table = run_homectl(home.h, args);
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("thermostat"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("desired_applied"), std::string::npos) << table.output;
  args = base;
  args.insert(args.end(), {"--json", "sync"});
  const auto js = run_homectl(home.h, args);
  ASSERT_EQ(js.exit_code, 0) << js.output;
  const auto doc = json::parse(js.output.substr(js.output.find('{')));
  EXPECT_EQ(doc["conflicts_resolved"], 1);
  EXPECT_EQ(doc["desired_cursor"], 1);
}
