// Integration (issue 10 item 4): gateways as snapshot participants, over their Sync calls.
// Three real cloudd; two gateways registered through the admin API and driven by this test
// (not gatewayd: see cloud/snapshot/README.md) with the gateway's own snapshot agent
// (gateway/snapshot_agent.*): they push outbox batches to the leader as fast as it applies
// them, stamping each Sync call and reading the cloud's stamp off each reply, send the
// explicit marker Pulls and ship their parts. A snapshot started on a follower completes
// with all five participants; the test recomputes the channel equations for all ten
// channels and the outbox equations: no member applied beyond what a gateway had pushed
// before its cut, and some member had applied what the gateway was told at its cut.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "cloud/rpc/message_codec.h"
#include "cloud/services/sync_api.h"
#include "cloud/snapshot/stamp_codec.h"
#include "gateway/snapshot_agent.h"
#include "tests/cloud/cloud_cluster.h"

namespace homestead::cloud_testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string url_of(CloudCluster& cluster, std::uint64_t member) {
  return "127.0.0.1:" + std::to_string(cluster.http_port(member));
}

// One simulated gateway: a Sync client with the snapshot agent wired in the way gatewayd's
// sync client is (gateway/snapshot_channel.*), speaking MessagePack like gatewayd's stub.
class SimGateway {
 public:
  SimGateway(CloudCluster& cluster, std::string home, std::string id, std::string token)
      : cluster_(cluster), home_(std::move(home)), id_(std::move(id)), token_(std::move(token)), agent_(home_, id_) {
    thread_ = std::thread([this] { run(); });
  }
  ~SimGateway() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t applied() const { return applied_; }
  std::uint64_t parts_shipped() const { return parts_shipped_; }
  const std::string& process() const { return agent_.process(); }
  std::string last_error() const {
    std::lock_guard lock(error_mutex_);
    return last_error_;
  }

 private:
  httplib::Client& client(const std::string& url) {
    auto& slot = clients_[url];
    if (!slot) {
      slot = std::make_unique<httplib::Client>("http://" + url);
      slot->set_tcp_nodelay(true);
      slot->set_read_timeout(5, 0);
    }
    return *slot;
  }

  // One stamped Sync call; returns applied_through from the reply (stamp removed) or nullopt.
  template <class Reply, class Request>
  std::optional<std::uint64_t> call(const std::string& url, const std::string& method, const Request& request,
                                    std::uint64_t push_last_seq) {
    const std::string path = "/rpc/v1/Sync/" + method + "?" + agent_.stamp_request(url, push_last_seq);
    auto res = client(url).Post(path.c_str(), {{"Authorization", "Bearer " + token_}},
                                rpc::encode_message(request, rpc::Codec::msgpack), "application/msgpack");
    if (!res || res->status != 200) {
      std::lock_guard lock(error_mutex_);
      last_error_ = method + ": " + (res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error()));
      return std::nullopt;
    }
    std::string body = res->body;
    const std::string stamp = snapshot::strip_stamp_field_msgpack(body);
    Reply reply;
    try {
      reply = rpc::decode_message<Reply>(body, rpc::Codec::msgpack);
    } catch (const std::exception& e) {
      std::lock_guard lock(error_mutex_);
      last_error_ = method + ": bad reply: " + e.what();
      return std::nullopt;
    }
    if (stamp.empty()) {
      std::lock_guard lock(error_mutex_);
      last_error_ = method + ": reply without a stamp";
    } else {
      agent_.on_reply(url, stamp, reply.applied_through);
    }
    return reply.applied_through;
  }

  void pull(const std::string& url) {
    call<sync_api::PullReply>(url, "Pull", sync_api::PullRequest{home_, id_, 0, 1}, 0);
  }

  void run() {
    std::string leader = url_of(cluster_, cluster_.wait_for_leader(20s));
    for (std::uint64_t round = 0; !stop_; ++round) {
      for (const auto& url : agent_.take_marker_urls()) pull(url);
      sync_api::PushRequest push{home_, id_, {}};
      const std::uint64_t first = applied_ + 1;
      for (std::uint64_t seq = first; seq < first + 10; ++seq) {
        push.items.push_back({seq, "reported", static_cast<std::int64_t>(1000 + seq),
                              json{{"device", "d" + std::to_string(seq % 3)}, {"state", {{"n", seq}}}}.dump()});
      }
      const auto applied = call<sync_api::PushReply>(leader, "Push", push, first + 9);
      if (applied) {
        applied_ = *applied;
      } else {
        const auto now = cluster_.wait_for_leader(5s);
        if (now != 0) leader = url_of(cluster_, now);
      }
      if (round % 5 == 0) pull(leader);
      for (const auto& part : agent_.take_finished_parts()) {
        const std::string path = "/api/v1/snapshots/" + part["id"].get<std::string>() + "/parts";
        auto res = client(leader).Post(path.c_str(), {{"Authorization", "Bearer " + token_}}, part.dump(),
                                       "application/json");
        if (res && res->status == 204) ++parts_shipped_;
      }
    }
  }

  CloudCluster& cluster_;
  std::string home_, id_, token_;
  gateway::GatewaySnapshotAgent agent_;
  std::map<std::string, std::unique_ptr<httplib::Client>> clients_;
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> parts_shipped_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex error_mutex_;
  std::string last_error_;
  std::thread thread_;
};

json admin(CloudCluster& cluster, const std::string& method, const std::string& path, const json& body) {
  HttpAnswer answer;
  testing::wait_until(
      [&] {
        answer = cluster.request(cluster.wait_for_leader(10s), method, path, body);
        return answer.status != 0 && answer.status != 503;
      },
      20s, 50ms);
  EXPECT_EQ(answer.status, 201) << path << ": " << answer.body.dump();
  return answer.body;
}

TEST(LiveSnapshotGateways, TwoGatewaysAndThreeMembersUnderSyncLoad) {
  CloudCluster cluster(ClusterOptions{});
  cluster.start_all();
  const auto leader = cluster.wait_for_leader(20s);
  ASSERT_NE(leader, 0u);
  admin(cluster, "POST", "/api/v1/homes", {{"id", "snap"}});
  const std::string token1 = admin(cluster, "POST", "/api/v1/homes/snap/gateways", {{"id", "gw1"}}).value("token", "");
  const std::string token2 = admin(cluster, "POST", "/api/v1/homes/snap/gateways", {{"id", "gw2"}}).value("token", "");
  ASSERT_FALSE(token1.empty());
  SimGateway gw1(cluster, "snap", "gw1", token1);
  SimGateway gw2(cluster, "snap", "gw2", token2);
  ASSERT_TRUE(testing::wait_until([&] { return gw1.applied() > 50 && gw2.applied() > 50; }, 30s, 10ms))
      << "sync load did not start: " << gw1.applied() << ", " << gw2.applied() << "; last error " << gw1.last_error();

  const std::uint64_t follower = leader == 1 ? 2 : 1;
  const auto started = cluster.request(follower, "POST", "/api/v1/snapshots");
  ASSERT_EQ(started.status, 202) << started.body.dump();
  const std::string id = started.body["id"];
  json report;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const auto answer = cluster.request(3, "GET", "/api/v1/snapshots/" + id);
        report = answer.body;
        return answer.status == 200 && report["status"] == "complete";
      },
      30s, 50ms))
      << report.dump();
  const auto applied_at_complete = gw1.applied();
  EXPECT_TRUE(testing::wait_until([&] { return gw1.applied() > applied_at_complete + 20; }, 20s, 10ms))
      << "pushes stopped after the snapshot";
  gw1.stop();
  gw2.stop();

  const std::set<std::string> expected{"cloud-1", "cloud-2", "cloud-3", "gateway:snap/gw1", "gateway:snap/gw2"};
  std::set<std::string> participants;
  for (const auto& [name, part] : report["participants"].items()) participants.insert(name);
  EXPECT_EQ(participants, expected) << report.dump();
  EXPECT_TRUE(report["consistency"]["consistent"].get<bool>()) << report["consistency"].dump();

  // Channel equations, for every channel of the report (Raft and Sync alike).
  std::set<std::pair<std::string, std::string>> gateway_channels;
  for (const auto& channel : report["channels"]) {
    const std::string from = channel["from"], to = channel["to"];
    if (from.rfind("gateway:", 0) == 0 || to.rfind("gateway:", 0) == 0) gateway_channels.insert({from, to});
    EXPECT_TRUE(channel["closed"].get<bool>()) << channel.dump();
    const std::uint64_t sent = report["participants"][from]["sent_through"].value(to, std::uint64_t{0});
    EXPECT_EQ(channel["sender_cut_seq"].get<std::uint64_t>(), sent) << from << "->" << to;
    EXPECT_EQ(channel["received_before_cut"].get<std::uint64_t>() + channel["in_flight"].size() + channel["lost"].size(), sent)
        << from << "->" << to << ": " << channel.dump();
  }
  const std::string leader_name = "cloud-" + std::to_string(leader);
  for (const std::string gw : {"gateway:snap/gw1", "gateway:snap/gw2"}) {
    EXPECT_TRUE(gateway_channels.count({gw, leader_name})) << gw << " -> " << leader_name << " missing";
    EXPECT_TRUE(gateway_channels.count({leader_name, gw})) << leader_name << " -> " << gw << " missing";
    // Outbox equations, recomputed here.
    const json& state = report["participants"][gw]["state"];
    const std::uint64_t pushed = state["pushed_through"], acked = state["acked_through"];
    EXPECT_GT(pushed, 0u);
    EXPECT_LE(acked, pushed);
    std::uint64_t most_applied = 0;
    for (const std::string member : {"cloud-1", "cloud-2", "cloud-3"}) {
      const std::uint64_t applied = report["participants"][member]["state"]["sync"].value(gw.substr(8), std::uint64_t{0});
      EXPECT_LE(applied, pushed) << member << " applied " << gw << " beyond its cut";
      most_applied = std::max(most_applied, applied);
    }
    EXPECT_GE(most_applied, acked) << gw << " was told more than any member had applied at its cut";
  }
  EXPECT_GE(gw1.parts_shipped(), 1u);
}

}  // namespace
}  // namespace homestead::cloud_testing
