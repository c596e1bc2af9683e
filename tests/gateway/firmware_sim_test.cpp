// The default home (deploy/homes/default.json, 32 devices) run by the real firmware-sim,
// each device with its own broker user and ACL: every device comes online in gatewayd's API
// with a reported state, and a command round-trips through a simulated light.
#include <gtest/gtest.h>

#include "tests/gateway/firmware_sim_home.h"

using namespace homestead::testing;
using nlohmann::json;
namespace hd = homestead::devices;

TEST(GatewayWithFirmwareSim, DefaultHomeComesOnlineAndCommandsRoundTrip) {
  GatewayHarness h(json{{"home_file", FirmwareSimHome::home_file().string()}});
  // Per-device credentials from firmware-sim, registered with the broker with device ACLs.
  FirmwareSimHome fw(h);
  const auto& home = fw.home();
  h.start_gateway();
  fw.start("zero");
  auto& sim = fw.process();

  const int count = static_cast<int>(home.devices.size());
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/health")["devices"]["online"] == count; }, 30s))
      << h.get_json("/api/v1/health").dump() << "\n" << sim.log_tail() << h.context();
  // Status and first report are separate messages: wait until every device has both.
  std::string missing;
  EXPECT_TRUE(wait_until([&] {
    missing.clear();
    for (const auto& d : home.devices) {
      auto s = h.get_json("/api/v1/devices/" + d.id + "/state");
      if (s["online"] != true || !s["reported"].is_object()) missing += d.id + " ";
    }
    return missing.empty();
  }, 15s)) << "no state yet from: " << missing;
  EXPECT_EQ(h.metric("homestead_mqtt_rejected_total{reason=\"schema\"}"), 0);

  const hd::DeviceDescription* light = nullptr;
  for (const auto& d : home.devices) {
    if (!light && d.kind->name == "light") light = &d;
  }
  ASSERT_NE(light, nullptr);
  auto r = h.request("POST", "/api/v1/devices/" + light->id + "/commands", R"({"command":"set_brightness","args":{"brightness":42}})");
  ASSERT_EQ(r->status, 202) << r->body;
  const auto id = json::parse(r->body)["command_id"].get<std::string>();
  auto done = h.get_json("/api/v1/commands/" + id + "?wait_ms=10000");
  EXPECT_EQ(done["status"], "acked") << done.dump() << "\n" << sim.log_tail();
  EXPECT_TRUE(wait_until([&] { return h.get_json("/api/v1/devices/" + light->id + "/state")["reported"]["brightness"] == 42; }, 10s));
  sim.stop();
  // firmware-sim stops cleanly: every device says offline.
  EXPECT_TRUE(wait_until([&] { return h.get_json("/api/v1/health")["devices"]["online"] == 0; }, 15s));
}
