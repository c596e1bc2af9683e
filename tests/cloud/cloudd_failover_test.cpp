// Integration: when the leader's process dies (kill -9), the survivors see its connections
// end and elect a new leader at once, long before their election timeout; a dead follower
// or a restarted one disturbs nobody. The election timeout here is 10-20 s, so a new
// leader within 4 s can only come from the connection signal (Node::peer_connection_lost).
#include <gtest/gtest.h>

#include <chrono>

#include "tests/cloud/cloud_cluster.h"

namespace homestead::cloud_testing {
namespace {

using namespace std::chrono_literals;

ClusterOptions slow_timeout_cluster() {
  ClusterOptions options;
  options.election_ticks = 1000;  // 10 ms ticks: a follower campaigns on its own after 10-20 s
  options.heartbeat_ticks = 5;
  return options;
}

std::uint64_t term_of(CloudCluster& cluster, std::uint64_t id) {
  const auto status = cluster.cluster_status(id);
  return status ? (*status)["term"].get<std::uint64_t>() : 0;
}

bool put(CloudCluster& cluster, std::uint64_t via, const std::string& key) {
  const auto answer = cluster.request(via, "PUT", "/api/v1/kv/" + key, {{"value", "v"}});
  return answer.status == 200 || answer.status == 201;
}

TEST(CloudFailover, KilledLeaderIsReplacedLongBeforeTheElectionTimeout) {
  CloudCluster cluster(slow_timeout_cluster());
  cluster.start_all();
  const std::uint64_t first = cluster.wait_for_leader(60s);
  ASSERT_NE(first, 0u) << "no first leader (the first election waits the full 10-20 s timeout)";
  const std::uint64_t survivor = first % 3 + 1;
  ASSERT_TRUE(testing::wait_until([&] { return put(cluster, survivor, "before"); }, 10s));

  cluster.kill9(first);
  const std::uint64_t second = cluster.wait_for_leader(4s, first);
  ASSERT_NE(second, 0u) << "no new leader within 4 s: the survivors waited for their 10-20 s election timeout\n"
                        << cluster.log_tail(survivor);
  EXPECT_NE(second, first);
  EXPECT_TRUE(testing::wait_until([&] { return put(cluster, survivor, "after"); }, 4s)) << "writes go on";
  EXPECT_NE(cluster.log(survivor).find("campaigning early"), std::string::npos);
}

TEST(CloudFailover, ADeadOrRestartedFollowerCausesNoElection) {
  CloudCluster cluster(slow_timeout_cluster());
  cluster.start_all();
  const std::uint64_t leader = cluster.wait_for_leader(60s);
  ASSERT_NE(leader, 0u);
  const std::uint64_t follower = leader % 3 + 1;
  const std::uint64_t other = follower % 3 + 1;
  ASSERT_NE(other, leader);
  ASSERT_TRUE(testing::wait_until([&] { return put(cluster, leader, "warm"); }, 10s));
  const std::uint64_t term = term_of(cluster, leader);

  cluster.kill9(follower);
  ASSERT_TRUE(testing::wait_until([&] { return put(cluster, leader, "one-down"); }, 10s)) << "two of three still commit";
  cluster.restart(follower);
  ASSERT_TRUE(testing::wait_until([&] { return cluster.wait_converged(1s); }, 30s));
  EXPECT_EQ(cluster.wait_for_leader(10s), leader);
  EXPECT_EQ(term_of(cluster, leader), term) << "no election happened";
  EXPECT_EQ(term_of(cluster, other), term);
  EXPECT_EQ(cluster.log(other).find("campaigning early"), std::string::npos);
}

}  // namespace
}  // namespace homestead::cloud_testing
