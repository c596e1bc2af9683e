// Integration (issue 10 item 4): gateways as snapshot participants, over their Sync calls.
// Three real cloudd; two gateways registered through the admin API and driven by this test
// (tests/snapshot/sim_gateway.*, not gatewayd: see cloud/snapshot/README.md) with the
// gateway's own snapshot agent (gateway/snapshot_agent.*): they push outbox batches to the
// leader as fast as it applies them, stamping each Sync call and reading the cloud's stamp
// off each reply, send the explicit marker Pulls and ship their parts. A snapshot started on
// a follower completes with all five participants; the test recomputes the channel
// equations for all ten channels and the outbox equations: no member applied beyond what a
// gateway had pushed before its cut, and some member had applied what the gateway was told
// at its cut.
#include <gtest/gtest.h>

#include <set>

#include "tests/cloud/cloud_cluster.h"
#include "tests/snapshot/sim_gateway.h"
#include "tests/support/process.h"

namespace homestead::cloud_testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(LiveSnapshotGateways, TwoGatewaysAndThreeMembersUnderSyncLoad) {
  CloudCluster cluster(ClusterOptions{});
  cluster.start_all();
  const auto leader = cluster.wait_for_leader(20s);
  ASSERT_NE(leader, 0u);
  const std::string token1 = register_sim_gateway(cluster, "snap", "gw1");
  const std::string token2 = register_sim_gateway(cluster, "snap", "gw2");
  SimGateway gw1(cluster, "snap", "gw1", token1);
  SimGateway gw2(cluster, "snap", "gw2", token2);
  ASSERT_TRUE(testing::wait_until([&] { return gw1.applied() > 50 && gw2.applied() > 50; }, 30s, 10ms))
      << "sync load did not start: " << gw1.applied() << ", " << gw2.applied() << "; last error " << gw1.last_error();

  const std::uint64_t follower = leader == 1 ? 2 : 1;
  const auto started = cluster.request(follower, "POST", "/api/v1/snapshots");
  ASSERT_EQ(started.status, 202) << started.body.dump();
  const std::string id = started.body["id"];
  json report;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto answer = cluster.request(3, "GET", "/api/v1/snapshots/" + id);
        report = answer.body;
        return answer.status == 200 && report["status"] == "complete";
      },
      30s, 50ms))
      << report.dump();
  const auto applied_at_complete = gw1.applied();
  EXPECT_TRUE(testing::wait_until([&] { return gw1.applied() > applied_at_complete + 20; }, 20s, 10ms))
      << "pushes stopped after the snapshot";
  gw1.stop();
  gw2.stop();

  const std::set<std::string> expected{"cloud-1", "cloud-2", "cloud-3", "gateway:snap/gw1", "gateway:snap/gw2"};
  std::set<std::string> participants;
  for (const auto& [name, part] : report["participants"].items()) participants.insert(name);
  EXPECT_EQ(participants, expected) << report.dump();
  EXPECT_TRUE(report["consistency"]["consistent"].get<bool>()) << report["consistency"].dump();

  // Channel equations, for every channel of the report (Raft and Sync alike).
  std::set<std::pair<std::string, std::string>> gateway_channels;
  for (const auto& channel : report["channels"]) {
    const std::string from = channel["from"], to = channel["to"];
    if (from.rfind("gateway:", 0) == 0 || to.rfind("gateway:", 0) == 0) gateway_channels.insert({from, to});
    EXPECT_TRUE(channel["closed"].get<bool>()) << channel.dump();
    const std::uint64_t sent = report["participants"][from]["sent_through"].value(to, std::uint64_t{0});
    EXPECT_EQ(channel["sender_cut_seq"].get<std::uint64_t>(), sent) << from << "->" << to;
    EXPECT_EQ(channel["received_before_cut"].get<std::uint64_t>() + channel["in_flight"].size() + channel["lost"].size(), sent)
        << from << "->" << to << ": " << channel.dump();
  }
  const std::string leader_name = "cloud-" + std::to_string(leader);
  for (const std::string gw : {"gateway:snap/gw1", "gateway:snap/gw2"}) {
    EXPECT_TRUE(gateway_channels.count({gw, leader_name})) << gw << " -> " << leader_name << " missing";
    EXPECT_TRUE(gateway_channels.count({leader_name, gw})) << leader_name << " -> " << gw << " missing";
    // Outbox equations, recomputed here.
    const json& state = report["participants"][gw]["state"];
    const std::uint64_t pushed = state["pushed_through"], acked = state["acked_through"];
    EXPECT_GT(pushed, 0u);
    EXPECT_LE(acked, pushed);
    std::uint64_t most_applied = 0;
    for (const std::string member : {"cloud-1", "cloud-2", "cloud-3"}) {
      const std::uint64_t applied = report["participants"][member]["state"]["sync"].value(gw.substr(8), std::uint64_t{0});
      EXPECT_LE(applied, pushed) << member << " applied " << gw << " beyond its cut";
      most_applied = std::max(most_applied, applied);
    }
    EXPECT_GE(most_applied, acked) << gw << " was told more than any member had applied at its cut";
  }
  EXPECT_GE(gw1.parts_posted() + gw1.parts_carried(), 1u);
}

}  // namespace
}  // namespace homestead::cloud_testing
