// Invocation semantics under injected faults (seeded): 10 clients x 100 appends to one key
// with 20% of requests and 20% of replies dropped and 10% duplicated, over the real tcp
// tcp and http transports. Through the at-most-once method every append appears exactly once and in each
// client's order; through the at-least-once method the duplicates show.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "cloud/rpc/fault_injector.h"
#include "cloud/rpc/stub.h"
#include "tests/rpc/transport_fixture.h"
#include "tests/support/seeds.h"

namespace homestead::rpc::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kClients = 10;
constexpr int kAppends = 100;

struct Outcome {
  std::vector<std::string> values;
  FaultStats faults;
  int failed_calls = 0;
  std::uint64_t duplicates_answered = 0;
};

template <class Method>
Outcome run_appends(Transport transport, std::uint64_t seed) {
  KvServer kv_server(transport);
  KvStore& store = kv_server.store;
  Server& server = kv_server.server;
  auto shared = kv_server.channel();
  Outcome outcome;
  std::vector<std::shared_ptr<FaultInjectingChannel>> faulty;
  std::vector<int> failures(kClients, 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    faulty.push_back(std::make_shared<FaultInjectingChannel>(
        shared, FaultOptions{.drop_request = 0.2, .drop_reply = 0.2, .duplicate = 0.1,
                             .max_delay = 2ms, .seed = seed * 1000 + static_cast<std::uint64_t>(c)}));
  }
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      // A short attempt timeout keeps lost messages cheap; many attempts make giving up
      // vanishingly unlikely, so every call is expected to succeed.
      Stub<KvService> kv(faulty[c], StubOptions{.codec = c % 2 ? Codec::json : Codec::msgpack,
                                               .timeout = 20s,
                                               .attempt_timeout = 25ms,
                                               .retry = RetryPolicy{.max_attempts = 100,
                                                                    .initial_backoff = 1ms,
                                                                    .max_backoff = 10ms}});
      for (int i = 0; i < kAppends; ++i) {
        const auto r = kv.call<Method>({"log", "c" + std::to_string(c) + "-" + std::to_string(i)});
        if (!r.ok()) ++failures[c];
      }
    });
  }
  for (auto& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) {
    outcome.failed_calls += failures[c];
    const auto s = faulty[c]->stats();
    outcome.faults.calls += s.calls;
    outcome.faults.requests_dropped += s.requests_dropped;
    outcome.faults.replies_dropped += s.replies_dropped;
    outcome.faults.duplicated += s.duplicated;
  }
  // Duplicates may still be in flight (delayed copies): wait for the server to go idle.
  server.drain(5s);
  outcome.values = store.get("log");
  outcome.duplicates_answered = server.stats().duplicates_answered;
  return outcome;
}

std::map<int, std::vector<int>> per_client(const std::vector<std::string>& values) {
  std::map<int, std::vector<int>> out;
  for (const auto& v : values) {
    const auto dash = v.find('-');
    out[std::stoi(v.substr(1, dash - 1))].push_back(std::stoi(v.substr(dash + 1)));
  }
  return out;
}

class Semantics : public ::testing::TestWithParam<Transport> {};

TEST_P(Semantics, AtMostOnceAppendsEachValueExactlyOnceInClientOrder) {
  homestead::testing::for_each_seed(2, [this](std::uint64_t seed) {
    const Outcome o = run_appends<KvService::Append>(GetParam(), seed);
    // The faults really happened (so the test can fail).
    EXPECT_GT(o.faults.requests_dropped, 100u);
    EXPECT_GT(o.faults.replies_dropped, 100u);
    EXPECT_GT(o.faults.duplicated, 50u);
    EXPECT_GT(o.duplicates_answered, 0u);
    EXPECT_EQ(o.failed_calls, 0);
    ASSERT_EQ(o.values.size(), static_cast<std::size_t>(kClients * kAppends));
    const auto by_client = per_client(o.values);
    ASSERT_EQ(by_client.size(), static_cast<std::size_t>(kClients));
    std::vector<int> expected(kAppends);
    for (int i = 0; i < kAppends; ++i) expected[i] = i;
    for (const auto& [client, seqs] : by_client) EXPECT_EQ(seqs, expected) << "client " << client;
  });
}

TEST_P(Semantics, AtLeastOnceAppendsShowTheDuplicates) {
  homestead::testing::for_each_seed(1, [this](std::uint64_t seed) {
    const Outcome o = run_appends<KvService::AppendAtLeastOnce>(GetParam(), seed);
    EXPECT_EQ(o.failed_calls, 0);
    EXPECT_EQ(o.duplicates_answered, 0u);
    // Every dropped reply and every duplicate that reached the server ran again.
    EXPECT_GT(o.values.size(), static_cast<std::size_t>(kClients * kAppends) + 100);
    std::map<std::string, int> counts;
    for (const auto& v : o.values) ++counts[v];
    EXPECT_EQ(counts.size(), static_cast<std::size_t>(kClients * kAppends));  // but nothing lost
    int repeated = 0;
    for (const auto& [value, n] : counts) repeated += n > 1;
    EXPECT_GT(repeated, 100);
  });
}

INSTANTIATE_TEST_SUITE_P(Transports, Semantics, ::testing::Values(Transport::tcp, Transport::http),
                         [](const auto& info) { return transport_name(info.param); });

}  // namespace
}  // namespace homestead::rpc::testing
