#include "gateway/mqtt_link.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mqtt/async_client.h>

#include "common/log/log.h"

namespace homestead::gateway {
namespace {

const log::Logger logger("mqtt");

bool same_endpoint(const sockaddr_storage& peer, const std::vector<sockaddr_storage>& wanted) {
  for (const auto& w : wanted) {
    if (peer.ss_family != w.ss_family) continue;
    if (peer.ss_family == AF_INET) {
      const auto& a = reinterpret_cast<const sockaddr_in&>(peer);
      const auto& b = reinterpret_cast<const sockaddr_in&>(w);
      if (a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr) return true;
    } else if (peer.ss_family == AF_INET6) {
      const auto& a = reinterpret_cast<const sockaddr_in6&>(peer);
      const auto& b = reinterpret_cast<const sockaddr_in6&>(w);
      if (a.sin6_port == b.sin6_port && std::equal(std::begin(a.sin6_addr.s6_addr), std::end(a.sin6_addr.s6_addr),
                                                   std::begin(b.sin6_addr.s6_addr))) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

bool split_uri(const std::string& uri, std::string& host, int& port) {
  const auto scheme = uri.find("://");
  std::string rest = scheme == std::string::npos ? uri : uri.substr(scheme + 3);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  port = std::atoi(rest.c_str() + colon + 1);
  return port > 0 && port < 65536;
}

int set_nodelay_on_sockets_to(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return 0;
  std::vector<sockaddr_storage> wanted;
  for (auto* a = found; a; a = a->ai_next) {
    sockaddr_storage s{};
    std::memcpy(&s, a->ai_addr, std::min<std::size_t>(a->ai_addrlen, sizeof s));
    wanted.push_back(s);
  }
  ::freeaddrinfo(found);
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  while (auto* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || fd == ::dirfd(dir)) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    if (!same_endpoint(peer, wanted)) continue;
    int one = 1;
    if (::setsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++count;
  }
  ::closedir(dir);
  return count;
}

MqttLink::MqttLink(MqttLinkOptions options, MessageHandler on_message, LinkHandler on_link)
    : options_(std::move(options)),
      on_message_(std::move(on_message)),
      on_link_(std::move(on_link)),
      queue_(options_.ingest_queue_capacity) {
  mqtt::create_options create(MQTTVERSION_3_1_1, options_.max_buffered_messages);
  client_ = std::make_unique<mqtt::async_client>(options_.uri, options_.client_id, create);
  // Paho's receive thread: queue and return at once (ingest_queue.h). The views point into
  // the message, which the queue entry keeps alive.
  client_->set_message_callback([this](mqtt::const_message_ptr msg) {
    const std::string_view topic = msg->get_topic();
    const std::string_view payload = msg->get_payload_str();
    if (options_.handle_inline_when_idle && options_.handle_inline_when_idle(topic) && queue_.try_claim_idle()) {
      try {
        on_message_({InboundMessage{std::move(msg), topic, payload}});
      } catch (const std::exception& e) {
        logger.error("message handler failed", {{"messages", "1"}, {"error", e.what()}});
      }
      queue_.release();
      return;
    }
    queue_.push(InboundMessage{std::move(msg), topic, payload});
  });
  client_->set_connection_lost_handler([this](const std::string& cause) {
    logger.warn("broker connection lost", {{"cause", cause.empty() ? "unknown" : cause}});
    {
      std::lock_guard lock(mutex_);
      connected_ = false;
    }
    on_link_(false);
    wake_.notify_all();
  });
}

MqttLink::~MqttLink() { stop(); }

void MqttLink::start() {
  std::lock_guard lock(mutex_);
  if (supervisor_.joinable()) return;
  stopping_ = false;
  queue_.reopen();
  ingest_ = std::thread([this] { ingest(); });
  supervisor_ = std::thread([this] { supervise(); });
}

void MqttLink::ingest() {
  std::vector<InboundMessage> batch;
  while (queue_.take_all(batch)) {
    try {
      on_message_(batch);
    } catch (const std::exception& e) {
      // The handler counts and logs bad input itself; this is the last guard that keeps the
      // ingest thread alive.
      logger.error("message handler failed", {{"messages", std::to_string(batch.size())}, {"error", e.what()}});
    }
  }
}

void MqttLink::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  if (client_ && client_->is_connected()) {
    try {
      client_->disconnect()->wait_for(std::chrono::seconds(2));
    } catch (const mqtt::exception&) {
    }
  }
  connected_ = false;
  // After the disconnect no callback adds more; what is queued is still handled, then the
  // ingest thread ends (a callback blocked on a full queue is released by close()).
  queue_.close();
  if (ingest_.joinable()) ingest_.join();
}

bool MqttLink::try_connect() {
  mqtt::connect_options opts;
  opts.set_clean_session(true);
  opts.set_keep_alive_interval(options_.keepalive_s);
  opts.set_connect_timeout(std::chrono::seconds(5));
  opts.set_automatic_reconnect(false);  // the supervisor reconnects, so it can resubscribe
  if (!options_.username.empty()) opts.set_user_name(options_.username);
  if (!options_.password.empty()) opts.set_password(options_.password);
  if (!options_.ca_file.empty()) {
    mqtt::ssl_options ssl;
    ssl.set_trust_store(options_.ca_file);
    opts.set_ssl(ssl);
  }
  try {
    auto token = client_->connect(opts);
    if (!token->wait_for(std::chrono::seconds(6)) || !client_->is_connected()) return false;
    // Nagle on the broker socket turns a 0.25 ms command round trip into ~88 ms (DESIGN.md
    // section 5); Paho sets nothing, and a reconnect opens a new socket, so do it every time.
    std::string host;
    int port = 0;
    if (split_uri(options_.uri, host, port)) nodelay_sockets_ = set_nodelay_on_sockets_to(host, port);
    // Clean session: the broker forgot our subscriptions with the old connection.
    if (!options_.subscriptions.empty()) {
      std::vector<int> qos(options_.subscriptions.size(), 1);
      client_->subscribe(mqtt::string_collection::create(options_.subscriptions), qos)->wait_for(std::chrono::seconds(5));
    }
    return client_->is_connected();
  } catch (const mqtt::exception& e) {
    logger.warn("broker connect failed", {{"uri", options_.uri}, {"error", e.what()}});
    return false;
  }
}

void MqttLink::supervise() {
  int backoff_ms = options_.reconnect_min_ms;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (connected_) {
      wake_.wait(lock, [&] { return stopping_ || !connected_; });
      continue;
    }
    lock.unlock();
    const bool ok = try_connect();
    lock.lock();
    if (stopping_) break;
    if (ok) {
      connected_ = true;
      backoff_ms = options_.reconnect_min_ms;
      logger.info("broker connected", {{"uri", options_.uri}, {"nodelay_sockets", std::to_string(nodelay_sockets_)}});
      lock.unlock();
      on_link_(true);
      lock.lock();
    } else {
      wake_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
      backoff_ms = std::min(backoff_ms * 2, options_.reconnect_max_ms);
    }
  }
}

bool MqttLink::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  if (!connected_) return false;
  try {
    client_->publish(topic, payload.data(), payload.size(), qos, retained);
    return true;
  } catch (const mqtt::exception& e) {
    logger.warn("publish failed", {{"topic", topic}, {"error", e.what()}});
    return false;
  }
}

}  // namespace homestead::gateway
