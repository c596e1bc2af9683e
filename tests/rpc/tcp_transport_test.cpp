// What only the tcp transport does, on 127.0.0.1: pipelining with out-of-order replies on
// one connection, retries after an unknown outcome, the hello handshake, oversized and
// malformed frames. The contract shared with http is in transport_contract_test.cpp.
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
#include "tests/rpc/transport_fixture.h"
#include "tests/support/process.h"

namespace homestead::rpc::testing {
namespace {

using namespace std::chrono_literals;
using homestead::testing::wait_until;

constexpr const char* kSecret = KvServer::kSecret;

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
  static ServerOptions base_options() { return KvServer::base_options(); }
  std::shared_ptr<TcpChannel> channel(std::string credential = kSecret) {
    return std::make_shared<TcpChannel>("127.0.0.1", listener.port(), TcpChannelOptions{.credential = credential});
  }
};

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

TEST(TcpTransport, AConnectionThatSkipsTheHelloIsRefused) {
  TcpFixture f;
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

TEST(TcpTransport, DescribeListsTheInstalledService) {
  TcpFixture f;
  const auto d = f.server.describe();
  ASSERT_EQ(d["services"].size(), 1u);
  EXPECT_EQ(d["services"][0]["name"], "Kv");
  EXPECT_EQ(d["services"][0]["methods"][0]["semantics"], "at_most_once");
}

}  // namespace
}  // namespace homestead::rpc::testing
