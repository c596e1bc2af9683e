// Integration: cloudd's epoll HTTP front end (config "http_frontend": "epoll") against three
// real cloudd processes on 127.0.0.1, over raw sockets where the byte stream matters:
// keep-alive with many requests, pipelining (answers in request order, KV and other routes
// mixed), a client sending byte by byte (others are served meanwhile), clients hanging up
// with a put in flight, 64 concurrent connections, the non-KV routes through the worker
// pool, auth, malformed requests, "Expect: 100-continue".
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "tests/cloud/cloud_cluster.h"
#include "tests/cloud/raw_http_client.h"

namespace homestead::cloud_testing {
namespace {

using testing::RawClient;

using nlohmann::json;
using namespace std::chrono_literals;

std::string put_request(const std::string& token, const std::string& encoded_key, const std::string& value,
                        const std::string& extra_headers = "") {
  const std::string body = json{{"value", value}}.dump();
  return "PUT /api/v1/kv/" + encoded_key + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\n" + extra_headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string get_request(const std::string& token, const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n";
}

class HttpFrontend : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // cloudd takes the default front end from the environment when its config does not say.
    ::setenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND", "epoll", 1);
    ClusterOptions options;
    options.members = 3;
    options.http_threads = 8;  // the pool serves only the non-KV routes: few threads suffice
    cluster_ = new CloudCluster(options);
    cluster_->start_all();
    leader_ = cluster_->wait_for_leader(20s);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    ::unsetenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND");
  }
  void SetUp() override {
    leader_ = cluster_->wait_for_leader(20s);
    ASSERT_NE(leader_, 0u);
  }
  static std::uint64_t follower() { return leader_ == 1 ? 2 : 1; }
  static int port(std::uint64_t id) { return cluster_->http_port(id); }
  static const std::string& token() { return cluster_->token(); }
  // The member still serves: a put and a linearizable get of it on a fresh connection.
  static void expect_serving(std::uint64_t id, const std::string& key) {
    const HttpAnswer put = cluster_->request(id, "PUT", "/api/v1/kv/" + key, {{"value", "still-here"}});
    ASSERT_EQ(put.status, 200) << put.body.dump();
    const HttpAnswer got = cluster_->request(id, "GET", "/api/v1/kv/" + key);
    ASSERT_EQ(got.status, 200);
    EXPECT_EQ(got.body["value"], "still-here");
  }

  static CloudCluster* cluster_;
  static std::uint64_t leader_;
};
CloudCluster* HttpFrontend::cluster_ = nullptr;
std::uint64_t HttpFrontend::leader_ = 0;

TEST_F(HttpFrontend, KeepAliveConnectionServesManyRequestsOnLeaderAndFollower) {
  for (const std::uint64_t id : {leader_, follower()}) {
    auto client = make_client(port(id), token());
    std::uint64_t last_revision = 0;
    for (int i = 0; i < 150; ++i) {
      const std::string key = "ka/" + std::to_string(id) + "/" + std::to_string(i);
      auto put = client->Put(("/api/v1/kv/" + key).c_str(), json{{"value", "v" + std::to_string(i)}}.dump(),
                             "application/json");
      ASSERT_TRUE(put) << "put " << i << " on member " << id;
      ASSERT_EQ(put->status, 200) << put->body;
      const json body = json::parse(put->body);
      EXPECT_EQ(body["key"], key);
      EXPECT_GT(body["revision"].get<std::uint64_t>(), last_revision);
      last_revision = body["revision"].get<std::uint64_t>();
      auto got = client->Get(("/api/v1/kv/" + key).c_str());
      ASSERT_TRUE(got);
      ASSERT_EQ(got->status, 200);
      EXPECT_EQ(json::parse(got->body)["value"], "v" + std::to_string(i));
    }
  }
}

TEST_F(HttpFrontend, PipelinedRequestsAreAnsweredInOrder) {
  RawClient c(port(leader_));
  ASSERT_TRUE(c.connected());
  // KV writes, reads, a missing key, a list and the cluster status (worker pool) and /ping,
  // all in one write: the answers must come back in exactly this order.
  std::string all;
  for (int i = 0; i < 10; ++i) all += put_request(token(), "pipe%2F" + std::to_string(i), "p" + std::to_string(i));
  all += get_request(token(), "/api/v1/kv/pipe/3");
  all += get_request(token(), "/ping");
  all += get_request(token(), "/api/v1/kv/pipe/missing?consistency=serializable");
  all += get_request(token(), "/api/v1/cluster");
  all += get_request(token(), "/api/v1/kv?prefix=pipe/");
  all += put_request(token(), "pipe%2Flast", "end");
  ASSERT_TRUE(c.send_all(all));
  for (int i = 0; i < 10; ++i) {
    const auto r = c.read_response();
    ASSERT_EQ(r.status, 200) << "put " << i << ": " << r.head << r.body;
    EXPECT_EQ(json::parse(r.body)["key"], "pipe/" + std::to_string(i));
  }
  auto r = c.read_response();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["value"], "p3");
  r = c.read_response();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "pong\n");
  r = c.read_response();
  ASSERT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["key"], "pipe/missing");
  r = c.read_response();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["leader"], leader_);
  r = c.read_response();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["kvs"].size(), 10u);
  r = c.read_response();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["key"], "pipe/last");
}

TEST_F(HttpFrontend, ASlowClientSendingByteByByteIsServedAndBlocksNobody) {
  RawClient slow(port(leader_));
  ASSERT_TRUE(slow.connected());
  const std::string request = put_request(token(), "slow%2Fkey", "slowly");
  const std::size_t half = request.size() / 2;
  // Each byte leaves in its own segment (TCP_NODELAY) and is acknowledged before the next.
  for (std::size_t i = 0; i < half; ++i) {
    ASSERT_TRUE(slow.send_all(std::string_view(request).substr(i, 1)));
    ASSERT_TRUE(slow.wait_acknowledged());
  }
  // Half a request is pending on the event thread: other connections are still served.
  expect_serving(leader_, "slow/other");
  for (std::size_t i = half; i < request.size(); ++i) {
    ASSERT_TRUE(slow.send_all(std::string_view(request).substr(i, 1)));
    ASSERT_TRUE(slow.wait_acknowledged());
  }
  const auto r = slow.read_response();
  ASSERT_EQ(r.status, 200) << r.head << r.body;
  EXPECT_EQ(json::parse(r.body)["key"], "slow/key");
  EXPECT_EQ(cluster_->request(leader_, "GET", "/api/v1/kv/slow/key").body["value"], "slowly");
}

TEST_F(HttpFrontend, ClientsHangingUpWithAPutInFlightDoNotHurtTheServer) {
  // Half of them close (FIN), half reset, right after sending: the answer finds the
  // connection gone (on the leader, and on a follower where the write travels to the leader).
  for (const std::uint64_t id : {leader_, follower()}) {
    for (int i = 0; i < 40; ++i) {
      RawClient c(port(id));
      ASSERT_TRUE(c.connected());
      ASSERT_TRUE(c.send_all(put_request(token(), "gone%2F" + std::to_string(id) + "%2F" + std::to_string(i), "x")));
      if (i % 2 == 0) {
        c.close();
      } else {
        c.reset();
      }
    }
  }
  for (const std::uint64_t id : {1, 2, 3}) {
    EXPECT_TRUE(cluster_->running(id)) << cluster_->log_tail(id);
    expect_serving(id, "gone/after/" + std::to_string(id));
  }
}

TEST_F(HttpFrontend, SixtyFourConcurrentConnectionsAllGetTheirAnswers) {
  constexpr int kClients = 64;
  constexpr int kPuts = 15;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      auto client = make_client(port(static_cast<std::uint64_t>(t % 3 + 1)), token(), 10000);
      for (int i = 0; i < kPuts; ++i) {
        const std::string key = "c64/" + std::to_string(t) + "/" + std::to_string(i);
        auto r = client->Put(("/api/v1/kv/" + key).c_str(), json{{"value", key}}.dump(), "application/json");
        if (r && r->status == 200 && json::parse(r->body)["key"] == key) {
          ++ok;
        } else {
          failures[t] = r ? std::to_string(r->status) + " " + r->body : "no answer";
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kClients; ++t) EXPECT_EQ(failures[t], "") << "client " << t;
  EXPECT_EQ(ok.load(), kClients * kPuts);
  const HttpAnswer list = cluster_->request(leader_, "GET", "/api/v1/kv?prefix=c64/");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["kvs"].size(), static_cast<std::size_t>(kClients * kPuts));
}

TEST_F(HttpFrontend, OtherRoutesAreServedThroughTheWorkerPool) {
  const HttpAnswer txn = cluster_->request(
      leader_, "POST", "/api/v1/kv/txn",
      {{"compare", json::array({{{"key", "route/txn"}, {"mod_revision", 0}}})},
       {"success", json::array({{{"put", {{"key", "route/txn"}, {"value", "t"}}}}})}});
  ASSERT_EQ(txn.status, 200) << txn.body.dump();
  EXPECT_EQ(txn.body["succeeded"], true);
  EXPECT_EQ(cluster_->request(follower(), "GET", "/api/v1/kv/route/txn").body["value"], "t");
  const auto st = cluster_->cluster_status(follower());
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["leader"], leader_);
  const HttpAnswer bad = cluster_->request(leader_, "POST", "/api/v1/cluster/members", {{"id", 0}});
  EXPECT_EQ(bad.status, 400);
  // A body the KV route rejects names the field, as under httplib.
  const HttpAnswer no_value = cluster_->request(leader_, "PUT", "/api/v1/kv/route/x", {{"valu", "x"}});
  EXPECT_EQ(no_value.status, 400);
  EXPECT_EQ(no_value.body["error"], "field 'value' is required");
  const HttpAnswer bad_seq = cluster_->request(leader_, "PUT", "/api/v1/kv/route/x", {{"value", "x"}},
                                               {{"X-Client-Id", "7"}});
  EXPECT_EQ(bad_seq.status, 400);
  RawClient c(port(leader_));
  ASSERT_TRUE(c.send_all(get_request(token(), "/metrics")));
  const auto metrics = c.read_response();
  EXPECT_EQ(metrics.status, 200);
  EXPECT_FALSE(metrics.body.empty());
}

TEST_F(HttpFrontend, ExactlyOnceSessionsHoldOnTheFastPath) {
  const httplib::Headers session{{"X-Client-Id", "4242"}, {"X-Request-Seq", "1"}};
  const HttpAnswer first = cluster_->request(follower(), "PUT", "/api/v1/kv/session/k", {{"value", "one"}}, session);
  ASSERT_EQ(first.status, 200) << first.body.dump();
  // A retry with the same sequence returns the first answer without applying "two".
  const HttpAnswer retry = cluster_->request(leader_, "PUT", "/api/v1/kv/session/k", {{"value", "two"}}, session);
  ASSERT_EQ(retry.status, 200) << retry.body.dump();
  EXPECT_EQ(retry.body["revision"], first.body["revision"]);
  EXPECT_EQ(cluster_->request(leader_, "GET", "/api/v1/kv/session/k").body["value"], "one");
}

TEST_F(HttpFrontend, RequestsWithoutTheTokenAreRefused) {
  for (const std::string& target : {std::string("/api/v1/kv/secret"), std::string("/api/v1/cluster")}) {
    RawClient c(port(leader_));
    ASSERT_TRUE(c.send_all("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 401) << target;
    EXPECT_NE(r.head.find("WWW-Authenticate: Bearer"), std::string::npos) << r.head;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "unauthorized");
  }
  RawClient wrong(port(leader_));
  ASSERT_TRUE(wrong.send_all(put_request("not-the-token", "secret", "x")));
  EXPECT_EQ(wrong.read_response().status, 401);
  EXPECT_EQ(cluster_->request(leader_, "GET", "/api/v1/kv/secret").status, 404);  // never written
}

TEST_F(HttpFrontend, MalformedRequestsGetAStatusAndTheConnectionCloses) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"NOT HTTP AT ALL\r\n\r\n", 400},
      {"PUT /api/v1/kv/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411},
      {"GET /x HTTP/3.0\r\n\r\n", 505},
      {"GET /x HTTP/1.1\r\n" + std::string(70 * 1024, 'a') + "\r\n\r\n", 431},
  };
  for (const auto& [request, status] : cases) {
    RawClient c(port(leader_));
    ASSERT_TRUE(c.send_all(request));
    const auto r = c.read_response();
    EXPECT_EQ(r.status, status) << request.substr(0, 40);
    EXPECT_TRUE(json::parse(r.body).contains("error"));
    EXPECT_TRUE(c.at_eof()) << request.substr(0, 40);
  }
  expect_serving(leader_, "after/malformed");
}

TEST_F(HttpFrontend, ExpectContinueAndHttp10AreHonoured) {
  RawClient c(port(leader_));
  const std::string body = json{{"value", "continued"}}.dump();
  ASSERT_TRUE(c.send_all("PUT /api/v1/kv/expect HTTP/1.1\r\nAuthorization: Bearer " + token() +
                         "\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  const auto interim = c.read_response();
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.send_all(body));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200) << r.head << r.body;
  // HTTP/1.0 without keep-alive: one answer, then the server closes.
  RawClient old(port(leader_));
  ASSERT_TRUE(old.send_all("GET /api/v1/kv/expect HTTP/1.0\r\nAuthorization: Bearer " + token() + "\r\n\r\n"));
  const auto answer = old.read_response();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(json::parse(answer.body)["value"], "continued");
  EXPECT_TRUE(old.at_eof());
}

}  // namespace
}  // namespace homestead::cloud_testing
