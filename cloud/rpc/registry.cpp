#include "cloud/rpc/registry.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "cloud/rpc/http_channel.h"
#include "cloud/rpc/tcp_channel.h"

namespace homestead::rpc {

InMemoryRegistry::InMemoryRegistry(NowFn now) : now_(std::move(now)) {}

std::optional<std::pair<std::string, int>> split_address(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view digits = address.substr(colon + 1);
  int port = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (error != std::errc() || end != digits.data() + digits.size() || port < 1 || port > 65535) return std::nullopt;
  return std::make_pair(std::string(address.substr(0, colon)), port);
}

std::vector<ServiceEndpoint> InMemoryRegistry::endpoints_from_config(const config::Config& config) {
  std::vector<ServiceEndpoint> endpoints;
  const nlohmann::json* services = config.find("registry.services");
  if (services == nullptr || services->is_null()) return endpoints;
  auto fail = [&](const std::string& field, const std::string& what) {
    throw config::ConfigError(field, config.source() + ": field '" + field + "': " + what);
  };
  if (!services->is_array()) fail("registry.services", "expected an array, got " + config::json_type_name(*services));
  for (std::size_t i = 0; i < services->size(); ++i) {
    const std::string base = "registry.services[" + std::to_string(i) + "]";
    const auto& item = (*services)[i];
    if (!item.is_object()) fail(base, "expected an object, got " + config::json_type_name(item));
    for (const auto& [key, value] : item.items()) {
      if (key != "name" && key != "version" && key != "transport" && key != "address" && key != "instance") {
        fail(base + "." + key, "unknown field (expected name, version, transport, address, instance)");
      }
    }
    auto text = [&](const char* key, std::optional<std::string> fallback) -> std::string {
      const auto found = item.find(key);
      if (found == item.end()) {
        if (!fallback) fail(base + "." + key, "missing required field");
        return *fallback;
      }
      if (!found->is_string() || found->get<std::string>().empty()) {
        fail(base + "." + key, "expected a non-empty string, got " + config::json_type_name(*found));
      }
      return found->get<std::string>();
    };
    ServiceEndpoint endpoint;
    endpoint.service = text("name", std::nullopt);
    endpoint.address = text("address", std::nullopt);
    endpoint.transport = text("transport", "tcp");
    endpoint.instance = text("instance", endpoint.address);
    if (endpoint.transport != "tcp" && endpoint.transport != "http") {
      fail(base + ".transport", "expected \"tcp\" or \"http\", got \"" + endpoint.transport + "\"");
    }
    if (!split_address(endpoint.address)) {
      fail(base + ".address", "expected \"host:port\" with a port in 1..65535, got \"" + endpoint.address + "\"");
    }
    if (const auto version = item.find("version"); version != item.end()) {
      if (!version->is_number_integer() || version->get<std::int64_t>() < 0 || version->get<std::int64_t>() > 1'000'000) {
        fail(base + ".version", "expected an integer between 0 and 1000000, got " + version->dump());
      }
      endpoint.version = version->get<int>();
    }
    endpoints.push_back(std::move(endpoint));
  }
  return endpoints;
}

void InMemoryRegistry::add_static(const ServiceEndpoint& endpoint) {
  std::lock_guard lock(mutex_);
  entries_[{endpoint.service, endpoint.instance}] = Entry{endpoint, std::chrono::milliseconds(0), {}};
}

void InMemoryRegistry::register_endpoint(const ServiceEndpoint& endpoint, std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) throw std::invalid_argument("rpc registry: a registration needs a positive ttl");
  const auto now = now_();
  std::lock_guard lock(mutex_);
  entries_[{endpoint.service, endpoint.instance}] = Entry{endpoint, ttl, now + ttl};
}

bool InMemoryRegistry::heartbeat(std::string_view service, std::string_view instance) {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  drop_expired(now);
  const auto found = entries_.find(std::make_pair(std::string(service), std::string(instance)));
  if (found == entries_.end()) return false;
  if (found->second.ttl.count() > 0) found->second.expires_at = now + found->second.ttl;
  return true;
}

void InMemoryRegistry::deregister(std::string_view service, std::string_view instance) {
  std::lock_guard lock(mutex_);
  entries_.erase(std::make_pair(std::string(service), std::string(instance)));
}

std::vector<ServiceEndpoint> InMemoryRegistry::resolve(std::string_view service, int min_version) {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  drop_expired(now);
  std::vector<ServiceEndpoint> found;
  // Keys sort by (service, instance), so one service's entries are adjacent and in order.
  for (auto it = entries_.lower_bound(std::make_pair(std::string(service), std::string()));
       it != entries_.end() && it->first.first == service; ++it) {
    if (it->second.endpoint.version >= min_version) found.push_back(it->second.endpoint);
  }
  return found;
}

std::size_t InMemoryRegistry::size() {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  drop_expired(now);
  return entries_.size();
}

void InMemoryRegistry::drop_expired(Clock::time_point now) {
  std::erase_if(entries_, [&](const auto& item) {
    return item.second.ttl.count() > 0 && item.second.expires_at <= now;
  });
}

RegistrationKeeper::RegistrationKeeper(ServiceRegistry& registry, std::vector<ServiceEndpoint> endpoints,
                                       std::chrono::milliseconds ttl)
    : registry_(registry), endpoints_(std::move(endpoints)), ttl_(ttl) {
  for (const auto& endpoint : endpoints_) {
    registry_.register_endpoint(endpoint, ttl_);  // the first registration's errors surface here
    ++registrations_;
  }
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, ttl_ / 3, [&] { return stopping_; })) {
      lock.unlock();
      beat();
      lock.lock();
    }
  });
}

RegistrationKeeper::~RegistrationKeeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (const auto& endpoint : endpoints_) {
    try {
      registry_.deregister(endpoint.service, endpoint.instance);
    } catch (const std::exception&) {
      // The registry is unreachable: the entry expires on its own.
    }
  }
}

void RegistrationKeeper::beat() {
  for (const auto& endpoint : endpoints_) {
    try {
      const bool known = registry_.heartbeat(endpoint.service, endpoint.instance);
      std::lock_guard lock(mutex_);
      ++beats_;
      if (known) continue;
    } catch (const std::exception&) {
      continue;  // try again next beat
    }
    try {
      registry_.register_endpoint(endpoint, ttl_);
      std::lock_guard lock(mutex_);
      ++registrations_;
    } catch (const std::exception&) {
    }
  }
}

std::uint64_t RegistrationKeeper::beats() const {
  std::lock_guard lock(mutex_);
  return beats_;
}

std::uint64_t RegistrationKeeper::registrations() const {
  std::lock_guard lock(mutex_);
  return registrations_;
}

std::shared_ptr<Channel> connect_endpoint(const ServiceEndpoint& endpoint, const std::string& credential) {
  const auto address = split_address(endpoint.address);
  if (!address) throw std::invalid_argument("rpc: bad endpoint address '" + endpoint.address + "'");
  if (endpoint.transport == "tcp") {
    return std::make_shared<TcpChannel>(address->first, address->second, TcpChannelOptions{.credential = credential});
  }
  if (endpoint.transport == "http") {
    return std::make_shared<HttpChannel>(address->first, address->second, HttpChannelOptions{.credential = credential});
  }
  throw std::invalid_argument("rpc: unknown transport '" + endpoint.transport + "' for service " + endpoint.service);
}

}  // namespace homestead::rpc
