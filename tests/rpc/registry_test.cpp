// The service registry: registration, resolution by name and version, expiry without
// heartbeats (driven by an injected clock, no sleeping), static entries from config with
// field-named errors, the registry served over RPC, and the keeper that heartbeats for a
// server (polled with a deadline on the real clock).
#include <gtest/gtest.h>

#include "cloud/rpc/registry.h"
#include "cloud/rpc/registry_service.h"
#include "cloud/rpc/tcp_channel.h"
#include "cloud/rpc/tcp_server.h"
#include "tests/rpc/kv_fixture.h"
#include "tests/support/process.h"

namespace homestead::rpc::testing {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  Clock::time_point now = Clock::time_point() + 1h;
  InMemoryRegistry::NowFn fn() {
    return [this] { return now; };
  }
};

ServiceEndpoint kv_at(std::string instance, std::string address, int version = 1) {
  return {"Kv", version, "tcp", std::move(address), std::move(instance)};
}

TEST(Registry, ResolvesRegisteredEndpointsByNameAndVersion) {
  FakeClock clock;
  InMemoryRegistry registry(clock.fn());
  registry.register_endpoint(kv_at("b", "10.0.0.2:7400", 2), 10s);
  registry.register_endpoint(kv_at("a", "10.0.0.1:7400", 1), 10s);
  registry.register_endpoint({"Raft", 1, "tcp", "10.0.0.1:7500", "a"}, 10s);
  EXPECT_EQ(registry.resolve("Kv"), (std::vector<ServiceEndpoint>{kv_at("a", "10.0.0.1:7400", 1), kv_at("b", "10.0.0.2:7400", 2)}));
  EXPECT_EQ(registry.resolve("Kv", 2), (std::vector<ServiceEndpoint>{kv_at("b", "10.0.0.2:7400", 2)}));
  EXPECT_TRUE(registry.resolve("Nope").empty());
  EXPECT_TRUE(registry.resolve("K").empty());  // no prefix matches
  // Registering the same instance again replaces its entry (a restart on a new port).
  registry.register_endpoint(kv_at("a", "10.0.0.1:7401", 1), 10s);
  EXPECT_EQ(registry.resolve("Kv")[0].address, "10.0.0.1:7401");
  registry.deregister("Kv", "a");
  EXPECT_EQ(registry.resolve("Kv").size(), 1u);
  EXPECT_EQ(registry.size(), 2u);
}

TEST(Registry, EntriesExpireWithoutHeartbeatsAndHeartbeatsKeepThemAlive) {
  FakeClock clock;
  InMemoryRegistry registry(clock.fn());
  registry.register_endpoint(kv_at("beating", "10.0.0.1:1"), 3s);
  registry.register_endpoint(kv_at("silent", "10.0.0.2:1"), 3s);
  for (int i = 0; i < 5; ++i) {  // 10 s in 2 s steps: only the beating one survives
    clock.now += 2s;
    EXPECT_TRUE(registry.heartbeat("Kv", "beating"));
  }
  ASSERT_EQ(registry.resolve("Kv").size(), 1u);
  EXPECT_EQ(registry.resolve("Kv")[0].instance, "beating");
  EXPECT_FALSE(registry.heartbeat("Kv", "silent"));  // forgotten: it must register again
  // Exactly at the ttl boundary the entry is gone; a millisecond before it is not.
  clock.now += 3s - 1ms;
  EXPECT_EQ(registry.resolve("Kv").size(), 1u);
  clock.now += 1ms;
  EXPECT_TRUE(registry.resolve("Kv").empty());
  EXPECT_FALSE(registry.heartbeat("Kv", "beating"));
}

TEST(Registry, StaticEntriesFromConfigNeverExpire) {
  FakeClock clock;
  InMemoryRegistry registry(clock.fn());
  const auto config = config::Config::parse(R"({"registry": {"services": [
      {"name": "Kv", "version": 3, "transport": "http", "address": "10.0.0.9:8080", "instance": "edge"},
      {"name": "Raft", "address": "10.0.0.9:7500"}]}})", "cloud.json");
  for (const auto& endpoint : InMemoryRegistry::endpoints_from_config(config)) registry.add_static(endpoint);
  clock.now += 24h * 365;
  EXPECT_EQ(registry.resolve("Kv"), (std::vector<ServiceEndpoint>{{"Kv", 3, "http", "10.0.0.9:8080", "edge"}}));
  // Defaults: version 1, tcp, instance = address.
  EXPECT_EQ(registry.resolve("Raft"), (std::vector<ServiceEndpoint>{{"Raft", 1, "tcp", "10.0.0.9:7500", "10.0.0.9:7500"}}));
  EXPECT_TRUE(registry.heartbeat("Raft", "10.0.0.9:7500"));
}

TEST(Registry, ConfigErrorsNameTheField) {
  auto error_of = [](const std::string& text) -> std::pair<std::string, std::string> {
    try {
      InMemoryRegistry::endpoints_from_config(config::Config::parse(text, "cloud.json"));
    } catch (const config::ConfigError& e) {
      return {e.field(), e.what()};
    }
    return {"", "no error"};
  };
  auto [field, what] = error_of(R"({"registry": {"services": [{"name": "Kv", "address": "h:1"}, {"name": "Kv", "address": "nohost"}]}})");
  EXPECT_EQ(field, "registry.services[1].address");
  EXPECT_NE(what.find("cloud.json: field 'registry.services[1].address': expected \"host:port\""), std::string::npos) << what;
  EXPECT_EQ(error_of(R"({"registry": {"services": [{"address": "h:1"}]}})").first, "registry.services[0].name");
  EXPECT_EQ(error_of(R"({"registry": {"services": [{"name": "Kv", "address": "h:70000"}]}})").first,
            "registry.services[0].address");
  EXPECT_EQ(error_of(R"({"registry": {"services": [{"name": "Kv", "address": "h:1", "transport": "udp"}]}})").first,
            "registry.services[0].transport");
  EXPECT_EQ(error_of(R"({"registry": {"services": [{"name": "Kv", "address": "h:1", "port": 3}]}})").first,
            "registry.services[0].port");
  EXPECT_EQ(error_of(R"({"registry": {"services": {}}})").first, "registry.services");
  EXPECT_EQ(error_of(R"({})").first, "");  // no section: no static entries
}

TEST(Registry, ServedOverRpcClientsResolveAndConnectToWhatServersRegistered) {
  // A registry server, a Kv server that registers itself there, and a client that knows only
  // the registry's address and the service name.
  InMemoryRegistry backing;
  ServerOptions registry_options;
  registry_options.credentials = {"registry-secret"};
  Server registry_server(registry_options);
  install_registry(registry_server, backing);
  TcpListener registry_listener(registry_server, "127.0.0.1", 0);
  registry_listener.start();
  auto registry_channel = std::make_shared<TcpChannel>("127.0.0.1", registry_listener.port(),
                                                       TcpChannelOptions{.credential = "registry-secret"});

  KvStore store;
  Gate gate;
  ServerOptions kv_options;
  kv_options.credentials = {"kv-secret"};
  Server kv_server(kv_options);
  install_kv(kv_server, store, gate);
  TcpListener kv_listener(kv_server, "127.0.0.1", 0);
  kv_listener.start();
  RemoteRegistry for_server(registry_channel);
  {
    RegistrationKeeper keeper(for_server, {{"Kv", 1, "tcp", "127.0.0.1:" + std::to_string(kv_listener.port()), "kv-1"}}, 60s);

    RemoteRegistry for_client(registry_channel);
    const auto endpoints = for_client.resolve("Kv");
    ASSERT_EQ(endpoints.size(), 1u);
    Stub<KvService> kv(connect_endpoint(endpoints[0], "kv-secret"));
    const auto r = kv.call<KvService::Append>({"k", "via registry"});
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(store.get("k"), std::vector<std::string>{"via registry"});
    EXPECT_THROW(connect_endpoint({"Kv", 1, "carrier-pigeon", "h:1", "x"}, ""), std::invalid_argument);
  }
  // The keeper deregisters when its server goes away.
  EXPECT_TRUE(backing.resolve("Kv").empty());
  gate.open();
}

TEST(Registry, KeeperHeartbeatsAndRegistersAgainAfterTheRegistryForgets) {
  InMemoryRegistry registry;  // real clock: the keeper beats on its own thread
  RegistrationKeeper keeper(registry, {kv_at("k1", "127.0.0.1:9")}, 900ms);
  ASSERT_TRUE(homestead::testing::wait_until([&] { return keeper.beats() >= 4; }, 10s));
  EXPECT_EQ(registry.resolve("Kv").size(), 1u);  // 4 beats span more than one ttl
  registry.deregister("Kv", "k1");               // e.g. the registry restarted
  ASSERT_TRUE(homestead::testing::wait_until([&] { return keeper.registrations() >= 2; }, 10s));
  EXPECT_EQ(registry.resolve("Kv").size(), 1u);
}

}  // namespace
}  // namespace homestead::rpc::testing
