// Issue 11 (items 3, 4): five real cloudd processes join one Chord ring; every member
// resolves every home to the same owner - the one a brute-force successor over the known
// positions gives - with a hop path from itself to the owner; after one member is killed
// with kill -9 the others stabilise and resolve every home to its new owner.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cloud/dht/home_directory.h"
#include "cloud/dht/identifier.h"
#include "tests/cloud/dht_ring_oracle.h"

namespace homestead::cloud_testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const DhtRingOracle kOracle(32, 1);  // cloudd's defaults: "dht.bits" 32, one position per member
const dht::IdSpace& kSpace = kOracle.space();
const std::vector<std::string> kHomes = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                         "golf", "hotel", "india", "juliet", "kilo", "lima"};

dht::Id position(std::uint64_t member) { return kOracle.position(member); }
std::uint64_t oracle_owner(dht::Id key, const std::set<std::uint64_t>& live) { return kOracle.owner(key, live).host; }

// Every live member reports a ring whose predecessor and successor list (length 4,
// cloudd's default) are the ideal ones (no dead member listed).
bool ring_settled(CloudCluster& cluster, const std::set<std::uint64_t>& live) {
  return kOracle.ring_difference(cluster, live).empty();
}

// Each live member resolves every home to the oracle's owner, through the lookup route
// and the home -> group directory route. Returns "" or what differed.
std::string lookups_disagree(CloudCluster& cluster, const std::set<std::uint64_t>& live) {
  for (auto from : live) {
    for (const auto& home : kHomes) {
      for (const std::string& route : {"/api/v1/dht/lookup/" + home, "/api/v1/dht/homes/" + home}) {
        const HttpAnswer a = cluster.request(from, "GET", route);
        const std::uint64_t expected = oracle_owner(dht::home_key(kSpace, home), live);
        if (a.status != 200) return "member " + std::to_string(from) + " " + route + ": " + a.body.dump();
        if (a.body["owner"]["member"] != expected || a.body["home"] != home || a.body["group"] != 1) {
          return "member " + std::to_string(from) + " " + route + ": " + a.body.dump() + ", expected member " +
                 std::to_string(expected);
        }
      }
    }
  }
  return "";
}

TEST(CloudDht, FiveMembersAgreeOnOwnersAndSurviveAKill9) {
  ClusterOptions options;
  options.members = 5;
  options.dht_stabilize_ms = 50;
  CloudCluster cluster(options);
  cluster.start_all();
  std::set<std::uint64_t> live{1, 2, 3, 4, 5};
  ASSERT_EQ(std::set<dht::Id>({position(1), position(2), position(3), position(4), position(5)}).size(), 5u)
      << "two members share a ring position";

  ASSERT_TRUE(testing::wait_until([&] { return ring_settled(cluster, live); }, 60s, 50ms))
      << "the ring did not settle; member 1 log:\n" << cluster.log_tail(1);

  // The ring view names this node, its neighbours and the members it knows.
  const HttpAnswer ring = cluster.request(2, "GET", "/api/v1/dht/ring");
  ASSERT_EQ(ring.status, 200);
  EXPECT_EQ(ring.body["bits"], 32);
  EXPECT_EQ(ring.body["group"], 1);
  EXPECT_EQ(ring.body["self"]["id"], position(2));
  EXPECT_EQ(ring.body["self"]["member"], 2);
  EXPECT_EQ(ring.body["fingers"].size(), 32u);
  EXPECT_EQ(ring.body["fingers"][5]["start"], kSpace.finger_start(position(2), 5));
  std::set<std::uint64_t> known;
  for (const auto& m : ring.body["members"]) known.insert(m["member"].get<std::uint64_t>());
  EXPECT_EQ(known, live);  // successor list of 4 + self covers a ring of five

  EXPECT_EQ(lookups_disagree(cluster, live), "");

  // The path runs from the asked member to the owner; a raw identifier looks up that key.
  const dht::Id bravo_key = dht::home_key(kSpace, "bravo");
  const std::uint64_t bravo_owner = oracle_owner(bravo_key, live);
  for (auto from : live) {
    const HttpAnswer a = cluster.request(from, "GET", "/api/v1/dht/lookup/" + std::to_string(bravo_key) + "?raw=true");
    ASSERT_EQ(a.status, 200) << a.body.dump();
    EXPECT_EQ(a.body["key"], bravo_key);
    EXPECT_FALSE(a.body.contains("home"));
    EXPECT_EQ(a.body["group"], 1);
    EXPECT_EQ(a.body["owner"]["member"], bravo_owner);
    ASSERT_FALSE(a.body["path"].empty());
    EXPECT_EQ(a.body["path"].front()["member"], from);
    EXPECT_EQ(a.body["path"].back()["member"], bravo_owner);
    EXPECT_EQ(a.body["hops"], a.body["path"].size() - 1);
  }
  const HttpAnswer home = cluster.request(4, "GET", "/api/v1/dht/lookup/bravo");
  EXPECT_EQ(home.body["home"], "bravo");
  EXPECT_EQ(home.body["key"], bravo_key);

  // Errors and auth like the rest of the API.
  const HttpAnswer bad = cluster.request(1, "GET", "/api/v1/dht/lookup/12x?raw=true");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"].get<std::string>().find("12x"), std::string::npos);
  EXPECT_EQ(cluster.request(1, "GET", "/api/v1/dht/lookup/" + std::to_string(kSpace.size()) + "?raw=true").status,
            400);
  httplib::Client anonymous("127.0.0.1", cluster.http_port(1));
  const auto unauthorised = anonymous.Get("/api/v1/dht/ring");
  ASSERT_TRUE(unauthorised);
  EXPECT_EQ(unauthorised->status, 401);

  // Kill the owner of "alpha" outright; its homes move to its successor.
  const std::uint64_t victim = oracle_owner(dht::home_key(kSpace, "alpha"), live);
  cluster.kill9(victim);
  live.erase(victim);
  const std::uint64_t heir = oracle_owner(dht::home_key(kSpace, "alpha"), live);
  ASSERT_NE(heir, victim);
  std::string last_difference;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        if (!ring_settled(cluster, live)) {
          last_difference = "ring not settled";
          return false;
        }
        last_difference = lookups_disagree(cluster, live);
        return last_difference.empty();
      },
      60s, 50ms))
      << "after killing member " << victim << ": " << last_difference;
  // Any survivor (Raft leader or follower) answers the home -> group directory.
  for (auto from : live) {
    for (const char* route : {"/api/v1/dht/lookup/alpha", "/api/v1/dht/homes/alpha"}) {
      const HttpAnswer a = cluster.request(from, "GET", route);
      ASSERT_EQ(a.status, 200) << route;
      EXPECT_EQ(a.body["home"], "alpha");
      EXPECT_EQ(a.body["key"], dht::home_key(kSpace, "alpha"));
      EXPECT_EQ(a.body["owner"]["member"], heir);
      EXPECT_EQ(a.body["owner"]["id"], position(heir));
      EXPECT_EQ(a.body["group"], 1);
      EXPECT_EQ(a.body["path"].front()["member"], from);
      for (const auto& hop : a.body["path"]) EXPECT_NE(hop["member"], victim) << a.body.dump();
    }
  }
}

}  // namespace
}  // namespace homestead::cloud_testing
