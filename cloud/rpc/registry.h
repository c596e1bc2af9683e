// The service registry: servers register the services they offer (name, version, transport,
// address) and renew them with heartbeats; clients resolve a service name to the endpoints
// currently alive. An entry that misses its heartbeats past its TTL disappears.
//
// ServiceRegistry is the interface; InMemoryRegistry keeps everything in this process, seeded
// from config (static entries that never expire) - the cloud later backs the same interface
// with its replicated store. Time comes from an injected clock so expiry is tested without
// sleeping.
//
// Config (a JSON file read with common/config):
//   {"registry": {"services": [
//      {"name": "Kv", "version": 1, "transport": "tcp", "address": "10.0.0.2:7400", "instance": "cloud-1"}]}}
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "cloud/rpc/channel.h"
#include "common/config/config.h"

namespace homestead::rpc {

struct ServiceEndpoint {
  std::string service;            // "Kv"
  int version = 1;                // the service's declared version
  std::string transport = "tcp";  // "tcp" | "http"
  std::string address;            // "host:port"
  std::string instance;           // which server offers it; (service, instance) is the key

  bool operator==(const ServiceEndpoint&) const = default;
};

class ServiceRegistry {
 public:
  virtual ~ServiceRegistry() = default;
  // Adds or replaces the entry for (service, instance); it lives `ttl` past the last
  // registration or heartbeat.
  virtual void register_endpoint(const ServiceEndpoint& endpoint, std::chrono::milliseconds ttl) = 0;
  // Renews an entry. False when the registry does not know it (expired or never registered):
  // the server must register again.
  virtual bool heartbeat(std::string_view service, std::string_view instance) = 0;
  virtual void deregister(std::string_view service, std::string_view instance) = 0;
  // The live endpoints of `service` with version >= min_version, ordered by instance.
  virtual std::vector<ServiceEndpoint> resolve(std::string_view service, int min_version = 0) = 0;
};

class InMemoryRegistry : public ServiceRegistry {
 public:
  using NowFn = std::function<Clock::time_point()>;
  explicit InMemoryRegistry(NowFn now = [] { return Clock::now(); });

  // Static entries from the "registry.services" section; throws config::ConfigError naming
  // the field ("registry.services[1].address: ...").
  static std::vector<ServiceEndpoint> endpoints_from_config(const config::Config& config);
  // Entries that never expire (from config).
  void add_static(const ServiceEndpoint& endpoint);

  void register_endpoint(const ServiceEndpoint& endpoint, std::chrono::milliseconds ttl) override;
  bool heartbeat(std::string_view service, std::string_view instance) override;
  void deregister(std::string_view service, std::string_view instance) override;
  std::vector<ServiceEndpoint> resolve(std::string_view service, int min_version = 0) override;
  // Entries currently held (expired ones are dropped as they are noticed).
  std::size_t size();

 private:
  struct Entry {
    ServiceEndpoint endpoint;
    std::chrono::milliseconds ttl{0};  // 0: static, never expires
    Clock::time_point expires_at{};
  };
  void drop_expired(Clock::time_point now);

  NowFn now_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Entry, std::less<>> entries_;
};

// A server's side of registration: registers its endpoints, renews them every ttl/3 from its
// own thread (registering again when the registry has forgotten them, e.g. after a registry
// restart or a long pause), and deregisters them when destroyed. Registry errors (a remote
// registry that is down) are retried at the next beat.
class RegistrationKeeper {
 public:
  RegistrationKeeper(ServiceRegistry& registry, std::vector<ServiceEndpoint> endpoints, std::chrono::milliseconds ttl);
  ~RegistrationKeeper();
  RegistrationKeeper(const RegistrationKeeper&) = delete;
  RegistrationKeeper& operator=(const RegistrationKeeper&) = delete;
  std::uint64_t beats() const;
  std::uint64_t registrations() const;

 private:
  void beat();
  ServiceRegistry& registry_;
  std::vector<ServiceEndpoint> endpoints_;
  std::chrono::milliseconds ttl_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::uint64_t beats_ = 0, registrations_ = 0;
  std::thread thread_;
};

// Splits "host:port"; nullopt when the port is missing or not in 1..65535.
std::optional<std::pair<std::string, int>> split_address(std::string_view address);

// A channel to a resolved endpoint over its transport ("tcp" or "http"); throws
// std::invalid_argument naming an unknown transport or a bad address.
std::shared_ptr<Channel> connect_endpoint(const ServiceEndpoint& endpoint, const std::string& credential);

}  // namespace homestead::rpc
