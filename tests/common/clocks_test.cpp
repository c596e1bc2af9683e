// Logical clocks against the happens-before rules of seed section 3.2, taken literally.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/clocks/hybrid_logical_clock.h"
#include "common/clocks/lamport_clock.h"
#include "common/clocks/matrix_clock.h"
#include "common/clocks/truetime.h"
#include "common/clocks/vector_clock.h"
#include "common/sim/rng.h"

namespace homestead::clocks {
namespace {

// The three-process diagram used by the tests below:
//   p0:  a(internal)  s1(send m1 -> p1)  e(internal)
//   p1:  b(internal)  r1(recv m1)        s2(send m2 -> p2)
//   p2:  c(internal)  d(internal)        r2(recv m2)
struct ThreeProcessRun {
  LamportTimestamp la, ls1, le, lb, lr1, ls2, lc, ld, lr2;
  VectorTimestamp va, vs1, ve, vb, vr1, vs2, vc, vd, vr2;

  ThreeProcessRun() {
    LamportClock l0(0), l1(1), l2(2);
    VectorClock v0(0, 3), v1(1, 3), v2(2, 3);
    la = l0.local_event();  va = v0.local_event();
    ls1 = l0.send();        vs1 = v0.send();
    lb = l1.local_event();  vb = v1.local_event();
    lr1 = l1.receive(ls1.time); vr1 = v1.receive(vs1);
    ls2 = l1.send();        vs2 = v1.send();
    lc = l2.local_event();  vc = v2.local_event();
    ld = l2.local_event();  vd = v2.local_event();
    lr2 = l2.receive(ls2.time); vr2 = v2.receive(vs2);
    le = l0.local_event();  ve = v0.local_event();
  }
};

TEST(LamportClock, FollowsTheIncrementAndReceiveRules) {
  ThreeProcessRun run;
  EXPECT_EQ(run.la.time, 1u);
  EXPECT_EQ(run.ls1.time, 2u);
  EXPECT_EQ(run.lb.time, 1u);
  EXPECT_EQ(run.lr1.time, 3u);  // max(1, 2) + 1
  EXPECT_EQ(run.ls2.time, 4u);
  EXPECT_EQ(run.lc.time, 1u);
  EXPECT_EQ(run.ld.time, 2u);
  EXPECT_EQ(run.lr2.time, 5u);  // max(2, 4) + 1
  EXPECT_EQ(run.le.time, 3u);
}

TEST(LamportClock, SendHappensBeforeReceiveAcrossThreeProcesses) {
  ThreeProcessRun run;
  EXPECT_LT(run.ls1, run.lr1);
  EXPECT_LT(run.ls2, run.lr2);
  EXPECT_LT(run.la, run.lr2);  // transitively a -> s1 -> r1 -> s2 -> r2
  EXPECT_LT(run.lb, run.ls2);  // receive-then-send on one process
}

TEST(LamportClock, TieBreakByProcessIdGivesATotalOrder) {
  ThreeProcessRun run;
  // e (p0) and r1 (p1) are concurrent and share time 3; the process id orders them.
  ASSERT_EQ(run.le.time, run.lr1.time);
  EXPECT_LT(run.le, run.lr1);
  EXPECT_FALSE(run.lr1 < run.le);
  EXPECT_NE(run.le, run.lr1);
}

TEST(LamportClock, IsConsistentButNotStronglyConsistent) {
  ThreeProcessRun run;
  // c on p2 and s1 on p0 never communicate: c || s1, yet C(c) = 1 < C(s1) = 2.
  EXPECT_LT(run.lc.time, run.ls1.time);
  EXPECT_EQ(compare(run.vc, run.vs1), CausalOrder::concurrent);
  // Same for d (p2, time 2) and e (p0, time 3).
  EXPECT_LT(run.ld.time, run.le.time);
  EXPECT_EQ(compare(run.vd, run.ve), CausalOrder::concurrent);
}

TEST(VectorClock, FollowsTheMergeRules) {
  ThreeProcessRun run;
  EXPECT_EQ(run.va, (VectorTimestamp{1, 0, 0}));
  EXPECT_EQ(run.vs1, (VectorTimestamp{2, 0, 0}));
  EXPECT_EQ(run.vr1, (VectorTimestamp{2, 2, 0}));
  EXPECT_EQ(run.vs2, (VectorTimestamp{2, 3, 0}));
  EXPECT_EQ(run.vr2, (VectorTimestamp{2, 3, 3}));
  EXPECT_EQ(run.ve, (VectorTimestamp{3, 0, 0}));
}

TEST(VectorClock, ComparesBeforeAfterEqualConcurrent) {
  ThreeProcessRun run;
  EXPECT_EQ(compare(run.vs1, run.vr1), CausalOrder::before);
  EXPECT_EQ(compare(run.vr2, run.va), CausalOrder::after);
  EXPECT_EQ(compare(run.vr1, run.vr1), CausalOrder::equal);
  EXPECT_EQ(compare(run.ve, run.vr1), CausalOrder::concurrent);
  EXPECT_EQ(compare(run.vb, run.va), CausalOrder::concurrent);
  EXPECT_THROW(compare(VectorTimestamp{1, 2}, VectorTimestamp{1, 2, 3}), std::invalid_argument);
}

// Random executions of 4 processes: compute the true happens-before relation from the
// event graph (program order + send/receive edges, transitively closed) and check that
// Lamport is consistent, vector clocks are strongly consistent, and that Lamport's
// lack of strong consistency actually shows up.
TEST(Clocks, RandomExecutionsAgainstTheHappensBeforeGraph) {
  constexpr int kProcesses = 4;
  int lamport_false_orderings = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    sim::Rng rng(seed);
    struct Event {
      int process;
      LamportTimestamp lamport;
      VectorTimestamp vector;
    };
    std::vector<Event> events;
    std::vector<std::vector<bool>> hb;  // hb[i][j]: event i happened before event j
    std::vector<LamportClock> lamport;
    std::vector<VectorClock> vector;
    for (int p = 0; p < kProcesses; ++p) {
      lamport.emplace_back(p);
      vector.emplace_back(p, kProcesses);
    }
    std::vector<int> last_event(kProcesses, -1);
    struct InFlight {
      int to;
      int send_event;
      std::uint64_t lamport;
      VectorTimestamp vector;
    };
    std::vector<InFlight> in_flight;

    auto add_event = [&](int process, LamportTimestamp l, VectorTimestamp v, int cause) {
      const int id = static_cast<int>(events.size());
      events.push_back({process, l, std::move(v)});
      for (auto& row : hb) row.push_back(false);
      hb.emplace_back(events.size(), false);
      for (int pred : {last_event[process], cause}) {
        if (pred < 0) continue;
        hb[pred][id] = true;
        for (int k = 0; k < id; ++k) {
          if (hb[k][pred]) hb[k][id] = true;
        }
      }
      last_event[process] = id;
      return id;
    };

    for (int step = 0; step < 60; ++step) {
      const int p = static_cast<int>(rng.uniform(0, kProcesses - 1));
      const auto action = rng.uniform(0, 2);
      if (action == 0 || (action == 2 && in_flight.empty())) {
        add_event(p, lamport[p].local_event(), vector[p].local_event(), -1);
      } else if (action == 1) {
        int to = static_cast<int>(rng.uniform(0, kProcesses - 2));
        if (to >= p) ++to;
        auto l = lamport[p].send();
        auto v = vector[p].send();
        const int id = add_event(p, l, v, -1);
        in_flight.push_back({to, id, l.time, v});
      } else {
        const auto pick = static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(in_flight.size()) - 1));
        InFlight message = in_flight[pick];
        in_flight.erase(in_flight.begin() + static_cast<long>(pick));
        add_event(message.to, lamport[message.to].receive(message.lamport), vector[message.to].receive(message.vector),
                  message.send_event);
      }
    }

    for (std::size_t i = 0; i < events.size(); ++i) {
      for (std::size_t j = 0; j < events.size(); ++j) {
        if (i == j) continue;
        const bool before = hb[i][j];
        // Clock consistency: e1 -> e2 implies C(e1) < C(e2), for both clocks.
        if (before) {
          ASSERT_LT(events[i].lamport.time, events[j].lamport.time) << "seed " << seed;
        }
        // Strong consistency of vector clocks: V(e1) < V(e2) exactly when e1 -> e2.
        ASSERT_EQ(before, happened_before(events[i].vector, events[j].vector)) << "seed " << seed;
        if (!before && !hb[j][i]) {
          ASSERT_EQ(compare(events[i].vector, events[j].vector), CausalOrder::concurrent) << "seed " << seed;
          if (events[i].lamport.time < events[j].lamport.time) ++lamport_false_orderings;
        }
      }
    }
  }
  // Lamport orders many concurrent pairs as if causal; vector clocks never do (checked above).
  EXPECT_GT(lamport_false_orderings, 0);
}

TEST(MatrixClock, KnowsWhatEveryoneHasSeenForGarbageCollection) {
  MatrixClock p0(0, 3), p1(1, 3), p2(2, 3);
  auto m = p0.send();  // p0's event 1
  p1.receive(0, m);
  EXPECT_EQ(p1.vector(), (VectorTimestamp{1, 1, 0}));
  // p1 knows p0 and itself have seen p0's event 1, but not p2: nothing to collect yet.
  EXPECT_EQ(p1.seen_by_all(0), 0u);
  EXPECT_FALSE(p1.everyone_has_seen(0, 1));

  p2.receive(1, p1.send());
  EXPECT_EQ(p2.vector(), (VectorTimestamp{1, 2, 1}));
  // p2 now knows all three have seen p0's event 1.
  EXPECT_EQ(p2.seen_by_all(0), 1u);
  EXPECT_TRUE(p2.everyone_has_seen(0, 1));
  // p0 itself has not heard back from anyone yet.
  EXPECT_EQ(p0.seen_by_all(0), 0u);

  p0.receive(2, p2.send());
  EXPECT_EQ(p0.vector(), (VectorTimestamp{2, 2, 2}));
  EXPECT_TRUE(p0.everyone_has_seen(0, 1));
  EXPECT_FALSE(p0.everyone_has_seen(0, 2));  // p1 and p2 never saw p0's event 2
  EXPECT_EQ(p0.seen_by_all(1), 2u);  // p1's send (its event 2) reached everyone via p2
  EXPECT_EQ(p0.now()[1], (VectorTimestamp{1, 2, 0}));
  EXPECT_EQ(p0.now()[2], (VectorTimestamp{1, 2, 2}));
}

TEST(HybridLogicalClock, TracksPhysicalTimeAndCountsWithinATick) {
  std::int64_t physical = 100;
  HybridLogicalClock clock([&] { return physical; }, 50);
  EXPECT_EQ(clock.now(), (HlcTimestamp{100, 0}));
  EXPECT_EQ(clock.now(), (HlcTimestamp{100, 1}));  // same physical tick: logical counts
  physical = 105;
  EXPECT_EQ(clock.now(), (HlcTimestamp{105, 0}));
  // A message from a clock 20 ahead pulls l forward; c continues from the message.
  auto received = clock.update(HlcTimestamp{125, 3});
  ASSERT_TRUE(received);
  EXPECT_EQ(*received, (HlcTimestamp{125, 4}));
  // Physical time has not caught up: local events keep l and count c.
  EXPECT_EQ(clock.now(), (HlcTimestamp{125, 5}));
  physical = 130;
  EXPECT_EQ(clock.now(), (HlcTimestamp{130, 0}));
}

TEST(HybridLogicalClock, RefusesMessagesBeyondTheOffsetBound) {
  std::int64_t physical = 1000;
  HybridLogicalClock clock([&] { return physical; }, 50);
  auto before = clock.now();
  EXPECT_FALSE(clock.update(HlcTimestamp{1051, 0}).has_value());
  EXPECT_EQ(clock.last(), before);
  EXPECT_TRUE(clock.update(HlcTimestamp{1050, 0}).has_value());
}

TEST(HybridLogicalClock, SendAlwaysPrecedesReceiveEvenWithSkew) {
  std::int64_t fast = 500, slow = 100;  // p0's clock is 400 ahead of p1's
  HybridLogicalClock p0([&] { return fast; }, 1000), p1([&] { return slow; }, 1000);
  for (int i = 0; i < 20; ++i) {
    auto sent = p0.now();
    auto got = p1.update(sent);
    ASSERT_TRUE(got);
    EXPECT_LT(sent, *got);
    auto reply = p1.now();
    auto back = p0.update(reply);
    ASSERT_TRUE(back);
    EXPECT_LT(reply, *back);
    ++slow;
  }
}

TEST(TrueTime, IntervalBoundsAndCommitWait) {
  std::int64_t physical = 1000, epsilon = 5;
  TrueTimeClock clock([&] { return physical; }, [&] { return epsilon; });
  auto interval = clock.now();
  EXPECT_EQ(interval.earliest, 995);
  EXPECT_EQ(interval.latest, 1005);
  EXPECT_TRUE(clock.after(994));
  EXPECT_FALSE(clock.after(995));
  EXPECT_TRUE(clock.before(1006));
  EXPECT_FALSE(clock.before(1005));
  // Commit wait for timestamp s = latest: wait until s is definitely in the past.
  const std::int64_t commit_timestamp = interval.latest;
  const std::int64_t wait = clock.wait_until_after(commit_timestamp);
  EXPECT_EQ(wait, 11);
  physical += wait - 1;
  EXPECT_FALSE(clock.after(commit_timestamp));
  physical += 1;
  EXPECT_TRUE(clock.after(commit_timestamp));
  EXPECT_EQ(clock.wait_until_after(commit_timestamp), 0);
  // More uncertainty means a wider interval and a longer wait.
  epsilon = 50;
  EXPECT_EQ(clock.now().latest - clock.now().earliest, 100);
  epsilon = -1;
  EXPECT_THROW(clock.now(), std::logic_error);
}

}  // namespace
}  // namespace homestead::clocks
