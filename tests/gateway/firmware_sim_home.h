// The default home (deploy/homes/default.json) run by the real firmware-sim next to a
// GatewayHarness: per-device credentials and broker ACLs, firmware-sim with its control API,
// and helpers to set faults, fire events and read per-cmd_id actuation counts.
#pragma once

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "devices/home.h"
#include "tests/gateway/harness.h"

namespace homestead::testing {

class FirmwareSimHome {
 public:
  // Registers every device's user + ACL with the harness's broker and restarts it. Call
  // before start_gateway().
  explicit FirmwareSimHome(GatewayHarness& h);
  ~FirmwareSimHome();

  // Starts firmware-sim (latency "zero" or "realistic") with its control API.
  void start(const std::string& latency = "zero", std::vector<std::string> extra_args = {});
  ChildProcess& process() { return sim_; }
  const devices::Home& home() const { return home_; }
  static std::filesystem::path home_file();

  // Control API; fails the test on transport errors.
  nlohmann::json control(const std::string& method, const std::string& path, const std::string& body = "");
  void set_faults(const std::string& device, const nlohmann::json& faults);
  void event(const std::string& device, const std::string& event);
  // {cmd_id: actuation count} of one device.
  nlohmann::json actuations(const std::string& device);
  // Waits until gatewayd reports every device online with a first state.
  bool wait_all_reported();

 private:
  GatewayHarness& h_;
  devices::Home home_;
  std::filesystem::path creds_;
  int control_port_ = 0;
  std::string control_token_;
  ChildProcess sim_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace homestead::testing
