// Integration harness: a real Mosquitto (per-device passwords, ACLs from devices::device_acl,
// an "observer" user that may read and write everything), a firmware-sim process running a
// home file against it, an MQTT observer subscribed to all device topics, and a client for
// the control API.
#pragma once

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "devices/home.h"
#include "devices/payloads.h"
#include "devices/topics.h"
#include "tests/firmware-sim/mqtt_observer.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/process.h"

namespace homestead::testing {

class SimHome {
 public:
  // Starts broker, observer and firmware-sim; waits until every device is online.
  SimHome(const std::filesystem::path& home_file, std::vector<std::string> extra_args = {});
  ~SimHome();

  const devices::Home& home() const { return home_; }
  MosquittoBroker& broker() { return broker_; }
  MqttObserver& observer() { return *observer_; }
  ChildProcess& process() { return process_; }
  const std::string& password_of(const std::string& device) const;
  const std::string& password_of_observer() const { return passwords_.at("observer"); }

  std::string topic(const std::string& device, devices::Channel channel) const;
  void send_command(const std::string& device, const std::string& cmd_id, const std::string& command,
                    nlohmann::json args = nlohmann::json::object());
  // Control API; fails the test on a transport error and returns {status, body}.
  std::pair<int, nlohmann::json> api(const std::string& method, const std::string& path,
                                     const nlohmann::json& body = nlohmann::json());
  // Messages on the device's ack topic for one cmd_id, decoded.
  std::vector<nlohmann::json> acks_for(const std::string& device, const std::string& cmd_id) const;
  bool wait_for_ack(const std::string& device, const std::string& cmd_id, std::size_t count = 1);
  // Latest status payload of a device ("" if none).
  std::string last_status(const std::string& device) const;
  std::string log_tail() const { return process_.log_tail() + "\n--- broker ---\n" + broker_.log_tail(); }

 private:
  TempDir dir_{"firmware-sim-it"};
  devices::Home home_;
  MosquittoBroker broker_;
  std::map<std::string, std::string> passwords_;  // credentials name -> password
  std::unique_ptr<MqttObserver> observer_;
  ChildProcess process_;
  int control_port_ = 0;
  std::string token_;
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace homestead::testing
