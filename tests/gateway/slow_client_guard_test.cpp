// The slow-client guard's decision: nothing is closed below the worker count; at or above
// it, every connection without a completed request within the grace period is closed,
// longest-stalled first; a recent request protects a connection.
#include "gateway/slow_client_guard.h"

#include <gtest/gtest.h>

using homestead::gateway::connections_to_close;
using homestead::gateway::ObservedConnection;

namespace {
ObservedConnection conn(int fd, std::int64_t first_seen, std::int64_t last_request = -1) {
  return {fd, "127.0.0.1:" + std::to_string(40000 + fd), first_seen, last_request};
}
}  // namespace

TEST(SlowClientGuard, BelowTheWorkerCountNothingIsClosed) {
  const std::vector<ObservedConnection> open = {conn(5, 0), conn(6, 0), conn(7, 0)};
  EXPECT_TRUE(connections_to_close(open, 1'000'000, 4, 1000).empty());
}

TEST(SlowClientGuard, AtTheWorkerCountStalledConnectionsAreClosedOldestFirst) {
  const std::vector<ObservedConnection> open = {conn(5, 3000), conn(6, 1000), conn(7, 4500), conn(8, 2000)};
  // now 5000, grace 1000: 7 (seen 500 ms ago) is kept; the others stalled since 1000, 2000, 3000.
  EXPECT_EQ(connections_to_close(open, 5000, 4, 1000), (std::vector<int>{6, 8, 5}));
}

TEST(SlowClientGuard, ARecentRequestProtectsAConnection) {
  const std::vector<ObservedConnection> open = {conn(5, 0, 4800), conn(6, 0, 3000), conn(7, 0)};
  EXPECT_EQ(connections_to_close(open, 5000, 3, 1000), (std::vector<int>{7, 6}));
}

TEST(SlowClientGuard, GraceIsInclusive) {
  const std::vector<ObservedConnection> open = {conn(5, 4000), conn(6, 4001)};
  EXPECT_EQ(connections_to_close(open, 5000, 2, 1000), (std::vector<int>{5}));
}
