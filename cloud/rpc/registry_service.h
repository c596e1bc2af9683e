// The registry as an RPC service, so servers in other processes can register and clients
// resolve over the network: RegistryService (IDL), install_registry() to serve any
// ServiceRegistry from an rpc::Server, and RemoteRegistry, the ServiceRegistry interface
// backed by a stub. Every method is idempotent (a registration replaces the entry), hence
// at-least-once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cloud/rpc/registry.h"
#include "cloud/rpc/skeleton.h"
#include "cloud/rpc/stub.h"

namespace homestead::rpc {

struct RegistryEndpoint {
  std::string service, transport, address, instance;
  std::int32_t version = 1;
  static constexpr auto schema() {
    return std::make_tuple(required("service", &RegistryEndpoint::service),
                           required("version", &RegistryEndpoint::version),
                           required("transport", &RegistryEndpoint::transport),
                           required("address", &RegistryEndpoint::address),
                           required("instance", &RegistryEndpoint::instance));
  }
};
struct RegisterRequest {
  RegistryEndpoint endpoint;
  std::uint32_t ttl_ms = 0;
  static constexpr auto schema() {
    return std::make_tuple(required("endpoint", &RegisterRequest::endpoint), required("ttl_ms", &RegisterRequest::ttl_ms));
  }
};
struct InstanceRequest {
  std::string service, instance;
  static constexpr auto schema() {
    return std::make_tuple(required("service", &InstanceRequest::service), required("instance", &InstanceRequest::instance));
  }
};
struct KnownReply {
  bool known = false;
  static constexpr auto schema() { return std::make_tuple(required("known", &KnownReply::known)); }
};
struct ResolveRequest {
  std::string service;
  std::int32_t min_version = 0;
  static constexpr auto schema() {
    return std::make_tuple(required("service", &ResolveRequest::service), optional("min_version", &ResolveRequest::min_version));
  }
};
struct ResolveReply {
  std::vector<RegistryEndpoint> endpoints;
  static constexpr auto schema() { return std::make_tuple(required("endpoints", &ResolveReply::endpoints)); }
};

struct RegistryService {
  static constexpr std::string_view name = "Registry";
  static constexpr int version = 1;
  HOMESTEAD_RPC_METHOD(Register, RegisterRequest, KnownReply, at_least_once);
  HOMESTEAD_RPC_METHOD(Heartbeat, InstanceRequest, KnownReply, at_least_once);
  HOMESTEAD_RPC_METHOD(Deregister, InstanceRequest, KnownReply, at_least_once);
  HOMESTEAD_RPC_METHOD(Resolve, ResolveRequest, ResolveReply, at_least_once);
  using Methods = std::tuple<Register, Heartbeat, Deregister, Resolve>;
};

inline RegistryEndpoint to_wire(const ServiceEndpoint& e) {
  return {e.service, e.transport, e.address, e.instance, e.version};
}
inline ServiceEndpoint from_wire(const RegistryEndpoint& e) {
  return {e.service, e.version, e.transport, e.address, e.instance};
}

// Serves `registry` (which must outlive the server) as RegistryService.
inline void install_registry(Server& server, ServiceRegistry& registry) {
  Skeleton<RegistryService> skeleton;
  skeleton
      .on<RegistryService::Register>([&registry](const RegisterRequest& r) {
        if (r.ttl_ms == 0) throw RemoteError("ttl_ms must be positive");
        registry.register_endpoint(from_wire(r.endpoint), std::chrono::milliseconds(r.ttl_ms));
        return KnownReply{true};
      })
      .on<RegistryService::Heartbeat>(
          [&registry](const InstanceRequest& r) { return KnownReply{registry.heartbeat(r.service, r.instance)}; })
      .on<RegistryService::Deregister>([&registry](const InstanceRequest& r) {
        registry.deregister(r.service, r.instance);
        return KnownReply{true};
      })
      .on<RegistryService::Resolve>([&registry](const ResolveRequest& r) {
        ResolveReply reply;
        for (const auto& e : registry.resolve(r.service, r.min_version)) reply.endpoints.push_back(to_wire(e));
        return reply;
      });
  skeleton.install(server);
}

// A ServiceRegistry in another process. Errors reaching it throw std::runtime_error with the
// RPC error, since the interface has no error channel of its own.
class RemoteRegistry : public ServiceRegistry {
 public:
  explicit RemoteRegistry(std::shared_ptr<Channel> channel, StubOptions options = {})
      : stub_(std::move(channel), std::move(options)) {}

  void register_endpoint(const ServiceEndpoint& endpoint, std::chrono::milliseconds ttl) override {
    check(stub_.call<RegistryService::Register>({to_wire(endpoint), static_cast<std::uint32_t>(ttl.count())}));
  }
  bool heartbeat(std::string_view service, std::string_view instance) override {
    return check(stub_.call<RegistryService::Heartbeat>({std::string(service), std::string(instance)})).known;
  }
  void deregister(std::string_view service, std::string_view instance) override {
    check(stub_.call<RegistryService::Deregister>({std::string(service), std::string(instance)}));
  }
  std::vector<ServiceEndpoint> resolve(std::string_view service, int min_version = 0) override {
    std::vector<ServiceEndpoint> out;
    for (const auto& e : check(stub_.call<RegistryService::Resolve>({std::string(service), min_version})).endpoints) {
      out.push_back(from_wire(e));
    }
    return out;
  }

 private:
  template <class T>
  static T check(Result<T> result) {
    if (!result.ok()) throw std::runtime_error("rpc registry: " + result.error().describe());
    return std::move(result.value());
  }
  Stub<RegistryService> stub_;
};

}  // namespace homestead::rpc
