// LeaseTable (gateway/lease_table.h), the pure decisions behind shared-device leases:
// fixed scenarios with concrete times, and a seeded simulation of two gateways against a
// model of the cloud's lease state machine (cloud/services: expiry from the time the entry
// applies, a new fencing token on every new grant) with random RPC delays, lost replies,
// idle periods and a crash of one gateway. Invariant: whenever a table says it holds the
// lease, the cloud agrees (same holder, same token, not expired), and every waiter gets
// exactly one outcome.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/sim/rng.h"
#include "gateway/lease_table.h"
#include "tests/support/seeds.h"

namespace hg = homestead::gateway;
using hg::LeaseAction;
using hg::LeaseTable;

namespace {

const hg::LeaseTiming kTiming{9000, 2000, 18000};

std::vector<LeaseAction> acquires(const std::vector<LeaseAction>& actions) {
  std::vector<LeaseAction> out;
  for (const auto& a : actions)
    if (a.kind == LeaseAction::Kind::acquire) out.push_back(a);
  return out;
}

}  // namespace

TEST(LeaseTable, QueuesUntilGrantedThenUsesTheTokenAtOnce) {
  LeaseTable t(kTiming);
  EXPECT_FALSE(t.use("plug", 1, 1000));
  EXPECT_FALSE(t.use("plug", 2, 1010));
  const auto due = t.due(1020);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].kind, LeaseAction::Kind::acquire);
  EXPECT_EQ(due[0].device, "plug");
  EXPECT_TRUE(t.due(1030).empty()) << "one request in flight per device";
  const auto outcomes = t.on_reply("plug", 1020, {true, "gwA", 7});
  ASSERT_EQ(outcomes.size(), 2u);
  for (const auto& o : outcomes) {
    EXPECT_TRUE(o.granted);
    EXPECT_EQ(o.fencing_token, 7u);
    EXPECT_EQ(o.reason, "");
  }
  EXPECT_EQ(outcomes[0].waiter, 1u);
  EXPECT_EQ(outcomes[1].waiter, 2u);
  EXPECT_EQ(t.use("plug", 3, 1100), std::optional<std::uint64_t>(7));
  EXPECT_EQ(t.held_count(1100), 1u);
  // Valid from the SEND time for 9/10 of the TTL: 1020 + 8100.
  EXPECT_TRUE(t.holds("plug", 9119));
  EXPECT_FALSE(t.holds("plug", 9120));
}

TEST(LeaseTable, HeldByAnotherGatewayRefusesEveryWaiterNamingIt) {
  LeaseTable t(kTiming);
  t.use("plug", 1, 0);
  ASSERT_EQ(t.due(0).size(), 1u);
  const auto outcomes = t.on_reply("plug", 0, {false, "gwA", 3});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_FALSE(outcomes[0].granted);
  EXPECT_EQ(outcomes[0].fencing_token, 0u);
  EXPECT_EQ(outcomes[0].reason, "lease_held_by:gwA");
  EXPECT_FALSE(t.holds("plug", 1));
  // The next command asks again (the other holder may be gone by then).
  EXPECT_FALSE(t.use("plug", 2, 5000));
  EXPECT_EQ(acquires(t.due(5000)).size(), 1u);
}

TEST(LeaseTable, UnreachableCloudFailsAtOnceOrAtTheDeadline) {
  LeaseTable t(kTiming);
  t.use("plug", 1, 0);
  t.due(0);
  const auto failed = t.on_failed("plug");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].reason, "lease_unavailable");
  // A slow cloud: the waiter fails at its deadline while the RPC is still out.
  t.use("plug", 2, 10000);
  t.due(10000);
  EXPECT_TRUE(t.expire(11999).empty());
  const auto expired = t.expire(12000);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].waiter, 2u);
  EXPECT_EQ(expired[0].reason, "lease_unavailable");
  // Its late reply grants the lease but has nobody left to answer.
  EXPECT_TRUE(t.on_reply("plug", 10000, {true, "gwB", 4}).empty());
  EXPECT_TRUE(t.holds("plug", 12001));
}

TEST(LeaseTable, RenewsEveryThirdOfTheTtlWhileUsedAndReleasesWhenIdle) {
  LeaseTable t(kTiming);
  t.use("plug", 1, 0);
  t.due(0);
  t.on_reply("plug", 0, {true, "gwA", 5});
  EXPECT_TRUE(t.due(2999).empty());
  auto renew = t.due(3000);
  ASSERT_EQ(renew.size(), 1u);
  EXPECT_EQ(renew[0].kind, LeaseAction::Kind::acquire);
  t.on_reply("plug", 3000, {true, "gwA", 5});
  EXPECT_TRUE(t.holds("plug", 3000 + 8099));
  // Kept renewed while in use ...
  EXPECT_EQ(t.use("plug", 2, 5000), std::optional<std::uint64_t>(5));
  ASSERT_EQ(t.due(6000).size(), 1u);
  t.on_reply("plug", 6000, {true, "gwA", 5});
  // ... not renewed once idle longer than idle_release_ms (last use 5000), but released.
  t.due(9000);
  t.on_reply("plug", 9000, {true, "gwA", 5});
  t.due(12000);
  t.on_reply("plug", 12000, {true, "gwA", 5});
  t.due(15000);
  t.on_reply("plug", 15000, {true, "gwA", 5});
  const auto release = t.due(23001);
  ASSERT_EQ(release.size(), 1u);
  EXPECT_EQ(release[0].kind, LeaseAction::Kind::release);
  EXPECT_FALSE(t.holds("plug", 23001)) << "stops using it before the cloud hears of the release";
  t.on_released("plug");
  EXPECT_TRUE(t.due(40000).empty());
}

namespace {

// The cloud's lease (services_state.cpp), one name.
struct CloudLease {
  int holder = -1;
  std::int64_t expires_ms = 0;
  std::uint64_t token = 0;
  std::uint64_t next_token = 1;
  hg::LeaseAnswer acquire(int who, std::int64_t now, std::int64_t ttl) {
    const bool live = token != 0 && expires_ms > now;
    if (live && holder != who) return {false, "gw" + std::to_string(holder), token};
    if (!live || holder != who) token = next_token++;
    holder = who;
    expires_ms = now + ttl;
    return {true, "gw" + std::to_string(who), token};
  }
  void release(int who) {
    if (holder == who) expires_ms = 0;
  }
};

struct InFlight {
  int gateway;
  int incarnation;
  LeaseAction action;
  std::int64_t sent, apply_at, reply_at;
  bool lost;
  std::optional<hg::LeaseAnswer> answer;
};

}  // namespace

TEST(LeaseTableSim, TwoGatewaysNeverBothHoldAndEveryWaiterIsAnsweredOnce) {
  homestead::testing::for_each_seed(30, [&](std::uint64_t seed) {
    homestead::sim::Rng rng(seed);
    CloudLease cloud;
    std::vector<std::unique_ptr<LeaseTable>> tables;
    tables.push_back(std::make_unique<LeaseTable>(kTiming));
    tables.push_back(std::make_unique<LeaseTable>(kTiming));
    int incarnation[2] = {0, 0};
    std::int64_t down_until[2] = {0, 0};
    std::vector<InFlight> flights;
    std::set<std::uint64_t> open;
    std::map<std::uint64_t, int> owner;
    std::uint64_t next_waiter = 0;
    std::uint64_t grants = 0, refusals = 0, last_new_token = 0;
    // Lost replies (cloud unreachable), up to a third of them: renewals fail in a row.
    const double loss = 0.05 + static_cast<double>(seed % 4) * 0.1;
    const auto settle = [&](const std::vector<hg::LeaseOutcome>& outcomes, int g) {
      for (const auto& o : outcomes) {
        ASSERT_EQ(open.erase(o.waiter), 1u) << "waiter " << o.waiter << " answered twice or never asked";
        ASSERT_EQ(owner[o.waiter], g);
        if (o.granted) {
          ++grants;
          ASSERT_EQ(o.fencing_token, cloud.token);
        } else {
          ++refusals;
          ASSERT_TRUE(o.reason == "lease_unavailable" || o.reason.rfind("lease_held_by:gw", 0) == 0) << o.reason;
        }
      }
    };
    for (std::int64_t now = 0; now < 150000; now += 10) {
      for (int g = 0; g < 2; ++g) {
        if (now < down_until[g]) continue;
        auto& t = *tables[g];
        // 25 s bursts of use and 25 s idle gaps (past idle_release_ms), the two gateways'
        // bursts half overlapping (shifted by a seeded amount).
        const std::int64_t shift = g == 0 ? 0 : 10000 + static_cast<std::int64_t>(seed % 5) * 1000;
        const bool busy = ((now + shift) / 25000) % 2 == 0;
        if (busy && rng.chance(0.02)) {
          const auto w = ++next_waiter;
          owner[w] = g;
          if (auto token = t.use("plug", w, now)) {
            ++grants;
            ASSERT_EQ(*token, cloud.token);
          } else {
            open.insert(w);
          }
        }
        for (const auto& a : t.due(now)) {
          const auto apply = now + rng.uniform(1, 40) * 10;
          // Gateway 1 is cut off from the cloud for 12 s once: every call in that window is lost.
          const std::int64_t cut = 50000 + static_cast<std::int64_t>(seed % 10) * 1000;
          const bool partitioned = g == 1 && now >= cut && now < cut + 12000;
          flights.push_back(
              {g, incarnation[g], a, now, apply, apply + rng.uniform(1, 40) * 10, partitioned || rng.chance(loss), {}});
        }
        settle(t.expire(now), g);
      }
      // A crash of gateway 0 (once): its table is gone; waiters die with it.
      if (now == 30000 + static_cast<std::int64_t>(seed % 20) * 1000) {
        for (auto it = open.begin(); it != open.end();) it = owner[*it] == 0 ? open.erase(it) : std::next(it);
        tables[0] = std::make_unique<LeaseTable>(kTiming);
        ++incarnation[0];
        down_until[0] = now + rng.uniform(0, 15000);
      }
      for (auto& f : flights) {
        if (f.apply_at == now && !f.lost) {
          if (f.action.kind == LeaseAction::Kind::acquire) {
            const auto before = cloud.token;
            f.answer = cloud.acquire(f.gateway, now, kTiming.ttl_ms);
            if (cloud.token != before) {
              ASSERT_GT(cloud.token, last_new_token);
              last_new_token = cloud.token;
            }
          } else {
            cloud.release(f.gateway);
          }
        }
      }
      for (auto it = flights.begin(); it != flights.end();) {
        if (it->reply_at != now) {
          ++it;
          continue;
        }
        if (it->incarnation == incarnation[it->gateway]) {
          auto& t = *tables[it->gateway];
          if (it->action.kind == LeaseAction::Kind::release) {
            t.on_released("plug");
          } else if (it->lost) {
            settle(t.on_failed("plug"), it->gateway);
          } else {
            settle(t.on_reply("plug", it->sent, *it->answer), it->gateway);
          }
        }
        it = flights.erase(it);
      }
      for (int g = 0; g < 2; ++g) {
        if (now < down_until[g] || !tables[g]->holds("plug", now)) continue;
        ASSERT_EQ(cloud.holder, g) << "t=" << now;
        ASSERT_GT(cloud.expires_ms, now) << "t=" << now;
        ASSERT_EQ(tables[g]->token("plug", now), std::optional<std::uint64_t>(cloud.token)) << "t=" << now;
      }
    }
    for (int g = 0; g < 2; ++g) settle(tables[g]->expire(INT64_MAX), g);
    EXPECT_TRUE(open.empty());
    EXPECT_GT(grants, 0u);
    EXPECT_GT(last_new_token, 1u) << "the lease changed hands at least once";
  });
}
