// Integration (issue 10 item 4): a real gatewayd (with Mosquitto and the firmware-sim home
// reporting, so its outbox keeps flowing to the cloud) takes part in a live snapshot of
// three real cloudd: started on a member, the snapshot completes with the gateway's part
// (shipped by gatewayd's sync thread) and is consistent, outbox equations included.
#include <gtest/gtest.h>

#include "tests/cloud/cloud_cluster.h"
#include "tests/gateway/cloud_helpers.h"
#include "tests/gateway/firmware_sim_home.h"
#include "tests/gateway/harness.h"

using namespace homestead::testing;
using homestead::cloud_testing::CloudCluster;
using homestead::cloud_testing::ClusterOptions;
using nlohmann::json;

TEST(LiveSnapshotGatewayd, RealGatewayTakesPart) {
  CloudCluster cluster{ClusterOptions{}};
  TempDir secrets{"snapgw"};
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(30s), 0u);
  ASSERT_EQ(cloud_call(cluster, "POST", "/api/v1/homes", {{"id", "default"}}).status, 201);
  const auto token_file = register_gateway(cluster, "default", "gw1", secrets.path());
  GatewayHarness h(json{{"home_file", FirmwareSimHome::home_file().string()},
                        {"cloud",
                         {{"enabled", true},
                          {"urls", cloud_urls(cluster)},
                          {"gateway_id", "gw1"},
                          {"token_file", token_file.string()},
                          {"sync_interval_ms", 50},
                          {"request_timeout_ms", 3000}}}});
  FirmwareSimHome sim(h);
  h.start_gateway();
  sim.start("zero");
  ASSERT_TRUE(sim.wait_all_reported()) << sim.process().log_tail() << h.context();

  const auto started = cloud_call(cluster, "POST", "/api/v1/snapshots");
  ASSERT_EQ(started.status, 202) << started.body.dump();
  const std::string id = started.body["id"];
  json report;
  ASSERT_TRUE(wait_until(
      [&] {
        const auto answer = cloud_call(cluster, "GET", "/api/v1/snapshots/" + id);
        report = answer.body;
        return answer.status == 200 && report["status"] == "complete" &&
               report["participants"].contains("gateway:default/gw1");
      },
      30s, 50ms))
      << report.dump() << h.context();
  EXPECT_TRUE(report["consistency"]["consistent"].get<bool>()) << report["consistency"].dump();
  const json& gateway = report["participants"]["gateway:default/gw1"]["state"];
  EXPECT_GT(gateway["pushed_through"].get<std::uint64_t>(), 0u) << gateway.dump();
  EXPECT_TRUE(gateway.contains("outbox")) << gateway.dump();
  bool channel_in = false, channel_out = false;
  for (const auto& c : report["channels"]) {
    channel_in = channel_in || (c["from"] == "gateway:default/gw1" && c["closed"].get<bool>());
    channel_out = channel_out || (c["to"] == "gateway:default/gw1" && c["closed"].get<bool>());
    const std::uint64_t sent = report["participants"][c["from"].get<std::string>()]["sent_through"].value(
        c["to"].get<std::string>(), std::uint64_t{0});
    EXPECT_EQ(c["received_before_cut"].get<std::uint64_t>() + c["in_flight"].size() + c["lost"].size(), sent) << c.dump();
  }
  EXPECT_TRUE(channel_in);
  EXPECT_TRUE(channel_out);
}
