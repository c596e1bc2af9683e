// Exact Chord state on rings small enough to check by hand. The rings are built through
// the protocol (create, join, stabilize, notify, fix_fingers; leave with handover), run
// until stable, and compared with values derived from the Chord paper's definitions:
//   finger[i] of n = successor(n + 2^i mod 2^m), i = 0..m-1;
//   successor(k)   = the first node clockwise from k (k itself included).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "cloud/dht/sim_ring.h"

namespace homestead::dht {
namespace {

constexpr sim::Time kBudget = 120 * sim::kSecond;

SimRingOptions options(unsigned bits) {
  SimRingOptions o;
  o.chord.bits = bits;
  o.chord.successor_list_length = 3;
  o.seed = 7;
  return o;
}

std::vector<Id> finger_ids(const SimRing& ring, Id node) {
  std::vector<Id> ids;
  for (const auto& finger : ring.node(node).fingers()) ids.push_back(finger ? finger->id : 999);
  return ids;
}

std::vector<Id> path_ids(const OperationResult& result) {
  std::vector<Id> ids;
  for (const auto& hop : result.path) ids.push_back(hop.id);
  return ids;
}

Id owner_of(SimRing& ring, Id from, Id key) {
  const OperationResult result = ring.lookup(from, key);
  EXPECT_TRUE(result.ok) << result.error;
  return result.owner.id;
}

// Paper, Figure 3(b): m = 3, nodes 0, 1, 3, keys 1, 2, 6.
TEST(ChordThreeBitRing, FingersOwnersAndPaths) {
  SimRing ring(options(3));
  ASSERT_TRUE(ring.build_by_joining({0, 1, 3}, kBudget));
  // Node 0: starts 1, 2, 4 -> 1, 3, 0. Node 1: starts 2, 3, 5 -> 3, 3, 0. Node 3: 4, 5, 7 -> 0, 0, 0.
  EXPECT_EQ(finger_ids(ring, 0), (std::vector<Id>{1, 3, 0}));
  EXPECT_EQ(finger_ids(ring, 1), (std::vector<Id>{3, 3, 0}));
  EXPECT_EQ(finger_ids(ring, 3), (std::vector<Id>{0, 0, 0}));
  EXPECT_EQ(ring.node(0).predecessor()->id, 3u);
  EXPECT_EQ(ring.node(1).predecessor()->id, 0u);
  EXPECT_EQ(ring.node(3).predecessor()->id, 1u);
  // Owners: 1 -> 1, 2 -> 3, 6 -> 0, from every node.
  for (Id from : {0, 1, 3}) {
    EXPECT_EQ(owner_of(ring, from, 1), 1u);
    EXPECT_EQ(owner_of(ring, from, 2), 3u);
    EXPECT_EQ(owner_of(ring, from, 6), 0u);
  }
  // Key 1 from 3: 1 is not in (1, 3] nor (3, 0]; highest finger in (3, 1) is 0; at 0, 1 is in (0, 1].
  EXPECT_EQ(path_ids(ring.lookup(3, 1)), (std::vector<Id>{3, 0, 1}));
  // Key 6 from 1: highest finger of 1 in (1, 6) is 3; at 3, 6 is in (3, 0] -> 0.
  EXPECT_EQ(path_ids(ring.lookup(1, 6)), (std::vector<Id>{1, 3, 0}));
  // Key 2 from 0: fingers 0 and 3 are not in (0, 2), 1 is; at 1, 2 is in (1, 3].
  EXPECT_EQ(path_ids(ring.lookup(0, 2)), (std::vector<Id>{0, 1, 3}));
  // A node answers for keys in (predecessor, itself] without a hop.
  EXPECT_EQ(path_ids(ring.lookup(3, 2)), (std::vector<Id>{3}));
}

// Paper, Figure 5(a): node 6 joins; key 6 moves from node 0 to node 6.
TEST(ChordThreeBitRing, AfterJoinOfSix) {
  SimRing ring(options(3));
  ASSERT_TRUE(ring.build_by_joining({0, 1, 3}, kBudget));
  const auto put = ring.start_put(1, 6, "six");
  ASSERT_TRUE(ring.wait_all({put}, kBudget));
  ASSERT_TRUE(ring.result(put)->ok);
  EXPECT_EQ(ring.result(put)->owner.id, 0u);

  ring.join(6, 1);
  ASSERT_TRUE(ring.run_until_converged(kBudget));
  // 0: starts 1, 2, 4 -> 1, 3, 6.  1: 2, 3, 5 -> 3, 3, 6.  3: 4, 5, 7 -> 6, 6, 0.  6: 7, 0, 2 -> 0, 0, 3.
  EXPECT_EQ(finger_ids(ring, 0), (std::vector<Id>{1, 3, 6}));
  EXPECT_EQ(finger_ids(ring, 1), (std::vector<Id>{3, 3, 6}));
  EXPECT_EQ(finger_ids(ring, 3), (std::vector<Id>{6, 6, 0}));
  EXPECT_EQ(finger_ids(ring, 6), (std::vector<Id>{0, 0, 3}));
  EXPECT_EQ(owner_of(ring, 0, 6), 6u);
  EXPECT_EQ(owner_of(ring, 3, 4), 6u);
  EXPECT_EQ(owner_of(ring, 6, 7), 0u);
  // Key 6 from 1: finger 6 is not in (1, 6), 3 is; at 3, 6 is in (3, 6].
  EXPECT_EQ(path_ids(ring.lookup(1, 6)), (std::vector<Id>{1, 3, 6}));
  // The key was handed over to its new owner.
  EXPECT_EQ(ring.node(6).stored().count(6), 1u);
  const auto get = ring.start_get(3, 6);
  ASSERT_TRUE(ring.wait_all({get}, kBudget));
  EXPECT_EQ(ring.result(get)->value, std::optional<std::string>("six"));
}

// Paper, Figure 5(b): then node 1 leaves; key 1 moves to node 3.
TEST(ChordThreeBitRing, AfterJoinOfSixAndLeaveOfOne) {
  SimRing ring(options(3));
  ASSERT_TRUE(ring.build_by_joining({0, 1, 3}, kBudget));
  ring.join(6, 0);
  ASSERT_TRUE(ring.run_until_converged(kBudget));
  const auto put = ring.start_put(6, 1, "one");
  ASSERT_TRUE(ring.wait_all({put}, kBudget));
  ASSERT_EQ(ring.result(put)->owner.id, 1u);

  ring.leave(1);
  ASSERT_TRUE(ring.run_until_converged(kBudget));
  EXPECT_FALSE(ring.is_live(1));
  // 0: starts 1, 2, 4 -> 3, 3, 6.  3: 4, 5, 7 -> 6, 6, 0.  6: 7, 0, 2 -> 0, 0, 3.
  EXPECT_EQ(finger_ids(ring, 0), (std::vector<Id>{3, 3, 6}));
  EXPECT_EQ(finger_ids(ring, 3), (std::vector<Id>{6, 6, 0}));
  EXPECT_EQ(finger_ids(ring, 6), (std::vector<Id>{0, 0, 3}));
  EXPECT_EQ(ring.node(3).predecessor()->id, 0u);
  EXPECT_EQ(owner_of(ring, 0, 1), 3u);
  EXPECT_EQ(owner_of(ring, 6, 2), 3u);
  // Key 1 from 6: (6, 0] misses 1; fingers 3 is not in (6, 1), 0 is; at 0, 1 is in (0, 3].
  EXPECT_EQ(path_ids(ring.lookup(6, 1)), (std::vector<Id>{6, 0, 3}));
  EXPECT_EQ(path_ids(ring.lookup(3, 1)), (std::vector<Id>{3}));
  const auto get = ring.start_get(0, 1);
  ASSERT_TRUE(ring.wait_all({get}, kBudget));
  EXPECT_EQ(ring.result(get)->value, std::optional<std::string>("one"));
  EXPECT_EQ(ring.node(3).stored().count(1), 1u);
}

TEST(ChordThreeBitRing, LeaveOfOneFromTheOriginalRing) {
  SimRing ring(options(3));
  ASSERT_TRUE(ring.build_by_joining({0, 1, 3}, kBudget));
  ring.leave(1);
  ASSERT_TRUE(ring.run_until_converged(kBudget));
  // 0: starts 1, 2, 4 -> 3, 3, 0.  3: 4, 5, 7 -> 0, 0, 0.
  EXPECT_EQ(finger_ids(ring, 0), (std::vector<Id>{3, 3, 0}));
  EXPECT_EQ(finger_ids(ring, 3), (std::vector<Id>{0, 0, 0}));
  EXPECT_EQ(ring.node(0).successors().front().id, 3u);
  EXPECT_EQ(ring.node(3).successors().front().id, 0u);
}

// ---- 6-bit ring of ten nodes (the ToN paper's example ring) ----

const std::vector<Id> kTenNodes = {1, 8, 14, 21, 32, 38, 42, 48, 51, 56};

// successor(k) by scanning the identifier circle upward from k.
Id brute_successor(Id key) {
  for (Id step = 0; step < 64; ++step) {
    const Id candidate = (key + step) % 64;
    if (std::find(kTenNodes.begin(), kTenNodes.end(), candidate) != kTenNodes.end()) return candidate;
  }
  throw std::logic_error("empty ring");
}
// The first node met going counter-clockwise from node - 1.
Id brute_predecessor(Id node) {
  for (Id step = 1; step <= 64; ++step) {
    const Id candidate = (node + 64 - step) % 64;
    if (std::find(kTenNodes.begin(), kTenNodes.end(), candidate) != kTenNodes.end()) return candidate;
  }
  throw std::logic_error("empty ring");
}
// Clockwise distance, and "x in (a, b)" / "x in (a, b]" as the paper writes them.
Id dist(Id a, Id b) { return (b + 64 - a) % 64; }
bool open_interval(Id x, Id a, Id b) { return a == b ? x != a : (dist(a, x) > 0 && dist(a, x) < dist(a, b)); }
bool half_open(Id x, Id a, Id b) { return a == b || (dist(a, x) > 0 && dist(a, x) <= dist(a, b)); }

// The paper's find_successor with the documented first check (a node owns (pred, n]).
std::vector<Id> reference_path(Id from, Id key) {
  std::vector<Id> path{from};
  Id n = from;
  for (;;) {
    if (half_open(key, brute_predecessor(n), n)) return path;
    const Id successor = brute_successor((n + 1) % 64);
    if (half_open(key, n, successor)) {
      path.push_back(successor);
      return path;
    }
    Id next = successor;
    for (int i = 5; i >= 0; --i) {
      const Id finger = brute_successor((n + (Id{1} << i)) % 64);
      if (open_interval(finger, n, key)) {
        next = finger;
        break;
      }
    }
    path.push_back(next);
    n = next;
  }
}

TEST(ChordSixBitRing, FingersMatchBruteForceSuccessor) {
  SimRing ring(options(6));
  ASSERT_TRUE(ring.build_by_joining(kTenNodes, kBudget));
  for (Id node : kTenNodes) {
    std::vector<Id> expected;
    for (unsigned i = 0; i < 6; ++i) expected.push_back(brute_successor((node + (Id{1} << i)) % 64));
    EXPECT_EQ(finger_ids(ring, node), expected) << "node " << node;
    EXPECT_EQ(ring.node(node).predecessor()->id, brute_predecessor(node)) << "node " << node;
  }
  // Written out from the paper's figure: N8's fingers are 14, 14, 14, 21, 32, 42.
  EXPECT_EQ(finger_ids(ring, 8), (std::vector<Id>{14, 14, 14, 21, 32, 42}));
}

TEST(ChordSixBitRing, EveryOwnerAndPathFromEveryNode) {
  SimRing ring(options(6));
  ASSERT_TRUE(ring.build_by_joining(kTenNodes, kBudget));
  for (Id from : kTenNodes) {
    for (Id key = 0; key < 64; ++key) {
      const OperationResult result = ring.lookup(from, key);
      ASSERT_TRUE(result.ok) << result.error;
      EXPECT_EQ(result.owner.id, brute_successor(key)) << "key " << key << " from " << from;
      EXPECT_EQ(path_ids(result), reference_path(from, key)) << "key " << key << " from " << from;
    }
  }
  // The paper's example: lookup(54) from N8 goes N8 -> N42 -> N51 -> N56.
  EXPECT_EQ(path_ids(ring.lookup(8, 54)), (std::vector<Id>{8, 42, 51, 56}));
}

TEST(ChordSixBitRing, RecursiveLookupVisitsTheSameNodes) {
  SimRingOptions o = options(6);
  o.chord.lookup_mode = LookupMode::recursive;
  SimRing ring(o);
  ASSERT_TRUE(ring.build_by_joining(kTenNodes, kBudget));
  for (Id from : {Id{1}, Id{8}, Id{42}, Id{56}}) {
    for (Id key = 0; key < 64; key += 3) {
      const OperationResult result = ring.lookup(from, key);
      ASSERT_TRUE(result.ok) << result.error;
      EXPECT_EQ(result.owner.id, brute_successor(key));
      EXPECT_EQ(path_ids(result), reference_path(from, key)) << "key " << key << " from " << from;
    }
  }
}

}  // namespace
}  // namespace homestead::dht
