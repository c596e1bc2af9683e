#include "tests/gateway/firmware_sim_home.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>

#include "devices/topics.h"

namespace homestead::testing {

using nlohmann::json;

std::filesystem::path FirmwareSimHome::home_file() { return source_path("deploy/homes/default.json"); }

FirmwareSimHome::FirmwareSimHome(GatewayHarness& h)
    : h_(h), home_(devices::load_home_file(home_file())), creds_(h.dir() / "devices.json") {
  ProcessOptions o;
  o.executable = build_path("firmware-sim/firmware-sim").string();
  o.args = {"--home", home_file().string(), "--credentials", creds_.string(), "--generate-credentials",
            "--write-broker-auth", h.dir().path().string()};
  o.log_file = h.dir() / "fwsim-creds.log";
  ChildProcess gen(std::move(o));
  EXPECT_TRUE(wait_until([&] { return !gen.running(); }, 30s));
  EXPECT_EQ(WEXITSTATUS(gen.exit_status()), 0) << gen.log();
  const json passwords = json::parse(std::ifstream(creds_));
  for (const auto& d : home_.devices) {
    std::vector<BrokerAclEntry> acl;
    for (const auto& rule : devices::device_acl(home_.id, d.id, d.kind->home_assistant.component)) {
      acl.push_back({std::string(devices::access_name(rule.access)), rule.topic});
    }
    h.broker().add_user(d.credentials, passwords.at(d.credentials).get<std::string>(), acl);
  }
  h.broker().restart();
}

FirmwareSimHome::~FirmwareSimHome() = default;

void FirmwareSimHome::start(const std::string& latency, std::vector<std::string> extra_args) {
  control_port_ = free_tcp_port();
  const auto token_file = h_.dir() / "control.token";
  ProcessOptions o;
  o.executable = build_path("firmware-sim/firmware-sim").string();
  o.args = {"--home", home_file().string(), "--broker", "127.0.0.1:" + std::to_string(h_.broker().port()),
            "--credentials", creds_.string(), "--latency", latency, "--summary-interval-ms", "0",
            "--control-port", std::to_string(control_port_), "--control-token-file", token_file.string()};
  o.args.insert(o.args.end(), extra_args.begin(), extra_args.end());
  o.log_file = h_.dir() / "firmware-sim.log";
  sim_ = ChildProcess(std::move(o));
  ASSERT_TRUE(sim_.wait_for_port(control_port_, 15s)) << sim_.log_tail();
  std::getline(std::ifstream(token_file), control_token_);
  client_ = std::make_unique<httplib::Client>("127.0.0.1", control_port_);
  client_->set_bearer_token_auth(control_token_.c_str());
}

json FirmwareSimHome::control(const std::string& method, const std::string& path, const std::string& body) {
  httplib::Result r = method == "GET"      ? client_->Get(path.c_str())
                      : method == "PUT"    ? client_->Put(path.c_str(), body, "application/json")
                      : method == "DELETE" ? client_->Delete(path.c_str())
                                           : client_->Post(path.c_str(), body, "application/json");
  EXPECT_TRUE(r) << method << " " << path << ": no answer\n" << sim_.log_tail();
  if (!r) return json();
  EXPECT_LT(r->status, 300) << method << " " << path << ": " << r->body;
  return json::parse(r->body, nullptr, false);
}

void FirmwareSimHome::set_faults(const std::string& device, const json& faults) {
  control("PUT", "/devices/" + device + "/faults", faults.dump());
}

void FirmwareSimHome::event(const std::string& device, const std::string& event) {
  control("POST", "/devices/" + device + "/events", json{{"event", event}}.dump());
}

json FirmwareSimHome::actuations(const std::string& device) { return control("GET", "/devices/" + device + "/actuations"); }

bool FirmwareSimHome::wait_all_reported() {
  return wait_until([&] {
    for (const auto& d : home_.devices) {
      auto s = h_.get_json("/api/v1/devices/" + d.id + "/state");
      if (s["online"] != true || !s["reported"].is_object()) return false;
    }
    return true;
  }, 30s);
}

}  // namespace homestead::testing
