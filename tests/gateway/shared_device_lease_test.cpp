// Shared devices with real processes: three cloudd (the lease service), Mosquitto,
// firmware-sim's default home and TWO gatewayd of the same home (gwA, gwB; each registered
// in the cloud as its own gateway, distinct data dirs, HTTP ports and MQTT client ids), both
// with living_light in cloud.shared_devices:
//   - A's command to living_light is acked and actuates, under fencing token tA;
//   - B's command to it fails with lease_held_by:gwA and never reaches the device;
//   - kill -9 of A: after the lease TTL, B's command is acked with a token > tA;
//   - hall_light (not shared) works from both gateways throughout;
//   - A restarts: refused (lease_held_by:gwB); B stops cleanly and releases the lease, so
//     A's next command is granted at once, with a higher token;
//   - with every cloudd down, A's command to living_light fails lease_unavailable (once its
//     local lease validity has run out) while hall_light still works.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/cloud/cloud_cluster.h"
#include "tests/gateway/cloud_helpers.h"
#include "tests/gateway/firmware_sim_home.h"
#include "tests/gateway/harness.h"

using namespace homestead::testing;
using homestead::cloud_testing::CloudCluster;
using homestead::cloud_testing::ClusterOptions;
using nlohmann::json;

namespace {

constexpr const char* kShared = "living_light";
constexpr const char* kLocal = "hall_light";
constexpr int kLeaseTtlMs = 3000;

// The second gatewayd: gwA's generated config with its own data dir, port, client id,
// gateway id and token.
class SecondGateway {
 public:
  SecondGateway(const GatewayHarness& a, const std::string& gateway_id, const std::filesystem::path& token_file)
      : port_(free_tcp_port()) {
    json config;
    std::ifstream(a.dir() / "gateway.json") >> config;
    config["data_dir"] = (dir_ / "data").string();
    config["http"]["port"] = port_;
    config["mqtt"]["client_id"] = "gatewayd-" + gateway_id;
    config["cloud"]["gateway_id"] = gateway_id;
    config["cloud"]["token_file"] = token_file.string();
    std::ofstream(dir_ / "gateway.json") << config.dump(2);
  }
  void start() {
    ProcessOptions o;
    o.executable = build_path("gateway/gatewayd").string();
    o.args = {"--config", (dir_ / "gateway.json").string()};
    o.log_file = dir_ / "gatewayd.log";
    process_ = ChildProcess(std::move(o));
    ASSERT_TRUE(process_.wait_for_port(port_, 30s)) << process_.log_tail();
    std::ifstream in(dir_ / "data" / "admin.token");
    std::getline(in, token_);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(std::chrono::seconds(30));
  }
  json call(const std::string& method, const std::string& path, const json& body = nullptr) {
    httplib::Headers headers{{"Authorization", "Bearer " + token_}};
    const auto text = body.is_null() ? std::string() : body.dump();
    auto r = method == "GET" ? client_->Get(path.c_str(), headers)
                             : client_->Post(path.c_str(), headers, text, "application/json");
    EXPECT_TRUE(r) << method << " " << path << "\n" << process_.log_tail();
    if (!r) return nullptr;
    return json::parse(r->body, nullptr, false);
  }
  std::string metrics() {
    auto r = client_->Get("/metrics", httplib::Headers{{"Authorization", "Bearer " + token_}});
    return r ? "\n" + r->body : "";
  }
  ChildProcess& process() { return process_; }
  void stop() { process_.stop(std::chrono::seconds(10)); }

 private:
  TempDir dir_{"gatewayd-b"};
  int port_;
  std::string token_;
  ChildProcess process_;
  std::unique_ptr<httplib::Client> client_;
};

// An API-triggered app that dims the shared light and then records it in app state.
const char* kDimApp = R"({"name": "dim_living", "trigger": {"api": true},
  "actions": [{"device": "living_light", "command": "set_brightness", "args": {"brightness": 77},
               "on_success": {"dimmed": "true"}}],
  "actuating": {"require": "ALL", "timeout_s": 3, "retries": 0, "on_failure": "ABORT"}})";

// Triggers dim_living on `b` and waits for the run to finish; returns the run.
json run_dim(SecondGateway& b) {
  const auto started = b.call("POST", "/api/v1/apps/dim_living/trigger", json::object());
  if (!started.is_object() || !started.contains("id")) return {{"trigger", started}};
  const auto path = "/api/v1/transactuations/" + std::to_string(started["id"].get<std::uint64_t>());
  json run;
  wait_until([&] {
    run = b.call("GET", path);
    return run.is_object() && run.value("status", "running") != "running";
  }, 20s);
  return run;
}

json set_brightness(int value) { return {{"command", "set_brightness"}, {"args", {{"brightness", value}}}}; }

// POST a command and wait for its final record.
json command_a(GatewayHarness& h, const std::string& device, int brightness) {
  auto r = h.request("POST", "/api/v1/devices/" + device + "/commands", set_brightness(brightness).dump());
  if (!r || r->status != 202) return {{"post_status", r ? r->status : 0}, {"body", r ? r->body : ""}};
  const auto id = json::parse(r->body)["command_id"].get<std::string>();
  return h.get_json("/api/v1/commands/" + id + "?wait_ms=15000");
}

json command_b(SecondGateway& b, const std::string& device, int brightness) {
  const auto posted = b.call("POST", "/api/v1/devices/" + device + "/commands", set_brightness(brightness));
  if (!posted.is_object() || !posted.contains("command_id")) return {{"post", posted}};
  return b.call("GET", "/api/v1/commands/" + posted["command_id"].get<std::string>() + "?wait_ms=15000");
}

int actuations_of(FirmwareSimHome& sim, const std::string& device, const json& record) {
  const auto counts = sim.actuations(device);
  const auto id = record.value("command_id", "");
  return counts.contains(id) ? counts[id].get<int>() : 0;
}

std::string metric_line(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  return metrics.substr(at + 1, metrics.find('\n', at + 1) - at - 1);
}

}  // namespace

TEST(SharedDeviceLease, OneGatewayAtATimeExpiryAfterCrashOfflineFirstForTheRest) {
  CloudCluster cluster{ClusterOptions{}};
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(30s), 0u);
  ASSERT_EQ(cluster.request_any("POST", "/api/v1/homes", {{"id", "default"}}).status, 201);
  TempDir secrets("leasetokens");
  std::map<std::string, std::filesystem::path> tokens;
  for (const std::string gw : {"gwA", "gwB"}) {
    tokens[gw] = register_gateway(cluster, "default", gw, secrets.path());
    ASSERT_FALSE(tokens[gw].empty());
  }
  const auto urls = cloud_urls(cluster);
  GatewayHarness a(json{{"home_file", FirmwareSimHome::home_file().string()},
                        {"mqtt", {{"client_id", "gatewayd-gwA"}}},
                        {"cloud",
                         {{"enabled", true},
                          {"urls", urls},
                          {"gateway_id", "gwA"},
                          {"token_file", tokens["gwA"].string()},
                          {"sync_interval_ms", 100},
                          {"request_timeout_ms", 1000},
                          {"shared_devices", {kShared}},
                          {"lease_ttl_ms", kLeaseTtlMs},
                          {"lease_deadline_ms", 2000}}}});
  FirmwareSimHome sim(a);
  SecondGateway b(a, "gwB", tokens["gwB"]);
  ASSERT_NO_FATAL_FAILURE(a.start_gateway());
  ASSERT_NO_FATAL_FAILURE(b.start());
  sim.start("zero");
  ASSERT_TRUE(sim.wait_all_reported()) << sim.process().log_tail() << a.context();
  ASSERT_TRUE(wait_until([&] { return b.call("GET", "/api/v1/devices/" + std::string(kShared) + "/state")["online"] == true; }, 20s))
      << b.process().log_tail();

  // A takes the lease with its command: acked, actuated once, fencing token recorded.
  const auto a1 = command_a(a, kShared, 31);
  ASSERT_EQ(a1["status"], "acked") << a1.dump() << a.context();
  const auto token_a = a1["fencing_token"].get<std::uint64_t>();
  EXPECT_GT(token_a, 0u);
  EXPECT_EQ(actuations_of(sim, kShared, a1), 1);
  EXPECT_EQ(a.metric("homestead_leases_held"), 1);
  EXPECT_EQ(a.metric("homestead_lease_acquisitions_total"), 1);
  // A second command of A goes under the same lease: same token, no new acquisition.
  const auto a2 = command_a(a, kShared, 32);
  ASSERT_EQ(a2["status"], "acked") << a2.dump();
  EXPECT_EQ(a2["fencing_token"], token_a);
  EXPECT_EQ(a.metric("homestead_lease_acquisitions_total"), 1);

  // B is refused, naming A; the device never sees B's command.
  const auto b1 = command_b(b, kShared, 61);
  ASSERT_EQ(b1["status"], "failed") << b1.dump() << b.process().log_tail();
  EXPECT_EQ(b1["reason"], "lease_held_by:gwA");
  EXPECT_EQ(b1["fencing_token"], 0);
  EXPECT_EQ(actuations_of(sim, kShared, b1), 0);
  // The same refusal through a transactuation: the actuation fails, ABORT writes no state.
  const auto installed = b.call("POST", "/api/v1/apps", json::parse(kDimApp));
  ASSERT_EQ(installed.value("name", ""), "dim_living") << installed.dump();
  const auto refused_run = run_dim(b);
  EXPECT_EQ(refused_run["status"], "aborted") << refused_run.dump(2);
  EXPECT_NE(refused_run.dump().find("lease_held_by:gwA"), std::string::npos) << refused_run.dump(2);
  EXPECT_FALSE(b.call("GET", "/api/v1/app-state")["state"].contains("dimmed"));
  EXPECT_EQ(metric_line(b.metrics(), "homestead_lease_refusals_total{reason=\"lease_held_by\"}"),
            "homestead_lease_refusals_total{reason=\"lease_held_by\"} 2");

  // The non-shared device is unaffected, from both gateways.
  const auto a_local = command_a(a, kLocal, 41);
  EXPECT_EQ(a_local["status"], "acked") << a_local.dump();
  EXPECT_EQ(a_local["fencing_token"], 0);
  const auto b_local = command_b(b, kLocal, 42);
  EXPECT_EQ(b_local["status"], "acked") << b_local.dump();
  EXPECT_EQ(actuations_of(sim, kLocal, b_local), 1);

  // A crashes holding the lease. B's commands are refused until the cloud expires it, then
  // one is acked under a NEW, higher fencing token.
  a.kill9_gateway();
  json b_ok;
  std::vector<json> refused;
  int brightness = 70;
  ASSERT_TRUE(wait_until([&] {
    b_ok = command_b(b, kShared, ++brightness);
    if (b_ok["status"] == "acked") return true;
    refused.push_back(b_ok);
    return false;
  }, 30s, 200ms)) << b_ok.dump() << b.process().log_tail();
  EXPECT_FALSE(refused.empty()) << "A renewed within ttl/3 before the crash: the cloud still had it";
  EXPECT_GT(b_ok["fencing_token"].get<std::uint64_t>(), token_a) << b_ok.dump();
  EXPECT_EQ(actuations_of(sim, kShared, b_ok), 1);
  for (const auto& r : refused) {
    EXPECT_EQ(r["status"], "failed") << r.dump();
    EXPECT_EQ(r["reason"], "lease_held_by:gwA") << r.dump();
    EXPECT_EQ(actuations_of(sim, kShared, r), 0) << r.dump();
  }
  EXPECT_EQ(actuations_of(sim, kShared, a1), 1) << "A's earlier command was not repeated";
  // Now B holds the lease: the app's run commits and writes its state.
  const auto granted_run = run_dim(b);
  EXPECT_EQ(granted_run["status"], "committed") << granted_run.dump(2);
  EXPECT_EQ(b.call("GET", "/api/v1/app-state")["state"]["dimmed"], true);
  EXPECT_TRUE(wait_until([&] { return sim.control("GET", "/devices/living_light")["state"]["brightness"] == 77; }, 10s));

  // A comes back while B holds the lease: refused, naming B. B stops cleanly (SIGTERM) and
  // releases it, so A's very next command is granted without waiting for the TTL.
  ASSERT_NO_FATAL_FAILURE(a.start_gateway());
  ASSERT_TRUE(wait_until([&] { return a.get_json("/api/v1/devices/" + std::string(kShared) + "/state")["online"] == true; }, 20s))
      << a.context();
  const auto a_refused = command_a(a, kShared, 51);
  EXPECT_EQ(a_refused["status"], "failed") << a_refused.dump();
  EXPECT_EQ(a_refused["reason"], "lease_held_by:gwB") << a_refused.dump();
  EXPECT_EQ(actuations_of(sim, kShared, a_refused), 0);
  b.stop();
  const auto a_again = command_a(a, kShared, 52);
  EXPECT_EQ(a_again["status"], "acked") << a_again.dump() << a.context();
  EXPECT_GT(a_again["fencing_token"].get<std::uint64_t>(), b_ok["fencing_token"].get<std::uint64_t>());
  EXPECT_EQ(actuations_of(sim, kShared, a_again), 1);

  // The whole cloud goes down. Once A's lease has run out locally (renewals fail), a
  // shared-device command fails lease_unavailable; the non-shared device still works.
  for (auto id : cluster.ids()) cluster.kill9(id);
  json a_down;
  ASSERT_TRUE(wait_until([&] {
    a_down = command_a(a, kShared, ++brightness);
    return a_down["status"] == "failed";
  }, 30s, 200ms)) << a_down.dump() << a.context();
  EXPECT_EQ(a_down["reason"], "lease_unavailable") << a_down.dump();
  EXPECT_EQ(actuations_of(sim, kShared, a_down), 0);
  const auto a_local_offline = command_a(a, kLocal, 43);
  EXPECT_EQ(a_local_offline["status"], "acked") << a_local_offline.dump();
  EXPECT_EQ(actuations_of(sim, kLocal, a_local_offline), 1);
}
