// The tcp transport end to end on 127.0.0.1: typed stubs (sync, future, callback) over both
// codecs, pipelining with out-of-order replies, deadlines, lost connections (unknown
// outcome, never a false success), auth, bad frames, and graceful draining.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>

#include "cloud/rpc/frame.h"
#include "cloud/rpc/socket.h"
#include "cloud/rpc/stub.h"
#include "cloud/rpc/tcp_channel.h"
#include "cloud/rpc/tcp_server.h"
#include "tests/rpc/kv_fixture.h"
#include "tests/support/process.h"

namespace homestead::rpc::testing {
namespace {

using namespace std::chrono_literals;
using homestead::testing::wait_until;

constexpr const char* kSecret = "test-cluster-secret";

struct TcpFixture {
  KvStore store;
  Gate gate;
  Server server;
  TcpListener listener;

  explicit TcpFixture(ServerOptions options = base_options(), int port = 0)
      : server(std::move(options)), listener(server, "127.0.0.1", port) {
    install_kv(server, store, gate);
    listener.start();
  }
  ~TcpFixture() {
    gate.open();
    listener.stop();
  }
  static ServerOptions base_options() {
    ServerOptions options;
    options.credentials = {kSecret};
    options.workers = 4;
    options.max_request_bytes = 64 * 1024;
    return options;
  }
  std::shared_ptr<TcpChannel> channel(std::string credential = kSecret) {
    return std::make_shared<TcpChannel>("127.0.0.1", listener.port(), TcpChannelOptions{.credential = credential});
  }
};

class TcpCodecs : public ::testing::TestWithParam<Codec> {};

TEST_P(TcpCodecs, SyncFutureAndCallbackRoundTrip) {
  TcpFixture f;
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

INSTANTIATE_TEST_SUITE_P(Codecs, TcpCodecs, ::testing::Values(Codec::json, Codec::msgpack),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(TcpTransport, RemoteErrorsAndSchemaErrorsComeBackWithTheirKind) {
  TcpFixture f;
  auto channel = f.channel();
  Stub<KvService> kv(channel);
  const auto failed = kv.call<KvService::Fail>({"nope"});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.kind(), ErrorKind::remote);
  EXPECT_EQ(failed.error().message, "no such key: nope");

  // A body missing a required field: the server names it.
  RawRequest raw{"Kv/AppendAtLeastOnce", Codec::json, R"({"key":"k"})"};
  const RawReply reply = channel->call(raw, Clock::now() + 2s);
  EXPECT_EQ(reply.kind, ErrorKind::bad_request);
  EXPECT_NE(reply.body.find("field 'value': missing required field"), std::string::npos) << reply.body;
  const RawReply missing = channel->call(RawRequest{"Kv/Nope", Codec::json, "{}"}, Clock::now() + 2s);
  EXPECT_EQ(missing.kind, ErrorKind::not_found);
}

TEST(TcpTransport, PipelinedCallsShareOneConnectionAndRepliesComeOutOfOrder) {
  TcpFixture f;
  auto channel = f.channel();
  Stub<KvService> kv(channel);
  auto slow = kv.call_async<KvService::Sleep>({5'000});
  ASSERT_TRUE(wait_until([&] { return f.gate.waiting() == 1; }, 5s));
  // Sent after the slow call on the same connection, answered before it.
  const auto fast = kv.call<KvService::Append>({"k", "fast"});
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ(slow.wait_for(0ms), std::future_status::timeout);
  f.gate.open();
  const auto slow_result = slow.get();
  ASSERT_TRUE(slow_result.ok());
  EXPECT_EQ(channel->connects(), 1u);
  EXPECT_EQ(f.listener.connections(), 1u);
}

TEST(TcpTransport, StalledServerTimesOutWithinDeadlinePlus50ms) {
  TcpFixture f;
  Stub<KvService> kv(f.channel());
  ASSERT_TRUE(kv.call<KvService::Get>({"warm-up"}).ok());  // connection made outside the timing
  for (auto deadline : {100ms, 250ms}) {
    const auto start = Clock::now();
    const auto r = kv.call<KvService::Sleep>({60'000}, CallOptions{.timeout = deadline, .retry = RetryPolicy::none()});
    const auto took = Clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.kind(), ErrorKind::timeout) << r.error().describe();
    EXPECT_GE(took, deadline);
    EXPECT_LE(took, deadline + 50ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  }
}

TEST(TcpTransport, ServerRestartMidCallIsUnknownOutcomeThenReconnects) {
  const int port = homestead::testing::free_tcp_port();
  auto first = std::make_unique<TcpFixture>(TcpFixture::base_options(), port);
  auto channel = std::make_shared<TcpChannel>("127.0.0.1", port, TcpChannelOptions{.credential = kSecret});
  Stub<KvService> kv(channel);
  auto in_flight = kv.call_async<KvService::Sleep>({60'000}, CallOptions{.timeout = 10s, .retry = RetryPolicy::none()});
  ASSERT_TRUE(wait_until([&] { return first->gate.waiting() == 1; }, 5s));
  first->listener.stop();  // the server goes away with the call inside it
  const auto lost = in_flight.get();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.kind(), ErrorKind::unknown_outcome) << lost.error().describe();
  first.reset();

  // While it is down: not executed anywhere, so `transport`.
  const auto down = kv.call<KvService::Get>({"k"}, CallOptions{.timeout = 300ms, .retry = RetryPolicy::none()});
  EXPECT_EQ(down.kind(), ErrorKind::transport) << (down.ok() ? "ok" : down.error().describe());

  TcpFixture second(TcpFixture::base_options(), port);
  // The channel reconnects on its own once its backoff allows.
  Result<AppendReply> after = RpcError{};
  ASSERT_TRUE(wait_until([&] {
    after = kv.call<KvService::Append>({"k", "after"}, CallOptions{.timeout = 1s});
    return after.ok();
  }, 5s));
  EXPECT_EQ(after->length, 1u);
  EXPECT_EQ(channel->connects(), 2u);
}

TEST(TcpTransport, RetriesAfterAnUnknownOutcomeNeverReportNotExecuted) {
  // The first attempt times out (it may have run); the next ones cannot connect. The final
  // answer must stay "unknown", not "transport" (which would claim it never ran).
  const int port = homestead::testing::free_tcp_port();
  auto server = std::make_unique<TcpFixture>(TcpFixture::base_options(), port);
  auto channel = std::make_shared<TcpChannel>("127.0.0.1", port, TcpChannelOptions{.credential = kSecret});
  Stub<KvService> kv(channel);
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    wait_until([&] { return server->gate.waiting() == 1; }, 5s);
    server->listener.stop();
    stopped = true;
  });
  const auto r = kv.call<KvService::Sleep>(
      {60'000}, CallOptions{.timeout = 800ms, .attempt_timeout = 200ms, .retry = RetryPolicy{.max_attempts = 3}});
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.kind(), ErrorKind::unknown_outcome) << r.error().describe();
}

TEST(TcpTransport, MissingOrWrongCredentialIsRefusedClearly) {
  TcpFixture f;
  Stub<KvService> wrong(f.channel("not-the-secret"));
  const auto r = wrong.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.kind(), ErrorKind::unauthenticated);
  EXPECT_NE(r.error().message.find("wrong credential"), std::string::npos) << r.error().message;

  Stub<KvService> none(f.channel(""));
  const auto r2 = none.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  EXPECT_EQ(r2.kind(), ErrorKind::unauthenticated);
  EXPECT_EQ(f.server.stats().refused_auth, 2u);
  EXPECT_EQ(f.server.stats().executed, 0u);

  // A connection that skips the hello is refused too.
  std::string error;
  const int fd = net::connect_to("127.0.0.1", f.listener.port(), 1s, error);
  ASSERT_GE(fd, 0) << error;
  frame::Frame request;
  request.type = frame::Type::request;
  request.request_id = 1;
  request.method = "Kv/Get";
  request.payload = R"({"key":"k"})";
  ASSERT_TRUE(net::send_frame(fd, frame::encode(request), {}));
  frame::Reader reader(1 << 20);
  char buffer[4096];
  std::optional<std::variant<frame::Frame, frame::Rejected>> item;
  while (!(item = reader.next())) {
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    ASSERT_GT(got, 0);
    reader.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
  }
  EXPECT_EQ(std::get<frame::Frame>(*item).kind, ErrorKind::unauthenticated);
  EXPECT_NE(std::get<frame::Frame>(*item).payload.find("missing credential"), std::string::npos);
  ::close(fd);
}

// Reads one frame from a raw socket.
frame::Frame read_frame(int fd, frame::Reader& reader) {
  char buffer[4096];
  for (;;) {
    if (auto item = reader.next()) return std::get<frame::Frame>(*item);
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) throw std::runtime_error("connection closed");
    reader.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
  }
}

TEST(TcpTransport, OversizedAndMalformedFramesAreRefusedAndTheServerKeepsServing) {
  TcpFixture f;
  std::string error;
  const int fd = net::connect_to("127.0.0.1", f.listener.port(), 1s, error);
  ASSERT_GE(fd, 0) << error;
  frame::Reader reader(1 << 20);
  frame::Frame hello;
  hello.type = frame::Type::hello;
  hello.payload = kSecret;
  ASSERT_TRUE(net::send_frame(fd, frame::encode(hello), {}));
  ASSERT_EQ(read_frame(fd, reader).type, frame::Type::welcome);

  frame::Frame big;
  big.type = frame::Type::request;
  big.request_id = 7;
  big.method = "Kv/Append";
  big.payload = std::string(200 * 1024, 'x');  // limit is 64 KiB
  ASSERT_TRUE(net::send_frame(fd, frame::encode(big), {}));
  const auto too_large = read_frame(fd, reader);
  EXPECT_EQ(too_large.request_id, 7u);
  EXPECT_EQ(too_large.kind, ErrorKind::too_large);

  std::string garbage = frame::encode(big).substr(0, 40);
  garbage[0] = 0, garbage[1] = 0, garbage[2] = 0, garbage[3] = 36;
  garbage[4] = 42;  // no such frame type
  garbage[15] = 8;  // request id 8
  ASSERT_TRUE(net::send_frame(fd, garbage, {}));
  const auto malformed = read_frame(fd, reader);
  EXPECT_EQ(malformed.request_id, 8u);
  EXPECT_EQ(malformed.kind, ErrorKind::bad_request);
  EXPECT_NE(malformed.payload.find("unknown frame type"), std::string::npos) << malformed.payload;

  frame::Frame good;
  good.type = frame::Type::request;
  good.request_id = 9;
  good.method = "Kv/AppendAtLeastOnce";
  good.payload = R"({"key":"k","value":"still here"})";
  ASSERT_TRUE(net::send_frame(fd, frame::encode(good), {}));
  const auto served = read_frame(fd, reader);
  EXPECT_EQ(served.request_id, 9u);
  EXPECT_EQ(served.kind, ErrorKind::ok) << served.payload;
  ::close(fd);
  // And other clients are unaffected.
  Stub<KvService> kv(f.channel());
  EXPECT_EQ(kv.call<KvService::Get>({"k"})->values, std::vector<std::string>{"still here"});
}

TEST(TcpTransport, GracefulShutdownDrainsInFlightCallsAndRefusesNewOnes) {
  TcpFixture f;
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

TEST(TcpTransport, DescribeListsTheInstalledService) {
  TcpFixture f;
  const auto d = f.server.describe();
  ASSERT_EQ(d["services"].size(), 1u);
  EXPECT_EQ(d["services"][0]["name"], "Kv");
  EXPECT_EQ(d["services"][0]["methods"][0]["semantics"], "at_most_once");
}

}  // namespace
}  // namespace homestead::rpc::testing
