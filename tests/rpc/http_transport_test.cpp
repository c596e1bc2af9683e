// What only the http transport does, on 127.0.0.1: content negotiation, keep-alive
// connection reuse past httplib's default count, GET /rpc/v1/_describe, status codes and
// X-Rpc-Error on refusals, oversized and malformed bodies, connections beyond the thread
// pool, and the SO_REUSEPORT pitfall. Raw requests go through a plain httplib client so the
// wire contract (http_protocol.h) is checked, not only our own client. The contract shared
// with tcp is in transport_contract_test.cpp.
#include <gtest/gtest.h>
#include <httplib.h>

#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <set>
#include <thread>

#include "cloud/rpc/http_channel.h"
#include "cloud/rpc/http_protocol.h"
#include "cloud/rpc/http_server.h"
#include "cloud/rpc/socket.h"
#include "cloud/rpc/stub.h"
#include "tests/rpc/transport_fixture.h"
#include "tests/support/process.h"

namespace homestead::rpc::testing {
namespace {

using namespace std::chrono_literals;
using homestead::testing::wait_until;

constexpr const char* kSecret = KvServer::kSecret;

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
  static ServerOptions base_options() { return KvServer::base_options(); }
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

TEST(HttpTransport, CredentialRefusalsAre401WithAReason) {
  HttpFixture f;
  Stub<KvService> wrong(f.channel("not-the-secret"));
  const auto r = wrong.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  EXPECT_EQ(r.kind(), ErrorKind::unauthenticated);
  EXPECT_EQ(r.error().message, "wrong credential");
  Stub<KvService> none(f.channel(""));
  const auto r2 = none.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
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

// A stand-in for a proxy in front of the server: answers one request per connection with a
// canned response, so the client's handling of chunked bodies, Connection: close and foreign
// error statuses is checked against bytes we control.
class CannedServer {
 public:
  explicit CannedServer(std::vector<std::string> responses)
      : fd_(net::listen_on("127.0.0.1", 0)), thread_([this, responses] {
          for (const auto& response : responses) {
            const int client = ::accept(fd_, nullptr, nullptr);
            if (client < 0) return;
            std::string request;
            char buffer[4096];
            // Headers, then the body by its Content-Length.
            while (request.find("\r\n\r\n") == std::string::npos) {
              const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
              if (got <= 0) break;
              request.append(buffer, static_cast<std::size_t>(got));
            }
            const auto length_at = request.find("Content-Length: ");
            const std::size_t length = std::stoul(request.substr(length_at + 16));
            while (request.size() < request.find("\r\n\r\n") + 4 + length) {
              const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
              if (got <= 0) break;
              request.append(buffer, static_cast<std::size_t>(got));
            }
            requests.push_back(request);
            net::send_frame(client, response, {});
            ::close(client);  // every canned response ends its connection
          }
        }) {}
  ~CannedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return net::local_port(fd_); }
  std::vector<std::string> requests;

 private:
  int fd_;
  std::thread thread_;
};

std::string chunk_size(std::size_t size) {
  char text[32];
  std::snprintf(text, sizeof text, "%zx", size);  // chunk sizes are hexadecimal
  return text;
}

TEST(HttpTransport, ClientReadsChunkedBodiesAndForeignErrorStatuses) {
  const std::string body = R"({"values":["a","b"]})";
  CannedServer canned({"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                       "Connection: close\r\n\r\n5\r\n" + body.substr(0, 5) + "\r\n" +
                           chunk_size(body.size() - 5) + "\r\n" + body.substr(5) + "\r\n0\r\n\r\n",
                       "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad gateway",
                       "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"});
  auto channel = std::make_shared<HttpChannel>("127.0.0.1", canned.port(), HttpChannelOptions{.credential = kSecret});
  Stub<KvService> kv(channel, StubOptions{.codec = Codec::json});
  const auto chunked = kv.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  ASSERT_TRUE(chunked.ok()) << chunked.error().describe();
  EXPECT_EQ(chunked->values, (std::vector<std::string>{"a", "b"}));
  // A proxy's 502 without X-Rpc-Error: something answered, the call may have run.
  const auto gateway = kv.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  EXPECT_EQ(gateway.kind(), ErrorKind::unknown_outcome);
  EXPECT_NE(gateway.error().message.find("HTTP 502"), std::string::npos) << gateway.error().message;
  const auto too_large = kv.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  EXPECT_EQ(too_large.kind(), ErrorKind::too_large);
  // What went out: one request per call, with our headers and no Accept-Encoding.
  ASSERT_EQ(canned.requests.size(), 3u);
  EXPECT_EQ(canned.requests[0].rfind("POST /rpc/v1/Kv/Get HTTP/1.1\r\n", 0), 0u) << canned.requests[0];
  EXPECT_NE(canned.requests[0].find("Authorization: Bearer test-cluster-secret\r\n"), std::string::npos);
  EXPECT_NE(canned.requests[0].find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(canned.requests[0].find("Accept-Encoding"), std::string::npos);
  EXPECT_NE(canned.requests[0].find("\r\n\r\n{\"key\":\"k\"}"), std::string::npos) << canned.requests[0];
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
