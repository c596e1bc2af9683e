// homectl against a real gatewayd: tables and --json, commands with outcome and exit status,
// watch, and URL/token from flags, environment and a config file.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/gateway/harness.h"

using namespace homestead::testing;
using nlohmann::json;

namespace {
using Run = HomectlRun;
Run homectl(const GatewayHarness& h, std::vector<std::string> args,
            std::vector<std::pair<std::string, std::string>> env = {}) {
  return run_homectl(h, std::move(args), std::move(env));
}
}  // namespace

TEST(Homectl, ListsShowsCommandsAndWatches) {
  GatewayHarness h;
  h.start_gateway();
  FakeDevice lamp(h.broker().uri(), "t", "lamp", {{"on", false}, {"brightness", 1}}, GatewayHarness::kDeviceUser, h.device_password());
  ASSERT_TRUE(lamp.connect());
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/devices/lamp/state")["online"] == true; }, 15s));
  const std::string url = "http://127.0.0.1:" + std::to_string(h.http_port());
  const std::string token_file = (h.data_dir() / "admin.token").string();
  const std::vector<std::string> auth = {"--url", url, "--token-file", token_file};
  auto with = [&](std::vector<std::string> rest) {
    auto a = auth;
    a.insert(a.end(), rest.begin(), rest.end());
    return a;
  };

  auto devices = homectl(h, with({"devices"}));
  EXPECT_EQ(devices.exit_code, 0) << devices.output;
  EXPECT_EQ(devices.output.rfind("ID    KIND         ROOM  ONLINE  NAME\n", 0), 0u) << devices.output;
  EXPECT_NE(devices.output.find("lamp  light        hall  true    lamp\n"), std::string::npos) << devices.output;

  auto state = homectl(h, with({"state", "lamp", "--json"}));
  ASSERT_EQ(state.exit_code, 0) << state.output;
  EXPECT_EQ(json::parse(state.output)["reported"]["brightness"], 1);

  auto cmd = homectl(h, with({"command", "lamp", "set_brightness", "brightness=33"}));
  EXPECT_EQ(cmd.exit_code, 0) << cmd.output;
  EXPECT_NE(cmd.output.find(" acked\n"), std::string::npos) << cmd.output;
  EXPECT_EQ(h.get_json("/api/v1/devices/lamp/state")["reported"]["brightness"], 33);

  lamp.set_ack_error("bulb_burnt");
  auto failed = homectl(h, with({"command", "lamp", "turn_on"}));
  EXPECT_EQ(failed.exit_code, 3) << failed.output;
  EXPECT_NE(failed.output.find(" failed: bulb_burnt\n"), std::string::npos) << failed.output;

  auto bad = homectl(h, with({"command", "lamp", "set_brightness", "brightness=999"}));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("400 invalid_field"), std::string::npos) << bad.output;

  // URL and token from the environment; no token: a clear 401.
  auto env = homectl(h, {"health", "--json"}, {{"HOMECTL_URL", url}, {"HOMECTL_TOKEN", h.admin_token()}});
  EXPECT_EQ(env.exit_code, 0) << env.output;
  EXPECT_EQ(json::parse(env.output)["broker"]["connected"], true);
  auto anonymous = homectl(h, {"devices"}, {{"HOMECTL_URL", url}});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.output.find("401 unauthenticated"), std::string::npos) << anonymous.output;
  // From a config file.
  std::ofstream(h.dir() / "homectl.json") << json{{"url", url}, {"token_file", token_file}}.dump();
  auto from_file = homectl(h, {"--config", (h.dir() / "homectl.json").string(), "device", "lamp"});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.output;
  EXPECT_NE(from_file.output.find("kind"), std::string::npos);
  EXPECT_EQ(homectl(h, {"--bogus"}).exit_code, 2);

  // watch: the first line is the current state, the second the change that follows.
  ProcessOptions w;
  w.executable = build_path("gateway/homectl").string();
  w.args = with({"watch", "lamp", "--count", "2", "--interval-ms", "20"});
  w.log_file = h.dir() / "watch.log";
  ChildProcess watch(std::move(w));
  ASSERT_TRUE(wait_until([&] { return watch.log().find("lamp online=true") != std::string::npos; }, 10s)) << watch.log();
  lamp.publish_state({{"on", true}, {"brightness", 200}});
  ASSERT_TRUE(wait_until([&] { return !watch.running(); }, 10s)) << watch.log();
  EXPECT_NE(watch.log().find("\"brightness\":200"), std::string::npos) << watch.log();

  // watch without ids watches every registered device (the list it reads must outlive the loop).
  // The first poll prints one line per device (the home has three).
  auto all = homectl(h, with({"watch", "--count", "3", "--interval-ms", "20"}));
  EXPECT_EQ(all.exit_code, 0) << all.output;
  for (const std::string line : {"lamp online=true", "door online=", "temp online="}) {
    EXPECT_NE(all.output.find(line), std::string::npos) << line << " missing: " << all.output;
  }
}
