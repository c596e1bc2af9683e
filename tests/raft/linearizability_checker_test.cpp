// The linearizability checker itself, on small hand-written histories whose verdicts follow
// from the definition (each case says why).
#include <gtest/gtest.h>

#include "tests/support/linearizability.h"

namespace homestead::testing {
namespace {

KvOperation put(int client, std::string key, std::string value, std::int64_t call, std::int64_t ret) {
  KvOperation op;
  op.client = client;
  op.input = {KvInput::Kind::put, std::move(key), std::move(value), std::nullopt};
  op.call = call;
  op.ret = ret;
  return op;
}

KvOperation get(int client, std::string key, std::optional<std::string> seen, std::int64_t call, std::int64_t ret) {
  KvOperation op;
  op.client = client;
  op.input = {KvInput::Kind::get, std::move(key), "", std::nullopt};
  op.output.value = std::move(seen);
  op.call = call;
  op.ret = ret;
  return op;
}

KvOperation cas(int client, std::string key, std::optional<std::string> expected, std::string value, bool ok,
                std::int64_t call, std::int64_t ret) {
  KvOperation op;
  op.client = client;
  op.input = {KvInput::Kind::cas, std::move(key), std::move(value), std::move(expected)};
  op.output.succeeded = ok;
  op.call = call;
  op.ret = ret;
  return op;
}

KvOperation unknown(KvOperation op) {
  op.unknown = true;
  return op;
}

Linearizability verdict(const std::vector<KvOperation>& history) {
  return check_linearizable<KvModel>(history).result;
}

TEST(LinearizabilityChecker, SequentialHistoryIsLinearizable) {
  EXPECT_EQ(verdict({put(0, "x", "1", 0, 10), get(1, "x", "1", 20, 30), put(0, "x", "2", 40, 50),
                     get(1, "x", "2", 60, 70)}),
            Linearizability::ok);
}

TEST(LinearizabilityChecker, StaleReadAfterCompletedWriteIsAViolation) {
  // put(2) finished at 50 before the get started at 60, so reading "1" is stale.
  const auto report = check_linearizable<KvModel>(
      {put(0, "x", "1", 0, 10), put(0, "x", "2", 40, 50), get(1, "x", "1", 60, 70)});
  EXPECT_EQ(report.result, Linearizability::violation);
  EXPECT_NE(report.explanation.find("get(x) -> '1'"), std::string::npos) << report.explanation;
}

TEST(LinearizabilityChecker, ReadConcurrentWithWriteMaySeeEitherValue) {
  EXPECT_EQ(verdict({put(0, "x", "1", 0, 10), put(0, "x", "2", 20, 60), get(1, "x", "1", 30, 40)}),
            Linearizability::ok);
  EXPECT_EQ(verdict({put(0, "x", "1", 0, 10), put(0, "x", "2", 20, 60), get(1, "x", "2", 30, 40)}),
            Linearizability::ok);
}

TEST(LinearizabilityChecker, ReadsMustNotGoBackInTime) {
  // Both reads overlap the write, but once a read returned "2", a later read cannot see "1".
  EXPECT_EQ(verdict({put(0, "x", "1", 0, 10), put(0, "x", "2", 20, 100), get(1, "x", "2", 30, 40),
                     get(2, "x", "1", 50, 60)}),
            Linearizability::violation);
}

TEST(LinearizabilityChecker, UnknownWriteMayTakeEffectLateOrNever) {
  // A timed-out put may apply after later reads...
  EXPECT_EQ(verdict({unknown(put(0, "x", "1", 0, 0)), get(1, "x", std::nullopt, 20, 30), get(1, "x", "1", 40, 50)}),
            Linearizability::ok);
  // ...or never.
  EXPECT_EQ(verdict({unknown(put(0, "x", "1", 0, 0)), get(1, "x", std::nullopt, 20, 30)}), Linearizability::ok);
  // But not before it was called.
  EXPECT_EQ(verdict({get(1, "x", "1", 0, 10), unknown(put(0, "x", "1", 20, 0))}), Linearizability::violation);
}

TEST(LinearizabilityChecker, CompareAndSwapExecutedTwiceIsCaught) {
  // The client saw its cas fail, yet the value it would have written is there: only a
  // duplicate execution (no exactly-once filter) explains it.
  EXPECT_EQ(verdict({put(0, "x", "a", 0, 10), cas(1, "x", "a", "b", false, 20, 30), get(2, "x", "b", 40, 50)}),
            Linearizability::violation);
  EXPECT_EQ(verdict({put(0, "x", "a", 0, 10), cas(1, "x", "a", "b", true, 20, 30), get(2, "x", "b", 40, 50)}),
            Linearizability::ok);
}

TEST(LinearizabilityChecker, KeysArePartitionedIndependently) {
  std::vector<KvOperation> history;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "k" + std::to_string(i % 10);
    history.push_back(put(i % 4, key, std::to_string(i), i * 10, i * 10 + 25));  // overlapping writes
    history.push_back(get((i + 1) % 4, key, std::to_string(i), i * 10 + 26, i * 10 + 27));
  }
  const auto report = check_linearizable<KvModel>(history);
  EXPECT_EQ(report.result, Linearizability::ok) << report.explanation;
  history.push_back(get(9, "k3", "3", 5000, 5001));  // long after k3 was overwritten
  EXPECT_EQ(verdict(history), Linearizability::violation);
}

}  // namespace
}  // namespace homestead::testing
