#include "tests/firmware-sim/mqtt_observer.h"

#include <mqtt/async_client.h>

#include "tests/support/process.h"

namespace homestead::testing {

MqttObserver::MqttObserver(const std::string& uri, const std::string& client_id, const std::string& user,
                           const std::string& password, const std::vector<std::string>& filters)
    : client_(std::make_unique<mqtt::async_client>(uri, client_id, mqtt::create_options(MQTTVERSION_3_1_1))) {
  client_->set_message_callback([this](mqtt::const_message_ptr m) {
    std::lock_guard lock(mutex_);
    messages_.push_back({m->get_topic(), m->get_payload_str(), m->is_retained()});
  });
  auto opts = mqtt::connect_options_builder().clean_session(true).user_name(user).password(password).finalize();
  client_->connect(opts)->wait_for(std::chrono::seconds(10));
  if (!client_->is_connected()) throw std::runtime_error("MqttObserver: not connected to " + uri);
  for (const auto& f : filters) client_->subscribe(f, 1)->wait_for(std::chrono::seconds(10));
}

MqttObserver::~MqttObserver() {
  client_->disable_callbacks();
  try {
    if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
  }
}

void MqttObserver::publish(const std::string& topic, const std::string& payload, bool retained) {
  client_->publish(topic, payload.data(), payload.size(), 1, retained)->wait_for(std::chrono::seconds(10));
}

std::vector<ReceivedMessage> MqttObserver::on(const std::string& topic) const {
  std::lock_guard lock(mutex_);
  std::vector<ReceivedMessage> out;
  for (const auto& m : messages_)
    if (m.topic == topic) out.push_back(m);
  return out;
}

std::vector<ReceivedMessage> MqttObserver::all() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

bool MqttObserver::wait_for(const std::string& topic, const std::function<bool(const std::vector<ReceivedMessage>&)>& pred,
                            std::chrono::milliseconds deadline) const {
  return wait_until([&] { return pred(on(topic)); }, deadline);
}

}  // namespace homestead::testing
