// Unit tests for the policy evaluation and the lock table.
#include <gtest/gtest.h>

#include "transactuation/lock_table.h"
#include "transactuation/policy.h"

namespace homestead::transactuation {
namespace {

TEST(Quorum, HoldsAndStillPossible) {
  EXPECT_TRUE(Quorum::all().holds(3, 3));
  EXPECT_FALSE(Quorum::all().holds(2, 3));
  EXPECT_TRUE(Quorum::any().holds(1, 3));
  EXPECT_FALSE(Quorum::any().holds(0, 3));
  EXPECT_TRUE(Quorum::any().holds(0, 0));
  EXPECT_TRUE(Quorum::at_least(2).holds(2, 3));
  EXPECT_FALSE(Quorum::at_least(2).holds(1, 3));
  EXPECT_FALSE(Quorum::at_least(2).holds(1, 1));
  EXPECT_TRUE(Quorum::none().holds(0, 5));
  EXPECT_TRUE(Quorum::all().still_possible(2, 1, 3));
  EXPECT_FALSE(Quorum::all().still_possible(1, 1, 3));
  EXPECT_FALSE(Quorum::at_least(3).still_possible(1, 1, 4));
  EXPECT_EQ(Quorum::at_least(2).text(), "AT_LEAST 2");
}

TEST(TimeWindow, PlainAndWrappingMidnight) {
  const TimeWindow day{8 * 3600, 18 * 3600};
  EXPECT_TRUE(day.contains(12 * 3600 * kSecond, 0));
  EXPECT_FALSE(day.contains(18 * 3600 * kSecond, 0));
  EXPECT_FALSE(day.contains(7 * 3600 * kSecond, 0));
  const TimeWindow night{22 * 3600, 6 * 3600};
  EXPECT_TRUE(night.contains(23 * 3600 * kSecond, 0));
  EXPECT_TRUE(night.contains((24 + 2) * 3600 * kSecond, 0));  // the next day at 02:00
  EXPECT_FALSE(night.contains(12 * 3600 * kSecond, 0));
  // 20:00 UTC is 22:30 at UTC+2:30.
  EXPECT_TRUE(night.contains(20 * 3600 * kSecond, (2 * 3600 + 1800) * kSecond));
  EXPECT_EQ(night.text(), "22:00-06:00");
}

TEST(TimeWindow, ParsesTimeOfDay) {
  EXPECT_EQ(parse_time_of_day("22:00"), 22 * 3600);
  EXPECT_EQ(parse_time_of_day("06:30:15"), 6 * 3600 + 30 * 60 + 15);
  EXPECT_FALSE(parse_time_of_day("24:00"));
  EXPECT_FALSE(parse_time_of_day("7:5"));
  EXPECT_FALSE(parse_time_of_day("07:60"));
  EXPECT_FALSE(parse_time_of_day("07:00x"));
}

struct Readings {
  std::map<SensorRef, Reading> by_ref;
  void add(const std::string& device, Json value, Time device_time, Time received) {
    by_ref[SensorRef{device, "v"}] = Reading{device, "v", std::move(value), device_time, received};
  }
  LatestReading lookup() const {
    return [this](const SensorRef& ref) -> const Reading* {
      auto it = by_ref.find(ref);
      return it == by_ref.end() ? nullptr : &it->second;
    };
  }
};

TEST(SensingPolicy, FreshnessFailuresAndQuorum) {
  Readings readings;
  const Time now = 100 * kSecond;
  readings.add("fresh", 1, now - 2 * kSecond, now - 2 * kSecond);
  readings.add("stale", 2, now - 20 * kSecond, now - 20 * kSecond);
  readings.add("failed", nullptr, now, now);
  // A device clock running ahead cannot make an old message look fresh.
  readings.add("ahead", 3, now + 50 * kSecond, now - 30 * kSecond);
  SensingPolicy policy;
  policy.sensors = {{"fresh", "v"}, {"stale", "v"}, {"failed", "v"}, {"ahead", "v"}, {"missing", "v"}};
  policy.freshness = 10 * kSecond;

  policy.require = Quorum::all();
  SensingCheck check = check_sensing(policy, readings.lookup(), now);
  EXPECT_FALSE(check.satisfied);
  ASSERT_EQ(check.usable.size(), 1u);
  EXPECT_EQ(check.usable.begin()->first.device, "fresh");
  ASSERT_EQ(check.failures.size(), 4u);
  EXPECT_EQ(check.failures[0], "stale.v: stale (age 20000 ms > 10000 ms)");
  EXPECT_EQ(check.failures[1], "failed.v: sensor reports failure");
  EXPECT_EQ(check.failures[2], "ahead.v: stale (age 30000 ms > 10000 ms)");
  EXPECT_EQ(check.failures[3], "missing.v: no reading");

  policy.require = Quorum::any();
  EXPECT_TRUE(check_sensing(policy, readings.lookup(), now).satisfied);
  policy.require = Quorum::at_least(2);
  EXPECT_FALSE(check_sensing(policy, readings.lookup(), now).satisfied);
  readings.add("stale", 2, now - 1 * kSecond, now);
  EXPECT_TRUE(check_sensing(policy, readings.lookup(), now).satisfied);
}

TEST(LockTable, SharedReadersExclusiveWritersFifo) {
  LockTable locks;
  locks.enqueue(1, {{"device:a", LockMode::shared}});
  locks.enqueue(2, {{"device:a", LockMode::shared}});
  locks.enqueue(3, {{"device:a", LockMode::exclusive}});
  locks.enqueue(4, {{"device:a", LockMode::shared}});  // behind the writer: no overtaking
  EXPECT_TRUE(locks.granted(1));
  EXPECT_TRUE(locks.granted(2));
  EXPECT_FALSE(locks.granted(3));
  EXPECT_FALSE(locks.granted(4));
  EXPECT_EQ(locks.blockers(3), (std::vector<TxnId>{1, 2}));
  locks.release(1);
  locks.release(2);
  EXPECT_TRUE(locks.granted(3));
  EXPECT_FALSE(locks.granted(4));
  locks.release(3);
  EXPECT_TRUE(locks.granted(4));
  locks.release(4);
  EXPECT_EQ(locks.queued_resources(), 0u);
}

TEST(LockTable, NonConflictingRunInParallelAndNoDeadlock) {
  LockTable locks;
  // 1 and 2 want {a, b} in opposite orders: classic deadlock under incremental 2PL. Here
  // both queue all at once, so 2 simply waits for 1.
  locks.enqueue(1, {{"device:a", LockMode::exclusive}, {"device:b", LockMode::exclusive}});
  locks.enqueue(2, {{"device:b", LockMode::exclusive}, {"device:a", LockMode::exclusive}});
  locks.enqueue(3, {{"device:c", LockMode::exclusive}});
  EXPECT_TRUE(locks.granted(1));
  EXPECT_FALSE(locks.granted(2));
  EXPECT_TRUE(locks.granted(3));  // touches nothing of 1 or 2
  locks.release(1);
  EXPECT_TRUE(locks.granted(2));
}

TEST(LockTable, NormalizeMergesExclusiveWins) {
  const auto locks = normalize_locks({{"device:a", LockMode::shared}, {"state:x", LockMode::shared},
                                      {"device:a", LockMode::exclusive}});
  ASSERT_EQ(locks.size(), 2u);
  EXPECT_EQ(locks[0], (LockRequest{"device:a", LockMode::exclusive}));
  EXPECT_EQ(locks[1], (LockRequest{"state:x", LockMode::shared}));
}

}  // namespace
}  // namespace homestead::transactuation
