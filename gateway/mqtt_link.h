// The gateway's one connection to the home's broker (Paho async client), kept up by a
// supervisor thread: connect with backoff, on every (re)connect set TCP_NODELAY on the socket
// and (clean session) subscribe again, report link up/down. Messages arrive on Paho's
// callback thread, which only queues them (ingest_queue.h); the link's ingest thread hands
// them to the handler in batches, in arrival order.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/ingest_queue.h"

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
  // Messages received but not yet handled; Paho's thread waits when this many are queued.
  // ~0.4 KB each (the Paho message), so this bounds the backlog to ~1.6 MB on a Pi; at the
  // broker's ~47k msg/s it is still ~90 ms of work, far more than a batch.
  std::size_t ingest_queue_capacity = 4096;
  // Rare, latency-critical messages (command acks) that Paho's thread handles itself when
  // the ingest thread is idle and nothing is queued (IngestQueue::try_claim_idle).
  std::function<bool(std::string_view topic)> handle_inline_when_idle;
};

class MqttLink {
 public:
  // Called on the link's ingest thread with every message received since the last call
  // (one or more), oldest first.
  using MessageHandler = std::function<void(const std::vector<InboundMessage>& batch)>;
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
  // Received messages not yet handed to the handler.
  std::size_t ingest_queue_depth() const { return queue_.depth(); }

 private:
  void supervise();
  bool try_connect();
  void ingest();

  MqttLinkOptions options_;
  MessageHandler on_message_;
  LinkHandler on_link_;
  std::unique_ptr<mqtt::async_client> client_;
  std::thread supervisor_;
  IngestQueue queue_;
  std::thread ingest_;
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
