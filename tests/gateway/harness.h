// Integration harness: a real Mosquitto (fixture), a real gatewayd process on a free port
// with its own data dir, an HTTP client with the admin token, and fake devices (one Paho
// client each) that report state and ack commands like firmware would.
#pragma once

#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/mosquitto_broker.h"
#include "tests/support/process.h"

namespace mqtt {
class async_client;
}

namespace homestead::testing {

// A three-device test home "t": lamp (light), door (lock), temp (temperature), room hall.
std::string test_home_json();

class GatewayHarness {
 public:
  // `extra_config` is merged (JSON merge patch) into the generated gatewayd config.
  explicit GatewayHarness(nlohmann::json extra_config = nlohmann::json::object(), MosquittoOptions broker_options = {});
  ~GatewayHarness();

  void start_gateway();
  void kill9_gateway();
  void stop_gateway();

  MosquittoBroker& broker() { return *broker_; }
  ChildProcess& gatewayd() { return gatewayd_; }
  const TempDir& dir() const { return dir_; }
  int http_port() const { return http_port_; }
  const std::string& admin_token() const { return admin_token_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  // The broker user test devices use (may write any homestead/ topic).
  static constexpr const char* kDeviceUser = "devsim";
  const std::string& device_password() const { return device_password_; }

  // HTTP with a token ("" = none). Fails the test with the gatewayd log on transport errors.
  httplib::Result request(const std::string& method, const std::string& path, const std::string& body = "",
                          const std::string& token = "<admin>");
  nlohmann::json get_json(const std::string& path, int expect_status = 200);
  // Parses /metrics into series -> value ("name{labels}" as printed).
  double metric(const std::string& series);
  std::string context();  // log tails for failure messages

 private:
  nlohmann::json config_;
  std::unique_ptr<MosquittoBroker> broker_;
  TempDir dir_{"gatewayd"};
  int http_port_;
  std::string device_password_;
  std::string admin_token_;
  ChildProcess gatewayd_;
  std::unique_ptr<httplib::Client> client_;
};

// homectl run to completion against the harness's gatewayd (HOME set to the test dir, so no
// stray ~/.config is read); output is stdout and stderr together.
struct HomectlRun {
  int exit_code = -1;
  std::string output;
};
HomectlRun run_homectl(const GatewayHarness& h, std::vector<std::string> args,
                       std::vector<std::pair<std::string, std::string>> env = {});

// One simulated device: its own MQTT connection, retained state and status, and an
// automatic ack for every command (merging the command's args into its state).
class FakeDevice {
 public:
  FakeDevice(const std::string& broker_uri, const std::string& home, const std::string& id, nlohmann::json state,
             const std::string& user, const std::string& password);
  ~FakeDevice();
  // Connects (LWT offline) and publishes status online + its state.
  bool connect();
  // Publishes "offline" and disconnects cleanly.
  void go_offline();
  void publish_state(const nlohmann::json& state);
  void publish_raw(const std::string& channel, const std::string& payload);
  // Ack replies: "ok" or an error reason.
  void set_ack_error(const std::string& reason) { ack_error_ = reason; }
  std::vector<std::string> received_cmd_ids();
  const std::string& id() const { return id_; }

 private:
  void on_command(const std::string& payload);
  std::string topic(const std::string& channel) const;
  std::string home_, id_, user_, password_;
  nlohmann::json state_;
  std::uint64_t seq_ = 0;
  std::string ack_error_;
  std::mutex mutex_;
  std::vector<std::string> received_;
  std::unique_ptr<mqtt::async_client> client_;
};

}  // namespace homestead::testing
