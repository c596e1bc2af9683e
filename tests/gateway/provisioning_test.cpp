// Provisioning against a real Mosquitto: POST /devices writes the broker's password and ACL
// files and SIGHUPs it, so the new device can connect and use only its own topics; DELETE
// revokes it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mqtt/async_client.h>

#include "tests/gateway/harness.h"

using namespace homestead::testing;
using nlohmann::json;

namespace {

bool can_connect(const std::string& uri, const std::string& user, const std::string& password) {
  mqtt::async_client c(uri, "probe-" + user);
  mqtt::connect_options o;
  o.set_user_name(user);
  o.set_password(password);
  try {
    c.connect(o)->wait_for(5s);
  } catch (const mqtt::exception&) {
    return false;
  }
  const bool ok = c.is_connected();
  if (ok) c.disconnect()->wait_for(5s);
  return ok;
}

}  // namespace

TEST(GatewayProvisioning, NewDeviceConnectsToItsOwnTopicsOnlyAndDeleteRevokes) {
  TempDir files("gwprov");
  MosquittoOptions broker_options;
  broker_options.extra_config = {"pid_file " + (files / "mosquitto.pid").string()};
  json extra = {{"provisioning",
                 {{"enabled", true},
                  {"base_password_file", (files / "base.passwd").string()},
                  {"base_acl_file", (files / "base.acl").string()},
                  {"broker_pid_file", (files / "mosquitto.pid").string()}}}};
  // The broker's own files are filled in below, once the fixture has created them.
  extra["provisioning"]["password_file"] = "";
  GatewayHarness h(extra, broker_options);
  const auto broker_dir = h.broker().dir();
  // The fixture's users (gateway, devsim) become the base part gatewayd keeps verbatim.
  std::filesystem::copy_file(broker_dir / "passwd", files / "base.passwd");
  std::filesystem::copy_file(broker_dir / "acl", files / "base.acl");
  {
    json cfg = json::parse(std::ifstream(h.dir() / "gateway.json"));
    cfg["provisioning"]["password_file"] = (broker_dir / "passwd").string();
    cfg["provisioning"]["acl_file"] = (broker_dir / "acl").string();
    std::ofstream(h.dir() / "gateway.json", std::ios::trunc) << cfg.dump(2);
  }
  h.start_gateway();

  auto created = h.request("POST", "/api/v1/devices", R"({"id": "attic_light", "kind": "light", "room": "hall"})");
  ASSERT_EQ(created->status, 201) << created->body << h.context();
  const auto body = json::parse(created->body);
  const auto password = body["mqtt"]["password"].get<std::string>();
  EXPECT_EQ(body["mqtt"]["username"], "attic_light");
  EXPECT_EQ(password.size(), 32u);
  EXPECT_EQ(body["mqtt"]["topics"]["cmd"], "homestead/t/attic_light/cmd");
  // The registry keeps only the hash; the password is not readable back.
  EXPECT_EQ(h.get_json("/api/v1/devices/attic_light").dump().find(password), std::string::npos);

  ASSERT_TRUE(wait_until([&] { return can_connect(h.broker().uri(), "attic_light", password); }, 10s))
      << h.broker().log_tail();
  EXPECT_FALSE(can_connect(h.broker().uri(), "attic_light", "wrong-password"));

  FakeDevice device(h.broker().uri(), "t", "attic_light", {{"on", true}, {"brightness", 5}}, "attic_light", password);
  ASSERT_TRUE(device.connect());
  // Trying to speak for another device is dropped by the broker's ACL; the own report that
  // follows on the same connection arrives, so the forged one had its chance first.
  FakeDevice forger(h.broker().uri(), "t", "lamp", {{"on", true}, {"brightness", 255}}, "attic_light", password);
  ASSERT_TRUE(forger.connect());
  device.publish_state({{"on", true}, {"brightness", 77}});
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/devices/attic_light/state")["reported"]["brightness"] == 77; }, 10s));
  EXPECT_TRUE(h.get_json("/api/v1/devices/lamp/state")["reported"].is_null());
  // Commands reach it through its own cmd topic.
  auto cmd = json::parse(h.request("POST", "/api/v1/devices/attic_light/commands", R"({"command":"turn_off"})")->body);
  EXPECT_EQ(h.get_json("/api/v1/commands/" + cmd["command_id"].get<std::string>() + "?wait_ms=10000")["status"], "acked");

  ASSERT_EQ(h.request("DELETE", "/api/v1/devices/attic_light")->status, 204);
  EXPECT_TRUE(wait_until([&] { return !can_connect(h.broker().uri(), "attic_light", password); }, 10s));
  EXPECT_EQ(h.request("GET", "/api/v1/devices/attic_light")->status, 404);
  EXPECT_TRUE(can_connect(h.broker().uri(), GatewayHarness::kDeviceUser, h.device_password()));  // base users kept
}
