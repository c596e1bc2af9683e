// The gateway's one connection to the home's broker (Paho async client), kept up by a
// supervisor thread: connect with backoff, on every (re)connect set TCP_NODELAY on the socket
// and (clean session) subscribe again, report link up/down. Messages arrive on Paho's
// callback thread and go straight to the handler.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mqtt {
class async_client;
}

namespace homestead::gateway {

struct MqttLinkOptions {
  std::string uri;
  std::string client_id;
  std::string username;
  std::string password;
  int keepalive_s = 30;
  int reconnect_min_ms = 100;
  int reconnect_max_ms = 5000;
  int max_buffered_messages = 100000;
  std::string ca_file;
  std::vector<std::string> subscriptions;  // all at QoS 1
};

class MqttLink {
 public:
  using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;
  using LinkHandler = std::function<void(bool up)>;

  MqttLink(MqttLinkOptions options, MessageHandler on_message, LinkHandler on_link);
  ~MqttLink();
  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;

  void start();
  void stop();
  bool connected() const { return connected_; }
  // Non-blocking QoS publish; false when the link is down or Paho refuses (buffer full).
  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained);
  // Sockets on which TCP_NODELAY was set after a connect (for tests and /metrics).
  int nodelay_sockets() const { return nodelay_sockets_; }

 private:
  void supervise();
  bool try_connect();

  MqttLinkOptions options_;
  MessageHandler on_message_;
  LinkHandler on_link_;
  std::unique_ptr<mqtt::async_client> client_;
  std::thread supervisor_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> connected_{false};
  std::atomic<int> nodelay_sockets_{0};
};

// Sets TCP_NODELAY on every socket of this process whose peer is host:port, found by
// scanning /proc/self/fd with getpeername (Paho C offers no hook). Returns how many.
int set_nodelay_on_sockets_to(const std::string& host, int port);
// "tcp://h:p" -> h, p. False when the uri has no port.
bool split_uri(const std::string& uri, std::string& host, int& port);

}  // namespace homestead::gateway
