// The at-most-once duplicate filter as a pure object: verdicts, acknowledgements, bounds,
// TTL, the 100,000-client memory bound, and snapshot round trips (what a replicated state
// machine relies on for exactly-once).
#include <gtest/gtest.h>

#include "cloud/rpc/duplicate_filter.h"
#include "common/sim/rng.h"
#include "tests/support/seeds.h"

namespace homestead::rpc {
namespace {

using Verdict = DuplicateFilter::Verdict;

TEST(DuplicateFilter, RepeatGetsSavedReplyAndIsNotExecutedAgain) {
  DuplicateFilter filter;
  EXPECT_EQ(filter.check(1, 1, 0, 100).verdict, Verdict::execute);
  EXPECT_EQ(filter.check(1, 1, 0, 101).verdict, Verdict::in_progress);
  filter.complete(1, 1, {ErrorKind::ok, "reply-1"}, 102);
  const auto again = filter.check(1, 1, 0, 103);
  EXPECT_EQ(again.verdict, Verdict::duplicate);
  EXPECT_EQ(again.saved.body, "reply-1");
  EXPECT_EQ(again.saved.kind, ErrorKind::ok);
  EXPECT_EQ(filter.check(2, 1, 0, 104).verdict, Verdict::execute);  // other clients are separate
}

TEST(DuplicateFilter, RemoteErrorsAreSavedToo) {
  DuplicateFilter filter;
  ASSERT_EQ(filter.check(1, 1, 0, 0).verdict, Verdict::execute);
  filter.complete(1, 1, {ErrorKind::remote, "no such key"}, 0);
  EXPECT_EQ(filter.check(1, 1, 0, 0).saved.kind, ErrorKind::remote);
}

TEST(DuplicateFilter, AbandonedRequestMayRunLater) {
  DuplicateFilter filter;
  ASSERT_EQ(filter.check(1, 1, 0, 0).verdict, Verdict::execute);
  filter.abandon(1, 1);
  EXPECT_EQ(filter.check(1, 1, 0, 0).verdict, Verdict::execute);
}

TEST(DuplicateFilter, AckDropsRepliesAndRefusesAcknowledgedSequences) {
  DuplicateFilter filter;
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_EQ(filter.check(1, seq, 0, 0).verdict, Verdict::execute);
    filter.complete(1, seq, {ErrorKind::ok, "r"}, 0);
  }
  EXPECT_EQ(filter.saved_reply_count(), 3u);
  EXPECT_EQ(filter.check(1, 4, 2, 0).verdict, Verdict::execute);  // acks 1 and 2
  EXPECT_EQ(filter.saved_reply_count(), 1u);
  const auto stale = filter.check(1, 2, 2, 0);
  EXPECT_EQ(stale.verdict, Verdict::stale);
  EXPECT_NE(stale.reason.find("already acknowledged"), std::string::npos);
  EXPECT_EQ(filter.check(1, 3, 2, 0).verdict, Verdict::duplicate);
}

TEST(DuplicateFilter, PerClientCapRaisesTheFloorInsteadOfForgetting) {
  DuplicateFilter filter({.max_clients = 10, .max_saved_per_client = 4, .ttl_us = 1'000'000});
  for (std::uint64_t seq = 1; seq <= 10; ++seq) {
    ASSERT_EQ(filter.check(1, seq, 0, 0).verdict, Verdict::execute);
    filter.complete(1, seq, {ErrorKind::ok, "r"}, 0);
  }
  EXPECT_EQ(filter.saved_reply_count(), 4u);
  // Seq 3's reply was dropped for space: a late repeat is refused, never executed again.
  EXPECT_EQ(filter.check(1, 3, 0, 0).verdict, Verdict::stale);
  EXPECT_EQ(filter.check(1, 10, 0, 0).verdict, Verdict::duplicate);
}

TEST(DuplicateFilter, TtlForgetsIdleClientsAndTheyCannotSneakBackIn) {
  DuplicateFilter filter({.max_clients = 100, .max_saved_per_client = 16, .ttl_us = 1000});
  ASSERT_EQ(filter.check(1, 1, 0, 0).verdict, Verdict::execute);
  filter.complete(1, 1, {ErrorKind::ok, "r"}, 0);
  ASSERT_EQ(filter.check(2, 1, 0, 900).verdict, Verdict::execute);
  filter.complete(2, 1, {ErrorKind::ok, "r"}, 900);
  filter.expire(1500);
  EXPECT_EQ(filter.client_count(), 1u);  // client 1 idle > 1000 us, client 2 not
  const auto back = filter.check(1, 2, 1, 1600);
  EXPECT_EQ(back.verdict, Verdict::stale);
  EXPECT_NE(back.reason.find("session expired"), std::string::npos);
}

TEST(DuplicateFilter, StaysBoundedUnder100000Clients) {
  const DuplicateFilter::Options options{.max_clients = 5'000, .max_saved_per_client = 8, .ttl_us = 60'000'000};
  DuplicateFilter filter(options);
  std::size_t peak_clients = 0, peak_replies = 0, peak_bytes = 0;
  std::int64_t now = 0;
  // 100,000 clients, each making 3 calls; the third acknowledges the first.
  for (std::uint64_t client = 1; client <= 100'000; ++client) {
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
      const std::uint64_t ack = seq == 3 ? 1 : 0;
      ASSERT_EQ(filter.check(client, seq, ack, ++now).verdict, Verdict::execute);
      filter.complete(client, seq, {ErrorKind::ok, std::string(32, 'r')}, now);
    }
    peak_clients = std::max(peak_clients, filter.client_count());
    peak_replies = std::max(peak_replies, filter.saved_reply_count());
    peak_bytes = std::max(peak_bytes, filter.saved_bytes());
  }
  EXPECT_EQ(peak_clients, 5'000u);
  EXPECT_EQ(filter.client_count(), 5'000u);
  EXPECT_EQ(peak_replies, 5'000u * 2);  // the acknowledged first reply of each is gone
  EXPECT_EQ(peak_bytes, 5'000u * 2 * 32);
  // Everyone idle past the TTL: nothing left.
  filter.expire(now + options.ttl_us + 1);
  EXPECT_EQ(filter.client_count(), 0u);
  EXPECT_EQ(filter.saved_reply_count(), 0u);
  EXPECT_EQ(filter.saved_bytes(), 0u);
}

TEST(DuplicateFilter, SnapshotRestoresTheSameDecisions) {
  homestead::testing::for_each_seed(20, [](std::uint64_t seed) {
    sim::Rng rng(seed);
    DuplicateFilter original({.max_clients = 8, .max_saved_per_client = 4, .ttl_us = 5'000});
    for (int step = 0; step < 300; ++step) {
      const auto client = static_cast<std::uint64_t>(rng.uniform(1, 12));
      const auto seq = static_cast<std::uint64_t>(rng.uniform(1, 20));
      const auto ack = static_cast<std::uint64_t>(rng.uniform(0, 3));
      if (original.check(client, seq, ack, step * 50).verdict == Verdict::execute) {
        if (rng.chance(0.1)) {
          original.abandon(client, seq);
        } else {
          original.complete(client, seq, {ErrorKind::ok, std::to_string(step)}, step * 50);
        }
      }
    }
    const auto snapshot = original.to_json();
    DuplicateFilter restored = DuplicateFilter::from_json(nlohmann::json::from_msgpack(nlohmann::json::to_msgpack(snapshot)));
    ASSERT_EQ(restored.to_json(), snapshot);
    EXPECT_EQ(restored.client_count(), original.client_count());
    EXPECT_EQ(restored.saved_bytes(), original.saved_bytes());
    // Both copies now answer the same questions the same way (as replicas must).
    for (int probe = 0; probe < 100; ++probe) {
      const auto client = static_cast<std::uint64_t>(rng.uniform(1, 12));
      const auto seq = static_cast<std::uint64_t>(rng.uniform(1, 20));
      const auto a = original.check(client, seq, 0, 15'000 + probe);
      const auto b = restored.check(client, seq, 0, 15'000 + probe);
      ASSERT_EQ(a.verdict, b.verdict) << "probe " << probe;
      ASSERT_EQ(a.saved.body, b.saved.body);
    }
  });
}

TEST(DuplicateFilter, BadSnapshotNamesTheField) {
  nlohmann::json doc = DuplicateFilter().to_json();
  doc["clients"] = {{{"id", 1}, {"acked_through", 0}, {"saved", nlohmann::json::array()}}};
  try {
    DuplicateFilter::from_json(doc);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("clients[0].last_seen_us"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace homestead::rpc
