// The http transport end to end on 127.0.0.1: typed stubs (sync, future, callback) over both
// codecs, content negotiation, keep-alive connection reuse, the description document,
// deadlines, lost connections (unknown outcome, never a false success), auth, oversized and
// malformed bodies, and graceful draining. Raw requests go through a plain httplib client so
// the wire contract (http_protocol.h) is checked, not only our own client.
#include <gtest/gtest.h>
#include <httplib.h>

#include <future>
#include <set>

#include "cloud/rpc/http_channel.h"
#include "cloud/rpc/http_protocol.h"
#include "cloud/rpc/http_server.h"
#include "cloud/rpc/stub.h"
#include "tests/rpc/kv_fixture.h"
#include "tests/support/process.h"

namespace homestead::rpc::testing {
namespace {

using namespace std::chrono_literals;
using homestead::testing::wait_until;

constexpr const char* kSecret = "test-cluster-secret";

struct HttpFixture {
  KvStore store;
  Gate gate;
  Server server;
  HttpListener listener;

  explicit HttpFixture(ServerOptions options = base_options(), int port = 0, HttpListenerOptions http = {})
      : server(std::move(options)), listener(server, "127.0.0.1", port, http) {
    install_kv(server, store, gate);
    listener.start();
  }
  ~HttpFixture() {
    gate.open();
    listener.stop();
  }
  static ServerOptions base_options() {
    ServerOptions options;
    options.credentials = {kSecret};
    options.max_request_bytes = 64 * 1024;
    return options;
  }
  std::shared_ptr<HttpChannel> channel(std::string credential = kSecret) {
    return std::make_shared<HttpChannel>("127.0.0.1", listener.port(), HttpChannelOptions{.credential = credential});
  }
  // A plain HTTP client, tuned like ours, for checking the wire format.
  std::unique_ptr<httplib::Client> raw() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", listener.port());
    client->set_tcp_nodelay(true);
    client->set_decompress(false);
    client->set_bearer_token_auth(kSecret);
    return client;
  }
};

class HttpCodecs : public ::testing::TestWithParam<Codec> {};

TEST_P(HttpCodecs, SyncFutureAndCallbackRoundTrip) {
  HttpFixture f;
  Stub<KvService> kv(f.channel(), StubOptions{.codec = GetParam()});
  EchoMessage m{"hi", 7, 0.5, true, {{"a", 1}}, std::nullopt, {{"t", 3}}, std::string(64, 'x')};
  const auto echoed = kv.call<KvService::Echo>(m);
  ASSERT_TRUE(echoed.ok()) << echoed.error().describe();
  EXPECT_EQ(echoed.value(), m);

  auto future = kv.call_async<KvService::Append>({"k", "one"});
  const auto appended = future.get();
  ASSERT_TRUE(appended.ok()) << appended.error().describe();
  EXPECT_EQ(appended->length, 1u);

  std::promise<Result<AppendReply>> got;
  kv.call_async<KvService::AppendAtLeastOnce>({"k", "two"}, [&](Result<AppendReply> r) { got.set_value(std::move(r)); });
  const auto second = got.get_future().get();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->length, 2u);
  EXPECT_EQ(f.store.get("k"), (std::vector<std::string>{"one", "two"}));
}

INSTANTIATE_TEST_SUITE_P(Codecs, HttpCodecs, ::testing::Values(Codec::json, Codec::msgpack),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(HttpTransport, ContentNegotiationAnswersInTheAcceptedCodec) {
  HttpFixture f;
  auto client = f.raw();
  // JSON in, MessagePack out.
  auto r = client->Post("/rpc/v1/Kv/AppendAtLeastOnce", httplib::Headers{{"Accept", "application/msgpack"}},
                        R"({"key":"k","value":"v"})", "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/msgpack");
  EXPECT_EQ(nlohmann::json::from_msgpack(r->body), (nlohmann::json{{"length", 1}}));
  // MessagePack in, no Accept: the same codec back.
  const std::string packed = encode(nlohmann::json{{"key", "k"}}, Codec::msgpack);
  r = client->Post("/rpc/v1/Kv/Get", packed, "application/msgpack");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/msgpack");
  EXPECT_EQ(nlohmann::json::from_msgpack(r->body), (nlohmann::json{{"values", {"v"}}}));
  // A list with weights and a type we do not speak first.
  r = client->Post("/rpc/v1/Kv/Get", httplib::Headers{{"Accept", "text/html, application/json;q=0.9"}}, packed,
                   "application/msgpack");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r->body), (nlohmann::json{{"values", {"v"}}}));
  // Types we cannot read or produce are refused with the reason.
  r = client->Post("/rpc/v1/Kv/Get", R"(key=k)", "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  EXPECT_EQ(r->get_header_value(http::kErrorHeader), "bad_request");
  EXPECT_NE(r->body.find("unsupported Content-Type 'application/x-www-form-urlencoded'"), std::string::npos) << r->body;
  r = client->Post("/rpc/v1/Kv/Get", httplib::Headers{{"Accept", "text/html"}}, R"({"key":"k"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 406);
}

TEST(HttpTransport, DescribeServesTheMachineReadableDescription) {
  HttpFixture f;
  auto client = f.raw();
  const auto r = client->Get("/rpc/v1/_describe");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const auto d = nlohmann::json::parse(r->body);
  EXPECT_EQ(d, f.server.describe());
  ASSERT_EQ(d["services"].size(), 1u);
  EXPECT_EQ(d["services"][0]["name"], "Kv");
  EXPECT_EQ(d["services"][0]["methods"][0]["name"], "Append");
  EXPECT_EQ(d["services"][0]["methods"][0]["semantics"], "at_most_once");
  // Behind auth like every call.
  httplib::Client anonymous("127.0.0.1", f.listener.port());
  const auto refused = anonymous.Get("/rpc/v1/_describe");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
}

TEST(HttpTransport, RemoteErrorsAndSchemaErrorsComeBackWithTheirKind) {
  HttpFixture f;
  auto channel = f.channel();
  Stub<KvService> kv(channel);
  const auto failed = kv.call<KvService::Fail>({"nope"});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.kind(), ErrorKind::remote);
  EXPECT_EQ(failed.error().message, "no such key: nope");

  RawRequest raw{"Kv/AppendAtLeastOnce", Codec::json, R"({"key":"k"})"};
  const RawReply reply = channel->call(raw, Clock::now() + 2s);
  EXPECT_EQ(reply.kind, ErrorKind::bad_request);
  EXPECT_NE(reply.body.find("field 'value': missing required field"), std::string::npos) << reply.body;
  const RawReply missing = channel->call(RawRequest{"Kv/Nope", Codec::json, "{}"}, Clock::now() + 2s);
  EXPECT_EQ(missing.kind, ErrorKind::not_found);
  EXPECT_NE(missing.body.find("no method 'Kv/Nope'"), std::string::npos) << missing.body;
}

TEST(HttpTransport, KeepAliveReusesPooledConnectionsBeyondHttplibsDefaultCount) {
  KvStore store;
  Gate gate;
  Server server(HttpFixture::base_options());
  std::mutex mutex;
  std::set<std::string> peers;
  install_kv(server, store, gate);  // the other methods; Echo is replaced below
  server.add_method("Kv/Echo", Semantics::at_least_once,
                    make_raw_handler<KvService::Echo>([&](const EchoMessage& m, const CallContext& context) {
                      std::lock_guard lock(mutex);
                      peers.insert(context.peer);
                      return m;
                    }));
  HttpListener listener(server, "127.0.0.1", 0);
  listener.start();
  auto channel = std::make_shared<HttpChannel>("127.0.0.1", listener.port(), HttpChannelOptions{.credential = kSecret});
  Stub<KvService> kv(channel);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(kv.call<KvService::Echo>({"x"}).ok());
  EXPECT_EQ(peers.size(), 1u);  // httplib's default would have reconnected every 5 calls
  EXPECT_EQ(channel->pooled_connections(), 1u);

  // Concurrent callers get their own connections, up to the pool's size.
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 20; ++i) EXPECT_TRUE(kv.call<KvService::Echo>({"y"}).ok());
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_LE(channel->pooled_connections(), 4u);
  EXPECT_EQ(peers.size(), channel->pooled_connections());
  EXPECT_EQ(listener.connections_refused(), 0u);
}

TEST(HttpTransport, StalledServerTimesOutWithinDeadlinePlus50ms) {
  HttpFixture f;
  Stub<KvService> kv(f.channel());
  ASSERT_TRUE(kv.call<KvService::Get>({"warm-up"}).ok());
  for (auto deadline : {100ms, 250ms}) {
    const auto start = Clock::now();
    const auto r = kv.call<KvService::Sleep>({60'000}, CallOptions{.timeout = deadline, .retry = RetryPolicy::none()});
    const auto took = Clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.kind(), ErrorKind::timeout) << r.error().describe();
    EXPECT_GE(took, deadline);
    EXPECT_LE(took, deadline + 50ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  }
  // The same through the asynchronous path.
  const auto start = Clock::now();
  auto future = kv.call_async<KvService::Sleep>({60'000}, CallOptions{.timeout = 150ms, .retry = RetryPolicy::none()});
  const auto r = future.get();
  const auto took = Clock::now() - start;
  EXPECT_EQ(r.kind(), ErrorKind::timeout);
  EXPECT_LE(took, 150ms + 50ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST(HttpTransport, ServerGoingAwayMidCallIsUnknownOutcomeThenTheChannelReconnects) {
  const int port = homestead::testing::free_tcp_port();
  auto first = std::make_unique<HttpFixture>(HttpFixture::base_options(), port);
  auto channel = std::make_shared<HttpChannel>("127.0.0.1", port, HttpChannelOptions{.credential = kSecret});
  Stub<KvService> kv(channel);
  auto in_flight = kv.call_async<KvService::Sleep>({60'000}, CallOptions{.timeout = 10s, .retry = RetryPolicy::none()});
  ASSERT_TRUE(wait_until([&] { return first->gate.waiting() == 1; }, 5s));
  // stop() closes the connections at once, then waits for the stalled handler.
  auto stopping = std::async(std::launch::async, [&] { first->listener.stop(); });
  const auto lost = in_flight.get();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.kind(), ErrorKind::unknown_outcome) << lost.error().describe();
  first->gate.open();
  stopping.get();
  first.reset();

  const auto down = kv.call<KvService::Get>({"k"}, CallOptions{.timeout = 300ms, .retry = RetryPolicy::none()});
  EXPECT_EQ(down.kind(), ErrorKind::transport) << (down.ok() ? "ok" : down.error().describe());

  HttpFixture second(HttpFixture::base_options(), port);
  const auto after = kv.call<KvService::Append>({"k", "after"}, CallOptions{.timeout = 2s});
  ASSERT_TRUE(after.ok()) << after.error().describe();
  EXPECT_EQ(after->length, 1u);
}

TEST(HttpTransport, MissingOrWrongCredentialIsRefusedClearly) {
  HttpFixture f;
  Stub<KvService> wrong(f.channel("not-the-secret"));
  const auto r = wrong.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.kind(), ErrorKind::unauthenticated);
  EXPECT_EQ(r.error().message, "wrong credential");

  Stub<KvService> none(f.channel(""));
  const auto r2 = none.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  EXPECT_EQ(r2.kind(), ErrorKind::unauthenticated);
  EXPECT_NE(r2.error().message.find("missing credential"), std::string::npos) << r2.error().message;

  httplib::Client anonymous("127.0.0.1", f.listener.port());
  const auto raw = anonymous.Post("/rpc/v1/Kv/Get", R"({"key":"k"})", "application/json");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->status, 401);
  EXPECT_EQ(raw->get_header_value(http::kErrorHeader), "unauthenticated");
  EXPECT_EQ(f.server.stats().refused_auth, 3u);
  EXPECT_EQ(f.server.stats().executed, 0u);
}

TEST(HttpTransport, OversizedAndMalformedBodiesAreRefusedAndTheServerKeepsServing) {
  HttpFixture f;
  auto channel = f.channel();
  const RawReply big = channel->call(
      RawRequest{"Kv/AppendAtLeastOnce", Codec::json, R"({"key":"k","value":")" + std::string(200 * 1024, 'x') + "\"}"},
      Clock::now() + 5s);
  EXPECT_EQ(big.kind, ErrorKind::too_large) << big.body;
  EXPECT_NE(big.body.find("exceeds the limit of 65536 bytes"), std::string::npos) << big.body;

  const RawReply garbage = channel->call(RawRequest{"Kv/AppendAtLeastOnce", Codec::json, R"({"key": "k", )"},
                                         Clock::now() + 5s);
  EXPECT_EQ(garbage.kind, ErrorKind::bad_request);
  EXPECT_NE(garbage.body.find("malformed json body"), std::string::npos) << garbage.body;
  const RawReply bad_msgpack = channel->call(RawRequest{"Kv/AppendAtLeastOnce", Codec::msgpack, "\xc1\xc1\xc1"},
                                             Clock::now() + 5s);
  EXPECT_EQ(bad_msgpack.kind, ErrorKind::bad_request);
  EXPECT_NE(bad_msgpack.body.find("malformed msgpack body"), std::string::npos) << bad_msgpack.body;

  // A session header that is not a number names the header.
  auto client = f.raw();
  const auto bad_header = client->Post("/rpc/v1/Kv/Append", httplib::Headers{{http::kSeqHeader, "12x"}},
                                       R"({"key":"k","value":"v"})", "application/json");
  ASSERT_TRUE(bad_header);
  EXPECT_EQ(bad_header->status, 400);
  EXPECT_NE(bad_header->body.find("X-Rpc-Seq"), std::string::npos) << bad_header->body;
  // Not an RPC path: httplib's own 404 still carries an error kind.
  const auto no_route = client->Post("/not/rpc", "{}", "application/json");
  ASSERT_TRUE(no_route);
  EXPECT_EQ(no_route->status, 404);
  EXPECT_EQ(no_route->get_header_value(http::kErrorHeader), "not_found");

  Stub<KvService> kv(channel);
  ASSERT_TRUE(kv.call<KvService::AppendAtLeastOnce>({"k", "still here"}).ok());
  EXPECT_EQ(kv.call<KvService::Get>({"k"})->values, std::vector<std::string>{"still here"});
  EXPECT_GE(f.server.stats().refused_other, 4u);
}

TEST(HttpTransport, GracefulShutdownDrainsInFlightCallsAndRefusesNewOnes) {
  HttpFixture f;
  Stub<KvService> kv(f.channel());
  auto in_flight = kv.call_async<KvService::Sleep>({60'000});
  ASSERT_TRUE(wait_until([&] { return f.gate.waiting() == 1; }, 5s));
  auto drained = std::async(std::launch::async, [&] { return f.server.drain(10s); });
  ASSERT_TRUE(wait_until([&] { return f.server.draining(); }, 5s));
  const auto refused = kv.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  EXPECT_EQ(refused.kind(), ErrorKind::shutting_down);
  f.gate.open();
  EXPECT_TRUE(drained.get());
  const auto finished = in_flight.get();
  ASSERT_TRUE(finished.ok()) << finished.error().describe();
  EXPECT_EQ(f.server.in_flight(), 0u);
}

TEST(HttpTransport, ConnectionsBeyondTheThreadsAreRefusedAsOverloadedNotStarved) {
  // One connection thread, no waiting room: a second connection is answered `overloaded`
  // at once instead of hanging until the first one closes.
  HttpFixture f(HttpFixture::base_options(), 0, HttpListenerOptions{.threads = 1, .max_waiting_connections = 0});
  Stub<KvService> holder(f.channel());
  auto held = holder.call_async<KvService::Sleep>({60'000});
  ASSERT_TRUE(wait_until([&] { return f.gate.waiting() == 1; }, 5s));
  Stub<KvService> other(f.channel());
  const auto r = other.call<KvService::Get>({"k"}, CallOptions{.timeout = 2s, .retry = RetryPolicy::none()});
  EXPECT_EQ(r.kind(), ErrorKind::overloaded) << (r.ok() ? "ok" : r.error().describe());
  EXPECT_EQ(f.listener.connections_refused(), 1u);
  f.gate.open();
  ASSERT_TRUE(held.get().ok());
}

TEST(HttpTransport, AStaleServerOnThePortIsAnErrorNotASilentSteal) {
  HttpFixture f;
  Server other(HttpFixture::base_options());
  try {
    HttpListener second(other, "127.0.0.1", f.listener.port());
    FAIL() << "a second listener bound the same port (SO_REUSEPORT)";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(f.listener.port())),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace homestead::rpc::testing
