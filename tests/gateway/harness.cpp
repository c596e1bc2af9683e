#include "tests/gateway/harness.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <mqtt/async_client.h>
#include <sstream>

#include "tests/support/prometheus_text.h"

namespace homestead::testing {
namespace {

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string test_home_json() {
  return R"({"home": "t", "rooms": [{"id": "hall", "name": "Hall", "floor": 0}],
  "devices": [
    {"id": "lamp", "kind": "light", "room": "hall"},
    {"id": "door", "kind": "lock", "room": "hall"},
    {"id": "temp", "kind": "temperature", "room": "hall"}]})";
}

GatewayHarness::GatewayHarness(nlohmann::json extra_config, MosquittoOptions broker_options)
    : broker_(std::make_unique<MosquittoBroker>(std::move(broker_options))), http_port_(free_tcp_port()) {
  const auto gateway_password = MosquittoBroker::random_password();
  device_password_ = MosquittoBroker::random_password();
  broker_->add_user("gateway", gateway_password,
                    {{"readwrite", "homestead/#"}, {"readwrite", "homeassistant/#"}, {"read", "$SYS/#"}});
  broker_->add_user(kDeviceUser, device_password_, {{"readwrite", "homestead/#"}, {"readwrite", "homeassistant/#"}});
  broker_->start();
  write_file(dir_ / "home.json", test_home_json());
  write_file(dir_ / "gateway.pass", gateway_password + "\n");
  config_ = {{"home_file", (dir_ / "home.json").string()},
             {"data_dir", (dir_ / "data").string()},
             {"mqtt",
              {{"uri", broker_->uri()},
               {"username", "gateway"},
               {"password_file", (dir_ / "gateway.pass").string()},
               {"reconnect_min_ms", 50},
               {"reconnect_max_ms", 400}}},
             {"http", {{"port", http_port_}, {"threads", 24}}}};
  config_.merge_patch(extra_config);
  write_file(dir_ / "gateway.json", config_.dump(2));
}

GatewayHarness::~GatewayHarness() {
  client_.reset();
  if (gatewayd_.pid() > 0 && gatewayd_.running()) gatewayd_.stop(std::chrono::seconds(10));
}

void GatewayHarness::start_gateway() {
  ProcessOptions o;
  o.executable = build_path("gateway/gatewayd").string();
  o.args = {"--config", (dir_ / "gateway.json").string()};
  static int generation = 0;
  o.log_file = dir_ / ("gatewayd." + std::to_string(++generation) + ".log");
  gatewayd_ = ChildProcess(std::move(o));
  if (!gatewayd_.wait_for_port(http_port_, std::chrono::seconds(30))) {
    FAIL() << "gatewayd did not listen on " << http_port_ << "\n" << gatewayd_.log_tail();
  }
  std::ifstream in(data_dir() / "admin.token");
  std::getline(in, admin_token_);
  client_ = std::make_unique<httplib::Client>("127.0.0.1", http_port_);
  client_->set_tcp_nodelay(true);
  client_->set_read_timeout(std::chrono::seconds(30));
}

void GatewayHarness::kill9_gateway() { gatewayd_.kill9(); }
void GatewayHarness::stop_gateway() { gatewayd_.stop(std::chrono::seconds(10)); }

httplib::Result GatewayHarness::request(const std::string& method, const std::string& path, const std::string& body,
                                        const std::string& token) {
  httplib::Headers headers;
  const std::string t = token == "<admin>" ? admin_token_ : token;
  if (!t.empty()) headers.emplace("Authorization", "Bearer " + t);
  httplib::Result r = method == "GET"      ? client_->Get(path.c_str(), headers)
                      : method == "POST"   ? client_->Post(path.c_str(), headers, body, "application/json")
                      : method == "PATCH"  ? client_->Patch(path.c_str(), headers, body, "application/json")
                      : method == "DELETE" ? client_->Delete(path.c_str(), headers)
                                           : client_->Options(path.c_str(), headers);
  EXPECT_TRUE(r) << method << " " << path << ": transport error " << httplib::to_string(r.error()) << "\n" << context();
  return r;
}

nlohmann::json GatewayHarness::get_json(const std::string& path, int expect_status) {
  auto r = request("GET", path);
  if (!r) return nullptr;
  EXPECT_EQ(r->status, expect_status) << path << ": " << r->body;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << path << ": " << r->body;
  return j;
}

double GatewayHarness::metric(const std::string& series) {
  auto r = request("GET", "/metrics");
  if (!r) return -1;
  return prometheus_value(r->body, series).value_or(0);  // a series not yet created is zero
}

std::string GatewayHarness::context() {
  return "--- gatewayd log ---\n" + gatewayd_.log_tail(30) + "\n--- broker log ---\n" + broker_->log_tail(10);
}

HomectlRun run_homectl(const GatewayHarness& h, std::vector<std::string> args,
                       std::vector<std::pair<std::string, std::string>> env) {
  static int n = 0;
  ProcessOptions o;
  o.executable = build_path("gateway/homectl").string();
  o.args = std::move(args);
  o.env = std::move(env);
  o.env.emplace_back("HOME", h.dir().path().string());
  o.log_file = h.dir() / ("homectl." + std::to_string(++n) + ".log");
  ChildProcess p(std::move(o));
  HomectlRun r;
  EXPECT_TRUE(wait_until([&] { return !p.running(); }, 30s)) << "homectl did not finish";
  const int status = p.exit_status();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = p.log();
  return r;
}

FakeDevice::FakeDevice(const std::string& broker_uri, const std::string& home, const std::string& id,
                       nlohmann::json state, const std::string& user, const std::string& password)
    : home_(home), id_(id), user_(user), password_(password), state_(std::move(state)) {
  client_ = std::make_unique<mqtt::async_client>(broker_uri, "dev-" + id + "-" + std::to_string(now_ms() % 100000));
  client_->set_message_callback([this](mqtt::const_message_ptr m) { on_command(m->get_payload_str()); });
}

FakeDevice::~FakeDevice() {
  try {
    if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
  }
}

std::string FakeDevice::topic(const std::string& channel) const { return "homestead/" + home_ + "/" + id_ + "/" + channel; }

bool FakeDevice::connect() {
  mqtt::connect_options o;
  o.set_clean_session(true);
  o.set_user_name(user_);
  o.set_password(password_);
  o.set_will(mqtt::message(topic("status"), std::string("offline"), 1, true));
  try {
    client_->connect(o)->wait_for(std::chrono::seconds(5));
    if (!client_->is_connected()) return false;
    client_->subscribe(topic("cmd"), 1)->wait_for(std::chrono::seconds(5));
    client_->publish(topic("status"), std::string("online"), 1, true)->wait_for(std::chrono::seconds(5));
    publish_state(state_);
    return true;
  } catch (const mqtt::exception&) {
    return false;
  }
}

void FakeDevice::go_offline() {
  try {
    client_->publish(topic("status"), std::string("offline"), 1, true)->wait_for(std::chrono::seconds(5));
    client_->disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
  }
}

void FakeDevice::publish_state(const nlohmann::json& state) {
  std::string payload;
  {
    std::lock_guard lock(mutex_);
    state_ = state;
    payload = nlohmann::json{{"seq", ++seq_}, {"ts", now_ms()}, {"state", state_}}.dump();
  }
  client_->publish(topic("state"), payload, 1, true)->wait_for(std::chrono::seconds(5));
}

void FakeDevice::publish_raw(const std::string& channel, const std::string& payload) {
  client_->publish(topic(channel), payload, 1, false)->wait_for(std::chrono::seconds(5));
}

std::vector<std::string> FakeDevice::received_cmd_ids() {
  std::lock_guard lock(mutex_);
  return received_;
}

void FakeDevice::on_command(const std::string& payload) {
  auto cmd = nlohmann::json::parse(payload, nullptr, false);
  if (cmd.is_discarded() || !cmd.contains("cmd_id")) return;
  nlohmann::json ack;
  {
    std::lock_guard lock(mutex_);
    received_.push_back(cmd["cmd_id"].get<std::string>());
    const std::string name = cmd.value("command", "");
    if (name == "turn_on") state_["on"] = true;
    if (name == "turn_off") state_["on"] = false;
    if (name == "lock") state_["lock"] = "locked";
    if (name == "unlock") state_["lock"] = "unlocked";
    if (cmd.contains("args") && cmd["args"].is_object()) state_.update(cmd["args"]);
    ack = {{"cmd_id", cmd["cmd_id"]}, {"result", ack_error_.empty() ? "ok" : "error"}, {"state", state_}, {"ts", now_ms()}};
    if (!ack_error_.empty()) ack["reason"] = ack_error_;
  }
  client_->publish(topic("ack"), ack.dump(), 1, false);
}

}  // namespace homestead::testing
