#include "tests/firmware-sim/sim_home.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "devices/topics.h"

namespace homestead::testing {

SimHome::SimHome(const std::filesystem::path& home_file, std::vector<std::string> extra_args)
    : home_(devices::load_home_file(home_file)) {
  nlohmann::json creds = nlohmann::json::object();
  for (const auto& d : home_.devices) {
    const std::string pw = MosquittoBroker::random_password();
    passwords_[d.credentials] = pw;
    creds[d.credentials] = pw;
    std::vector<BrokerAclEntry> acl;
    for (const auto& rule : devices::device_acl(home_.id, d.id, d.kind->home_assistant.component)) {
      acl.push_back({std::string(devices::access_name(rule.access)), rule.topic});
    }
    broker_.add_user(d.credentials, pw, acl);
  }
  passwords_["observer"] = MosquittoBroker::random_password();
  broker_.add_user("observer", passwords_["observer"], {{"readwrite", "#"}});
  broker_.start();
  const auto creds_file = dir_ / "credentials.json";
  {
    std::ofstream out(creds_file);
    out << creds.dump();
  }
  ::chmod(creds_file.c_str(), 0600);
  observer_ = std::make_unique<MqttObserver>(broker_.uri(), "observer", "observer", passwords_["observer"],
                                             std::vector<std::string>{"homestead/#", "homeassistant/#"});
  control_port_ = free_tcp_port();
  ProcessOptions opts;
  opts.executable = build_path("firmware-sim/firmware-sim").string();
  opts.args = {"--home", home_file.string(), "--broker", "127.0.0.1:" + std::to_string(broker_.port()), "--credentials",
               creds_file.string(), "--control-port", std::to_string(control_port_), "--control-token-file",
               (dir_ / "token").string(), "--summary-interval-ms", "0", "--latency", "zero", "--report-interval-ms", "300"};
  for (auto& a : extra_args) opts.args.push_back(std::move(a));
  opts.log_file = dir_ / "firmware-sim.log";
  process_ = ChildProcess(std::move(opts));
  if (!process_.wait_for_port(control_port_, std::chrono::seconds(20))) {
    throw std::runtime_error("firmware-sim did not open its control port; log:\n" + process_.log_tail());
  }
  std::ifstream token_in(dir_ / "token");
  token_in >> token_;
  http_ = std::make_unique<httplib::Client>("127.0.0.1", control_port_);
  http_->set_tcp_nodelay(true);
  http_->set_bearer_token_auth(token_.c_str());
  const bool online = wait_until(
      [&] {
        for (const auto& d : home_.devices)
          if (last_status(d.id) != "online") return false;
        return true;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(20));
  if (!online) throw std::runtime_error("not every device came online; log:\n" + log_tail());
}

SimHome::~SimHome() {
  observer_.reset();
  if (process_.running()) process_.stop();
}

const std::string& SimHome::password_of(const std::string& device) const {
  return passwords_.at(home_.device(device)->credentials);
}

std::string SimHome::topic(const std::string& device, devices::Channel channel) const {
  return devices::device_topic(home_.id, device, channel);
}

void SimHome::send_command(const std::string& device, const std::string& cmd_id, const std::string& command, nlohmann::json args) {
  observer_->publish(topic(device, devices::Channel::cmd), devices::encode(devices::Command{cmd_id, command, std::move(args)}));
}

std::pair<int, nlohmann::json> SimHome::api(const std::string& method, const std::string& path, const nlohmann::json& body) {
  const std::string text = body.is_null() ? "" : body.dump();
  auto send = [&]() -> httplib::Result {
    if (method == "PUT") return http_->Put(path.c_str(), text, "application/json");
    if (method == "POST") return http_->Post(path.c_str(), text, "application/json");
    if (method == "DELETE") return http_->Delete(path.c_str());
    return http_->Get(path.c_str());
  };
  httplib::Result res = send();
  if (!res) {
    ADD_FAILURE() << method << " " << path << ": transport error " << httplib::to_string(res.error());
    return {0, nullptr};
  }
  return {res->status, nlohmann::json::parse(res->body, nullptr, false)};
}

std::vector<nlohmann::json> SimHome::acks_for(const std::string& device, const std::string& cmd_id) const {
  std::vector<nlohmann::json> out;
  for (const auto& m : observer_->on(topic(device, devices::Channel::ack))) {
    auto doc = nlohmann::json::parse(m.payload, nullptr, false);
    if (doc.is_object() && doc.value("cmd_id", "") == cmd_id) out.push_back(doc);
  }
  return out;
}

bool SimHome::wait_for_ack(const std::string& device, const std::string& cmd_id, std::size_t count) {
  return wait_until([&] { return acks_for(device, cmd_id).size() >= count; }, std::chrono::seconds(10));
}

std::string SimHome::last_status(const std::string& device) const {
  auto msgs = observer_->on(topic(device, devices::Channel::status));
  return msgs.empty() ? "" : msgs.back().payload;
}

}  // namespace homestead::testing
