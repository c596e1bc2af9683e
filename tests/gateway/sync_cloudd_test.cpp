// End to end with the real cloud: three cloudd processes (tests/cloud fixture), Mosquitto,
// gatewayd and the firmware-sim default home. The cloud admin API creates the home and the
// gateway (its token goes to gatewayd's token file); then:
//   - device state reaches the cloud's shadows and transactuation records its audit log;
//   - a desired change set through the cloud API (PATCH shadow) reaches the device through
//     a cloud_desired transactuation and comes back as reported state (delta empty);
//   - kill -9 of the cloud leader: the gateway follows the new leader and later records
//     still arrive exactly once;
//   - configured with one member's URL only, the gateway locates its home's group through it
//     (Chord ring, Sync/Locate), learns the other members, and keeps syncing after that
//     member is killed.
#include <gtest/gtest.h>

#include <set>


#include "tests/cloud/cloud_cluster.h"
#include "tests/gateway/cloud_helpers.h"
#include "tests/gateway/firmware_sim_home.h"
#include "tests/gateway/harness.h"

using namespace homestead::testing;
using homestead::cloud_testing::CloudCluster;
using homestead::cloud_testing::ClusterOptions;
using nlohmann::json;

namespace {

struct CloudHome {
  CloudCluster cluster{ClusterOptions{}};
  TempDir secrets{"cloudtoken"};
  std::filesystem::path token_file = secrets / "gw1.token";
  std::unique_ptr<GatewayHarness> h;
  std::unique_ptr<FirmwareSimHome> sim;

  // `only_member`: configure the gateway with this member's URL alone (0: all of them).
  void start(std::uint64_t only_member = 0) {
    cluster.start_all();
    ASSERT_NE(cluster.wait_for_leader(30s), 0u);
    ASSERT_EQ(cluster.request_any("POST", "/api/v1/homes", {{"id", "default"}}).status, 201);
    ASSERT_EQ(register_gateway(cluster, "default", "gw1", secrets.path()), token_file);
    const auto urls = only_member == 0 ? cloud_urls(cluster)
                                       : json::array({"http://127.0.0.1:" + std::to_string(cluster.http_port(only_member))});
    h = std::make_unique<GatewayHarness>(json{{"home_file", FirmwareSimHome::home_file().string()},
                                              {"cloud",
                                               {{"enabled", true},
                                                {"urls", urls},
                                                {"gateway_id", "gw1"},
                                                {"token_file", token_file.string()},
                                                {"sync_interval_ms", 50},
                                                {"request_timeout_ms", 3000}}}});
    sim = std::make_unique<FirmwareSimHome>(*h);
    h->start_gateway();
    sim->start("zero");
    ASSERT_TRUE(sim->wait_all_reported()) << sim->process().log_tail() << h->context();
  }
  json shadow(const std::string& device) {
    return cluster.request_any("GET", "/api/v1/homes/default/devices/" + device + "/shadow").body;
  }
  json audit(const std::string& app) { return cluster.request_any("GET", "/api/v1/homes/default/audit?app=" + app).body; }
  json sync_status() { return h->get_json("/api/v1/sync"); }
  // Kills cloud member `victim`, then makes the hall motion sensor report twice; returns the
  // gateway's sync status once both reports are in the cloud (null after a failed assert).
  json kill_member_then_sync_motion(std::uint64_t victim, std::uint64_t applied_before) {
    cluster.kill9(victim);
    EXPECT_NE(cluster.wait_for_leader(30s, victim), 0u);
    sim->event("hall_motion", "motion");
    sim->event("hall_motion", "motion_clear");
    json after;
    if (!wait_until([&] {
          after = sync_status();
          return after["connected"] == true && after["outbox"]["depth"] == 0 &&
                 after["applied_through"].get<std::uint64_t>() > applied_before;
        }, 40s)) {
      ADD_FAILURE() << "the reports did not reach the cloud\n" << after.dump(2) << h->context();
      return nullptr;
    }
    // The outbox can be empty between the two reports (motion_clear still on its way from
    // the device), so wait for the shadow itself.
    json motion;
    EXPECT_TRUE(wait_until([&] {
      motion = shadow("hall_motion");
      return motion["reported"]["motion"] == false;
    }, 30s)) << motion.dump(2) << sync_status().dump(2);
    return after;
  }
};

std::size_t records_of(const json& audit) { return audit.contains("records") ? audit["records"].size() : 0; }

}  // namespace

TEST(GatewayCloudSync, StateRecordsAndDesiredFlowThroughRealCloudd) {
  CloudHome home;
  home.start();
  // Reported state reaches the shadow.
  json shadow;
  ASSERT_TRUE(wait_until([&] {
    shadow = home.shadow("thermostat");
    return shadow.contains("reported") && shadow["reported"].contains("setpoint");
  }, 30s)) << shadow.dump(2) << home.sync_status().dump(2);
  const auto before = home.sim->control("GET", "/devices/thermostat")["state"]["setpoint"];
  EXPECT_EQ(shadow["reported"]["setpoint"], before);

  // A user sets the thermostat from the cloud.
  const double target = before.get<double>() == 18.5 ? 19.5 : 18.5;
  const auto patch = home.cluster.request_any("PATCH", "/api/v1/homes/default/devices/thermostat/shadow",
                          {{"desired", {{"setpoint", target}}}});
  ASSERT_EQ(patch.status, 200) << patch.body.dump();
  ASSERT_TRUE(wait_until([&] { return home.sim->control("GET", "/devices/thermostat")["state"]["setpoint"] == target; },
                         30s))
      << home.sync_status().dump(2) << home.h->context();
  // The run's record reaches the audit log and the new state the shadow; delta is gone.
  ASSERT_TRUE(wait_until([&] {
    shadow = home.shadow("thermostat");
    return shadow["reported"]["setpoint"] == target && records_of(home.audit("cloud_desired")) == 1;
  }, 30s)) << shadow.dump(2) << home.audit("cloud_desired").dump(2) << home.sync_status().dump(2);
  EXPECT_TRUE(!shadow.contains("delta") || shadow["delta"].empty() || !shadow["delta"].contains("setpoint"))
      << shadow.dump(2);
  // The run's audit record is pushed by the run itself; the sync client counts the change as
  // applied when its next round sees the run's outcome, which can come a little later.
  json status;
  EXPECT_TRUE(wait_until([&] {
    status = home.sync_status();
    return status["desired_applied"] == 1;
  }, 30s)) << status.dump(2);
  EXPECT_EQ(status["connected"], true);

  // Kill -9 the cloud leader: the gateway follows the new one; later reports still arrive.
  const auto leader = home.cluster.wait_for_leader(20s);
  ASSERT_NE(leader, 0u);
  const json after = home.kill_member_then_sync_motion(leader, status["applied_through"].get<std::uint64_t>());
  ASSERT_FALSE(after.is_null());
  EXPECT_NE(after["leader"], "http://127.0.0.1:" + std::to_string(home.cluster.http_port(leader)));
}

TEST(GatewayCloudSync, OneConfiguredUrlIsEnoughTheGatewayLocatesItsHomeGroupThroughIt) {
  CloudHome home;
  const std::uint64_t seed_member = 2;
  home.start(seed_member);
  json status;
  ASSERT_TRUE(wait_until([&] {
    status = home.sync_status();
    return status["home_group"].is_object() && status["home_group"]["members"].size() == 3;
  }, 30s)) << status.dump(2) << home.h->context();
  EXPECT_EQ(status["home_group"]["group"], 1) << "cloudd's default dht.group";
  EXPECT_EQ(status["home_group"]["via"], "http://127.0.0.1:" + std::to_string(home.cluster.http_port(seed_member)));
  std::set<std::string> learnt;
  for (const auto& m : status["home_group"]["members"]) learnt.insert(m.get<std::string>());
  std::set<std::string> all;
  for (const auto& u : cloud_urls(home.cluster)) all.insert(u.get<std::string>());
  EXPECT_EQ(learnt, all);
  // The owner the gateway was told is the one the ring gives through the admin API.
  const auto lookup = home.cluster.request_any("GET", "/api/v1/dht/homes/default");
  ASSERT_EQ(lookup.status, 200) << lookup.body.dump();
  EXPECT_EQ(status["home_group"]["owner_member"], lookup.body["owner"]["member"]);

  // The only configured member dies; the gateway goes on with the members it learnt.
  ASSERT_TRUE(wait_until([&] { return home.sync_status()["outbox"]["depth"] == 0; }, 30s));
  const auto applied_before = home.sync_status()["applied_through"].get<std::uint64_t>();
  const json after = home.kill_member_then_sync_motion(seed_member, applied_before);
  ASSERT_FALSE(after.is_null());
  EXPECT_NE(after["cloud_url"], "http://127.0.0.1:" + std::to_string(home.cluster.http_port(seed_member)));
}
