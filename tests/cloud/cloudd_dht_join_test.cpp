// Issue 11 (items 3, 4): cloudd members with virtual nodes (3 ring positions each), driven
// through `homectl --cloud dht ...` (gateway/homectl_dht.cpp, run in-process), and a member
// started after the ring formed - one the others' configs do not even list - joining
// through the existing members and taking over the homes between its positions'
// predecessors and themselves; then a kill -9 takes three positions off the ring at once.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cloud/dht/home_directory.h"
#include "gateway/homectl_cloud.h"
#include "tests/cloud/dht_ring_oracle.h"

namespace homestead::cloud_testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr unsigned kVirtualNodes = 3;
const std::vector<std::string> kHomes = {"alpha",  "bravo", "charlie", "delta",    "echo",   "foxtrot",
                                         "golf",   "hotel", "india",   "juliet",   "kilo",   "lima",
                                         "mike",   "nov/ember", "oscar papa", "quebec"};

struct CliRun {
  int status = -1;
  std::string out, err;
};

class DhtJoin : public ::testing::Test {
 protected:
  DhtJoin() : oracle_(32, kVirtualNodes) {
    ClusterOptions options;
    options.members = 4;
    options.voters = 3;  // member 4 starts later, outside the others' configs
    options.dht_stabilize_ms = 50;
    options.dht_virtual_nodes = kVirtualNodes;
    cluster_ = std::make_unique<CloudCluster>(options);
    token_file_ = (cluster_->dir() / "admin-token").string();
    std::ofstream(token_file_) << cluster_->token() << "\n";
  }

  // homectl --cloud against one member only (so "the member asked" is known).
  CliRun homectl(std::uint64_t member, std::vector<std::string> args) {
    std::vector<std::string> full{"--cloud-url", "127.0.0.1:" + std::to_string(cluster_->http_port(member)),
                                  "--cloud-token-file", token_file_};
    full.insert(full.end(), args.begin(), args.end());
    std::ostringstream out, err;
    CliRun run;
    run.status = gateway::run_cloud_command(full, out, err);
    run.out = out.str();
    run.err = err.str();
    return run;
  }
  json homectl_json(std::uint64_t member, std::vector<std::string> args) {
    args.push_back("--json");
    const CliRun run = homectl(member, args);
    EXPECT_EQ(run.status, 0) << run.err;
    return json::parse(run.out, nullptr, false);
  }

  void wait_settled(const std::set<std::uint64_t>& live) {
    std::string last;
    ASSERT_TRUE(testing::wait_until(
        [&] {
          last = oracle_.ring_difference(*cluster_, live);
          return last.empty();
        },
        60s, 50ms))
        << "the ring did not settle: " << last << "\nmember 1 log:\n" << cluster_->log_tail(1);
  }

  // "" when every live member resolves every home (GET /api/v1/dht/homes/{home}) to the
  // brute-force owner; else the first difference.
  std::string homes_disagree(const std::set<std::uint64_t>& live) {
    for (auto from : live) {
      for (const auto& home : kHomes) {
        const std::string path = "/api/v1/dht/homes/" + home;  // the client percent-encodes the path
        const HttpAnswer a = cluster_->request(from, "GET", path);
        const dht::NodeRef expected = oracle_.home_owner(home, live);
        if (a.status != 200) return "member " + std::to_string(from) + " home " + home + ": " + a.body.dump();
        if (a.body["owner"]["id"] != expected.id || a.body["owner"]["member"] != expected.host ||
            a.body["home"] != home || a.body["group"] != 1) {
          return "member " + std::to_string(from) + " home " + home + ": " + a.body.dump() + ", expected owner " +
                 std::to_string(expected.id) + "@" + std::to_string(expected.host);
        }
      }
    }
    return "";
  }

  DhtRingOracle oracle_;
  std::unique_ptr<CloudCluster> cluster_;
  std::string token_file_;
};

TEST_F(DhtJoin, HomectlResolvesHomesAndALaterMemberTakesOverItsRange) {
  std::set<std::uint64_t> live{1, 2, 3};
  for (auto m : live) cluster_->start(m);
  ASSERT_EQ(oracle_.positions({1, 2, 3, 4}).size(), 12u);
  wait_settled(live);

  // Every member reports its three positions; together the members know the whole ring.
  std::vector<dht::NodeRef> reported;
  std::set<dht::Id> reported_ids;
  for (auto m : live) {
    const json ring = homectl_json(m, {"dht", "ring"});
    EXPECT_EQ(ring["virtual_nodes"], kVirtualNodes);
    ASSERT_EQ(ring["positions"].size(), kVirtualNodes);
    for (unsigned i = 0; i < kVirtualNodes; ++i) {
      EXPECT_EQ(ring["positions"][i]["self"]["id"], oracle_.position(m, i));
      EXPECT_EQ(ring["positions"][i]["self"]["member"], m);
    }
    for (const auto& n : ring["members"]) {
      if (reported_ids.insert(n["id"].get<dht::Id>()).second) {
        reported.push_back({n["id"].get<dht::Id>(), n["member"].get<dht::HostId>()});
      }
    }
  }
  std::set<dht::Id> ideal;
  for (const auto& n : oracle_.positions(live)) ideal.insert(n.id);
  EXPECT_EQ(reported_ids, ideal);

  // `dht home` from every member names the brute-force successor of the home's key over the
  // ring members reported, with a path from the member asked to that owner.
  for (auto from : live) {
    for (const auto& home : kHomes) {
      const json a = homectl_json(from, {"dht", "home", home});
      const dht::Id key = dht::home_key(oracle_.space(), home);
      const dht::NodeRef owner = DhtRingOracle::owner(oracle_.space(), key, reported);
      EXPECT_EQ(a["home"], home);
      EXPECT_EQ(a["key"], key);
      EXPECT_EQ(a["owner"]["id"], owner.id) << home << " from " << from;
      EXPECT_EQ(a["owner"]["member"], owner.host);
      EXPECT_EQ(a["group"], 1);
      ASSERT_FALSE(a["path"].empty());
      EXPECT_EQ(a["path"].front()["member"], from);
      EXPECT_EQ(a["path"].back()["id"], owner.id);
      EXPECT_EQ(a["hops"], a["path"].size() - 1);
    }
  }

  // The human-readable forms.
  const dht::NodeRef alpha = oracle_.home_owner("alpha", live);
  const dht::Id alpha_key = dht::home_key(oracle_.space(), "alpha");
  CliRun run = homectl(2, {"dht", "home", "alpha"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out.substr(0, run.out.find('\n') + 1),
            "home alpha -> group 1 (ring key " + std::to_string(alpha_key) + ", owner " + std::to_string(alpha.id) +
                "@" + std::to_string(alpha.host) + ")\n");
  // The lookup starts at member 2's position closest before the key.
  dht::Id start = oracle_.position(2, 0);
  for (unsigned i = 1; i < kVirtualNodes; ++i) {
    const dht::Id p = oracle_.position(2, i);
    if (oracle_.space().distance(p, alpha_key) < oracle_.space().distance(start, alpha_key)) start = p;
  }
  EXPECT_NE(run.out.find("\npath: " + std::to_string(start) + "@2"), std::string::npos) << run.out;
  run = homectl(1, {"dht", "lookup", std::to_string(alpha_key)});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out.substr(0, run.out.find('\n') + 1),
            "key " + std::to_string(alpha_key) + " -> owner " + std::to_string(alpha.id) + "@" +
                std::to_string(alpha.host) + ", group 1\n");
  run = homectl(3, {"dht", "ring"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out.rfind("member 3, group 1, 32-bit ring, joined, tick ", 0), 0u) << run.out;
  for (unsigned i = 0; i < kVirtualNodes; ++i) {
    EXPECT_NE(run.out.find("\n" + std::to_string(oracle_.position(3, i)) + "@3 "), std::string::npos) << run.out;
  }

  // Errors: usage (2) before any request, the server's 400 for a key past the ring (1).
  run = homectl(1, {"dht", "lookup", "12x"});
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("KEY '12x' is not a decimal ring identifier"), std::string::npos) << run.err;
  run = homectl(1, {"dht", "lookup", std::to_string(oracle_.space().size())});
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("HTTP 400"), std::string::npos) << run.err;
  run = homectl(1, {"dht", "spin"});
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("unknown command 'spin'"), std::string::npos) << run.err;
  run = homectl(1, {"dht"});
  EXPECT_EQ(run.status, 2);
  run = homectl(1, {"dht", "home"});
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("usage: homectl --cloud dht home HOME_ID"), std::string::npos) << run.err;

  // Member 4 starts after the ring formed; members 1-3 have no address for it until it
  // speaks to them. Afterwards every member resolves every home to the 12-position ring's
  // owner, and exactly the homes the oracle gives member 4 moved to it.
  std::set<std::string> moved_expected;
  for (const auto& home : kHomes) {
    if (oracle_.home_owner(home, {1, 2, 3, 4}).host == 4) moved_expected.insert(home);
  }
  ASSERT_FALSE(moved_expected.empty()) << "pick homes so that member 4 takes over some";
  cluster_->start(4);
  live.insert(4);
  wait_settled(live);
  std::string last;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        last = homes_disagree(live);
        return last.empty();
      },
      30s, 50ms))
      << last;
  std::set<std::string> moved;
  for (const auto& home : kHomes) {
    const json a = homectl_json(1, {"dht", "home", home});
    if (a["owner"]["member"] == 4) moved.insert(home);
  }
  EXPECT_EQ(moved, moved_expected);

  // With virtual nodes a crash removes several positions at once: kill -9 member 2 and the
  // survivors (the late member included) close all three gaps and agree again.
  cluster_->kill9(2);
  live.erase(2);
  wait_settled(live);
  ASSERT_TRUE(testing::wait_until(
      [&] {
        last = homes_disagree(live);
        return last.empty();
      },
      30s, 50ms))
      << "after killing member 2: " << last;
  for (const auto& home : kHomes) {
    const json a = homectl_json(4, {"dht", "home", home});
    EXPECT_NE(a["owner"]["member"], 2) << home;
    for (const auto& hop : a["path"]) EXPECT_NE(hop["member"], 2) << a.dump();
  }
}

}  // namespace
}  // namespace homestead::cloud_testing
