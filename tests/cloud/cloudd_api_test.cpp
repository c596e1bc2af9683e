// Integration: three real cloudd processes on 127.0.0.1, exercised through the HTTP API
// exactly as a client would: writes through any member (followers forward), percent-encoded
// keys with '/', 404, CAS transactions, consistency modes, auth, field-named errors,
// exactly-once sessions, cluster status, leader transfer and membership changes.
#include <gtest/gtest.h>

#include "tests/cloud/cloud_cluster.h"

namespace homestead::cloud_testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class CloudApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions options;
    options.members = 4;
    options.voters = 3;  // member 4 joins in the membership test
    cluster_ = new CloudCluster(options);
    for (std::uint64_t id : {1, 2, 3}) cluster_->start(id);
    leader_ = cluster_->wait_for_leader(20s);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  // Leadership may move between tests (a slow machine can miss heartbeats): look again.
  void SetUp() override {
    leader_ = cluster_->wait_for_leader(20s);
    ASSERT_NE(leader_, 0u);
  }
  static std::uint64_t follower() { return leader_ == 1 ? 2 : 1; }
  // A request answered 503 was certainly not applied (e.g. an election was under way): retry.
  static HttpAnswer call(std::uint64_t id, const std::string& method, const std::string& path,
                         const json& body = nullptr, const httplib::Headers& extra = {}) {
    HttpAnswer answer;
    testing::wait_until(
        [&] {
          answer = cluster_->request(id, method, path, body, extra);
          return answer.status != 503 && answer.status != 0;
        },
        10s, 50ms);
    return answer;
  }

  static CloudCluster* cluster_;
  static std::uint64_t leader_;
};
CloudCluster* CloudApi::cluster_ = nullptr;
std::uint64_t CloudApi::leader_ = 0;

TEST_F(CloudApi, ElectsOneLeaderAndReportsTheCluster) {
  ASSERT_NE(leader_, 0u);
  const auto st = cluster_->cluster_status(follower());
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["leader"], leader_);
  EXPECT_EQ((*st)["role"], "follower");
  EXPECT_EQ((*st)["members"].size(), 3u);
  EXPECT_GE((*st)["term"].get<std::uint64_t>(), 1u);
  for (const auto& m : (*st)["members"]) EXPECT_EQ(m["role"], "voter");
}

TEST_F(CloudApi, PutThroughFollowerThenGetFromEveryMember) {
  // The key has '/', a space and a '%' in it: percent-encoded in the path.
  const auto put = call(follower(), "PUT", "/api/v1/kv/homes%2Fh1/dev%201%25", json{{"value", "on"}});
  ASSERT_EQ(put.status, 200) << put.body.dump();
  EXPECT_EQ(put.body["key"], "homes/h1/dev 1%");
  const auto revision = put.body["revision"].get<std::uint64_t>();
  for (auto id : {1, 2, 3}) {
    const auto get = call(id, "GET", "/api/v1/kv/homes%2Fh1%2Fdev%201%25");
    ASSERT_EQ(get.status, 200) << "member " << id << ": " << get.body.dump();
    EXPECT_EQ(get.body["value"], "on");
    EXPECT_EQ(get.body["revision"], revision);
  }
  const auto missing = call(follower(), "GET", "/api/v1/kv/no%2Fsuch");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["key"], "no/such");
}

// A follower hands the write to the leader over the Raft peer link and answers once it has
// applied the entry itself, so its own serializable read sees the write at once.
TEST_F(CloudApi, WriteThroughFollowerIsVisibleThereAtOnce) {
  for (int i = 0; i < 20; ++i) {
    const std::string key = "/api/v1/kv/ryw-" + std::to_string(i);
    const auto put = call(follower(), "PUT", key, json{{"value", "v" + std::to_string(i)}});
    ASSERT_EQ(put.status, 200) << put.body.dump();
    const auto got = call(follower(), "GET", key + "?consistency=serializable");
    ASSERT_EQ(got.status, 200) << got.body.dump();
    EXPECT_EQ(got.body["value"], "v" + std::to_string(i));
  }
}

TEST_F(CloudApi, DeleteRemovesTheKey) {
  ASSERT_EQ(call(leader_, "PUT", "/api/v1/kv/del-me", json{{"value", "x"}}).status, 200);
  const auto del = call(follower(), "DELETE", "/api/v1/kv/del-me");
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(del.body["deleted"], 1);
  EXPECT_EQ(call(leader_, "GET", "/api/v1/kv/del-me").status, 404);
  EXPECT_EQ(call(leader_, "DELETE", "/api/v1/kv/del-me").body["deleted"], 0);
}

TEST_F(CloudApi, CompareAndSwapSucceedsOnceThenFails) {
  const auto put = call(leader_, "PUT", "/api/v1/kv/lock", json{{"value", "free"}});
  ASSERT_EQ(put.status, 200);
  const json txn{{"compare", {{{"key", "lock"}, {"value", "free"}}}},
                 {"success", {{{"put", {{"key", "lock"}, {"value", "taken"}}}}}},
                 {"failure", json::array()}};
  const auto first = call(follower(), "POST", "/api/v1/kv/txn", txn);
  ASSERT_EQ(first.status, 200) << first.body.dump();
  EXPECT_EQ(first.body["succeeded"], true);
  const auto second = call(follower(), "POST", "/api/v1/kv/txn", txn);
  EXPECT_EQ(second.body["succeeded"], false);
  EXPECT_EQ(call(leader_, "GET", "/api/v1/kv/lock").body["value"], "taken");
  // mod_revision compare: 0 means "must not exist".
  const json create{{"compare", {{{"key", "fresh"}, {"mod_revision", 0}}}},
                    {"success", {{{"put", {{"key", "fresh"}, {"value", "1"}}}}}}};
  EXPECT_EQ(call(leader_, "POST", "/api/v1/kv/txn", create).body["succeeded"], true);
  EXPECT_EQ(call(leader_, "POST", "/api/v1/kv/txn", create).body["succeeded"], false);
}

TEST_F(CloudApi, ConsistencyModesAndPrefixRange) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(call(leader_, "PUT", "/api/v1/kv/range%2F" + std::to_string(i), json{{"value", "v"}}).status,
              200);
  }
  const auto lin = call(follower(), "GET", "/api/v1/kv/range%2F2?consistency=linearizable");
  EXPECT_EQ(lin.status, 200);
  EXPECT_EQ(call(follower(), "GET", "/api/v1/kv/range%2F2?consistency=serializable").status, 200);
  const auto bad = call(follower(), "GET", "/api/v1/kv/x?consistency=eventual");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"].get<std::string>().find("consistency"), std::string::npos);
  const auto range = call(follower(), "GET", "/api/v1/kv?prefix=range%2F");
  ASSERT_EQ(range.status, 200);
  ASSERT_EQ(range.body["kvs"].size(), 3u);
  EXPECT_EQ(range.body["kvs"][0]["key"], "range/0");
  EXPECT_EQ(range.body["kvs"][2]["key"], "range/2");
}

TEST_F(CloudApi, AuthIsRequiredExceptPing) {
  httplib::Client anonymous("127.0.0.1", cluster_->http_port(leader_));
  auto denied = anonymous.Get("/api/v1/kv/x");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  anonymous.set_bearer_token_auth("wrong-token");
  denied = anonymous.Put("/api/v1/kv/x", R"({"value":"v"})", "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto ping = anonymous.Get("/ping");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->status, 200);
}

TEST_F(CloudApi, BadBodiesAreRejectedNamingTheField) {
  auto a = call(leader_, "PUT", "/api/v1/kv/x", json{{"valu", "v"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["error"], "field 'value' is required");
  a = call(leader_, "POST", "/api/v1/kv/txn", json{{"success", {{{"put", {{"key", 5}}}}}}});
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.body["error"].get<std::string>().find("success[0].put.key"), std::string::npos) << a.body.dump();
  a = call(leader_, "PUT", "/api/v1/kv/x", json{{"value", "v"}}, {{"X-Client-Id", "abc"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.body["error"].get<std::string>().find("X-Client-Id"), std::string::npos);
}

TEST_F(CloudApi, SessionRetryIsAppliedExactlyOnce) {
  const httplib::Headers session{{"X-Client-Id", "4242"}, {"X-Request-Seq", "1"}};
  const auto first = call(follower(), "PUT", "/api/v1/kv/once", json{{"value", "a"}}, session);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(call(leader_, "PUT", "/api/v1/kv/once", json{{"value", "b"}}).status, 200);
  // The retry (same client and sequence) must not overwrite "b" and answers as the first did.
  const auto retry = call(leader_, "PUT", "/api/v1/kv/once", json{{"value", "a"}}, session);
  ASSERT_EQ(retry.status, 200);
  EXPECT_EQ(retry.body["revision"], first.body["revision"]);
  EXPECT_EQ(call(leader_, "GET", "/api/v1/kv/once").body["value"], "b");
}

TEST_F(CloudApi, TransferLeaderMovesLeadership) {
  const std::uint64_t target = leader_ == 3 ? 2 : 3;
  const auto moved = call(follower(), "POST", "/api/v1/cluster/transfer-leader", json{{"to", target}});
  ASSERT_EQ(moved.status, 200) << moved.body.dump();
  EXPECT_EQ(moved.body["leader"], target);
  leader_ = cluster_->wait_for_leader(10s);
  EXPECT_EQ(leader_, target);
  EXPECT_EQ(call(follower(), "PUT", "/api/v1/kv/after-transfer", json{{"value", "ok"}}).status, 200);
}

TEST_F(CloudApi, AddsALearnerThatCatchesUpAndIsPromotedThenRemovesIt) {
  ASSERT_EQ(call(leader_, "PUT", "/api/v1/kv/before-join", json{{"value", "old"}}).status, 200);
  cluster_->start(4);
  const json request{{"id", 4},
                     {"peer", "127.0.0.1:" + std::to_string(cluster_->peer_port(4))},
                     {"http", "127.0.0.1:" + std::to_string(cluster_->http_port(4))}};
  const auto added = call(follower(), "POST", "/api/v1/cluster/members", request);
  ASSERT_EQ(added.status, 200) << added.body.dump();
  // Caught up: member 4 serves the old key, and the leader promotes it to voter.
  EXPECT_TRUE(testing::wait_until(
      [&] {
        const auto st = cluster_->cluster_status(leader_);
        if (!st) return false;
        for (const auto& m : (*st)["members"]) {
          if (m["id"] == 4 && m["role"] == "voter") return true;
        }
        return false;
      },
      20s));
  const auto read = call(4, "GET", "/api/v1/kv/before-join?consistency=serializable");
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.body["value"], "old");
  const auto removed = call(4, "DELETE", "/api/v1/cluster/members/4");
  ASSERT_EQ(removed.status, 200) << removed.body.dump();
  EXPECT_TRUE(testing::wait_until(
      [&] {
        const auto st = cluster_->cluster_status(leader_);
        return st && (*st)["members"].size() == 3u;
      },
      10s));
  EXPECT_EQ(call(leader_, "PUT", "/api/v1/kv/after-remove", json{{"value", "ok"}}).status, 200);
}

}  // namespace
}  // namespace homestead::cloud_testing
