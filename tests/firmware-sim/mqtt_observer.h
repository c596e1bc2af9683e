// A test-side MQTT client that records everything it receives, for asserting on what
// devices publish. Polls with deadlines (wait_for), never sleeps as synchronisation.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mqtt {
class async_client;
}

namespace homestead::testing {

struct ReceivedMessage {
  std::string topic;
  std::string payload;
  bool retained = false;
};

class MqttObserver {
 public:
  // Connects (throws mqtt::exception if refused) and subscribes to `filters` at QoS 1.
  MqttObserver(const std::string& uri, const std::string& client_id, const std::string& user, const std::string& password,
               const std::vector<std::string>& filters);
  ~MqttObserver();

  void publish(const std::string& topic, const std::string& payload, bool retained = false);
  std::vector<ReceivedMessage> on(const std::string& topic) const;
  std::vector<ReceivedMessage> all() const;
  // Waits until pred(messages on topic) holds.
  bool wait_for(const std::string& topic, const std::function<bool(const std::vector<ReceivedMessage>&)>& pred,
                std::chrono::milliseconds deadline = std::chrono::seconds(10)) const;

 private:
  std::unique_ptr<mqtt::async_client> client_;
  mutable std::mutex mutex_;
  std::vector<ReceivedMessage> messages_;
};

}  // namespace homestead::testing
