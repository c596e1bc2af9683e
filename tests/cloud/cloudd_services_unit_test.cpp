// Unit tests of cloudd's services wiring: the `service` command kind through the codec and
// KvStateMachine (answers, snapshot with the services inside, old snapshots without them,
// state hash), and the rpc pieces cloudd relies on: install_rpc_routes on a plain
// httplib::Server, the authenticator hook and the principal in CallContext.
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "cloud/cloudd/kv_state_machine.h"
#include "cloud/rpc/http_channel.h"
#include "cloud/rpc/http_server.h"
#include "cloud/rpc/skeleton.h"
#include "cloud/rpc/stub.h"
#include "cloud/services/ops.h"
#include "replication/raft/codec.h"
#include "tests/support/process.h"

namespace homestead::cloudd {
namespace {

using nlohmann::json;
namespace ops = services::ops;

Command service(const json& op, std::int64_t time_ms) {
  Command c;
  c.kind = CommandKind::service;
  c.value = op.dump();
  c.time_us = time_ms * 1000;
  return c;
}

TEST(ServiceCommand, RoundTripsThroughTheCodec) {
  const Command c = service(ops::create_home("h", "Home"), 1234);
  const Command back = decode_command(encode_command(c));
  EXPECT_EQ(back, c);
  EXPECT_EQ(json::parse(back.value)["op"], "create_home");
}

TEST(ServiceCommand, AppliesThroughTheKvStateMachineWithTheProposersTime) {
  KvStateMachine kv;
  EXPECT_EQ(json::parse(kv.apply(service(ops::create_home("h", ""), 5000)))["created_ms"], 5000);
  const json twice = json::parse(kv.apply(service(ops::create_home("h", ""), 5001)));
  EXPECT_EQ(twice["error"]["code"], "already_exists");
  Command garbage;
  garbage.kind = CommandKind::service;
  garbage.value = "{not json";
  EXPECT_EQ(json::parse(kv.apply(garbage))["error"]["code"], "invalid");
  kv.apply(service(ops::add_gateway("h", "g", services::sha256_hex("t")), 6000));
  const json lease = json::parse(kv.apply(service(ops::acquire_lease("h", "g", "L", 100), 7000)));
  EXPECT_EQ(lease["expires_at_ms"], 7100);
  EXPECT_EQ(kv.services().homes().size(), 1u);
  EXPECT_EQ(kv.services().gateway("h", "g")->created_ms, 6000);
}

TEST(ServiceCommand, SnapshotCarriesTheServicesAndTheHashCoversThem) {
  KvStateMachine kv;
  Command put;
  put.kind = CommandKind::put;
  put.key = "k";
  put.value = "v";
  kv.apply(put);
  const std::uint64_t without = kv.state_hash();
  const std::string old_format = kv.snapshot();
  kv.apply(service(ops::create_home("h", ""), 1));
  kv.apply(service(ops::set_desired("h", "d", {{"on", true}}, std::nullopt), 2));
  EXPECT_NE(kv.state_hash(), without);

  KvStateMachine copy;
  copy.restore(kv.snapshot());
  EXPECT_EQ(copy.state_hash(), kv.state_hash());
  ASSERT_NE(copy.services().device("h", "d"), nullptr);
  EXPECT_EQ(copy.services().device("h", "d")->desired, (json{{"on", true}}));
  EXPECT_EQ(copy.get("k")->value, "v");

  // Older layouts still restore. The snapshot above was taken with an empty services section
  // and a session chain of 0 (no session commands yet): without the chain it is the layout
  // from before the chain existed, without both the one from before the services.
  raft::ByteWriter chain;
  chain.varint(0);
  const std::string before_chain = old_format.substr(0, old_format.size() - chain.take().size());
  KvStateMachine without_chain;
  without_chain.restore(before_chain);
  EXPECT_EQ(without_chain.get("k")->value, "v");
  EXPECT_EQ(without_chain.state_hash(), without);
  raft::ByteWriter tail;
  tail.bytes(services::ServicesState().snapshot());
  const std::string legacy = before_chain.substr(0, before_chain.size() - tail.take().size());
  KvStateMachine restored;
  restored.restore(legacy);
  EXPECT_EQ(restored.get("k")->value, "v");
  EXPECT_TRUE(restored.services().homes().empty());
  EXPECT_EQ(restored.state_hash(), without);

  // A corrupt services section is refused as a codec error, not a crash.
  // (A truncated one: the section's length prefix promises bytes that are not there; and
  // one whose CBOR is garbage.)
  std::string corrupt = kv.snapshot();
  corrupt.resize(corrupt.size() - 5);
  KvStateMachine truncated;
  EXPECT_THROW(truncated.restore(corrupt), raft::CodecError);
  raft::ByteWriter garbage_section;
  garbage_section.bytes("\xff\xff not cbor");
  corrupt = old_format.substr(0, legacy.size()) + garbage_section.take();
  KvStateMachine victim;
  EXPECT_THROW(victim.restore(corrupt), raft::CodecError);
}

// rpc pieces cloudd uses: routes mounted on a server that also has its own routes, the
// authenticator's principal reaching the handler, and the shared credential's "" principal.
struct EchoRequest {
  std::string text;
  static constexpr auto schema() { return std::make_tuple(rpc::required("text", &EchoRequest::text)); }
};
struct EchoReply {
  std::string principal;
  std::string text;
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("principal", &EchoReply::principal), rpc::required("text", &EchoReply::text));
  }
};
struct EchoService {
  static constexpr std::string_view name = "Echo";
  static constexpr int version = 1;
  HOMESTEAD_RPC_METHOD(Say, EchoRequest, EchoReply, at_least_once);
  using Methods = std::tuple<Say>;
};

TEST(RpcMount, AuthenticatorPrincipalReachesHandlersOnAHostServer) {
  rpc::ServerOptions options;
  options.credentials = {"shared-secret"};
  options.authenticator = [](std::string_view token) -> std::optional<std::string> {
    if (token == "gw-token") return std::string("home1/gw1");
    return std::nullopt;
  };
  rpc::Server server(options);
  rpc::Skeleton<EchoService> echo;
  echo.on<EchoService::Say>([](const EchoRequest& r, const rpc::CallContext& ctx) { return EchoReply{ctx.principal, r.text}; });
  echo.install(server);

  httplib::Server host;
  host.Get("/own", [](const httplib::Request&, httplib::Response& res) { res.set_content("own", "text/plain"); });
  rpc::install_rpc_routes(host, server);
  const int port = host.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { host.listen_after_bind(); });
  ASSERT_TRUE(testing::wait_until([&] { return host.is_running(); }, std::chrono::seconds(5)));

  auto call = [&](const std::string& credential) {
    rpc::Stub<EchoService> stub(std::make_shared<rpc::HttpChannel>("127.0.0.1", port, rpc::HttpChannelOptions{credential}),
                                rpc::StubOptions{.retry = rpc::RetryPolicy::none()});
    return stub.call<EchoService::Say>({"hi"});
  };
  const auto gateway = call("gw-token");
  ASSERT_TRUE(gateway.ok()) << gateway.error().describe();
  EXPECT_EQ(gateway->principal, "home1/gw1");
  EXPECT_EQ(gateway->text, "hi");
  const auto shared = call("shared-secret");
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->principal, "");
  const auto wrong = call("nope");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.kind(), rpc::ErrorKind::unauthenticated);
  EXPECT_EQ(server.stats().refused_auth, 1u);
  EXPECT_TRUE(server.authenticate("gw-token"));
  EXPECT_FALSE(server.authenticate(""));

  httplib::Client plain("127.0.0.1", port);
  const auto own = plain.Get("/own");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->body, "own");
  host.stop();
  serving.join();
}

}  // namespace
}  // namespace homestead::cloudd
