// Unit tests of the pure cloud services state machine (cloud/services): every rule through
// apply() exactly as cloudd replicas run it, plus seeded determinism (same operations ->
// same state hash, snapshot round trip).
#include <gtest/gtest.h>

#include <random>

#include "cloud/services/ops.h"
#include "cloud/services/services_state.h"
#include "tests/support/seeds.h"

namespace homestead::services {
namespace {

using sync_api::OutboxItem;
using sync_api::PushReply;
using sync_api::PushRequest;

// prefix + n, built by appending: g++ 12 -O3 reports a false -Wrestrict on "d" + std::string.
std::string numbered(std::string_view prefix, std::uint64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

const std::string kHashA = sha256_hex("token-a");
const std::string kHashB = sha256_hex("token-b");

OutboxItem reported(std::uint64_t seq, const std::string& device, const json& state, std::int64_t at = 0) {
  return OutboxItem{seq, "reported", at ? at : static_cast<std::int64_t>(1000 + seq),
                    json{{"device", device}, {"state", state}}.dump()};
}
OutboxItem transactuation(std::uint64_t seq, const std::string& app, const std::string& outcome, std::int64_t at) {
  return OutboxItem{seq, "transactuation", at,
                    json{{"id", numbered("run-", seq)}, {"app", app}, {"outcome", outcome}}.dump()};
}

class Services : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(state.apply(ops::create_home("h1", "Home one"), 100).contains("error"));
    ASSERT_FALSE(state.apply(ops::create_home("h2", ""), 100).contains("error"));
    ASSERT_FALSE(state.apply(ops::add_gateway("h1", "gw1", kHashA), 100).contains("error"));
    ASSERT_FALSE(state.apply(ops::add_gateway("h2", "gw9", kHashB), 100).contains("error"));
  }
  PushReply push(const std::string& home, const std::string& gateway, std::vector<OutboxItem> items,
                 std::int64_t now = 200) {
    const json answer = state.apply(ops::push(PushRequest{home, gateway, std::move(items)}), now);
    EXPECT_FALSE(answer.contains("error")) << answer.dump();
    return rpc::from_document<PushReply>(answer);
  }
  json error_of(const json& answer) { return answer.contains("error") ? answer["error"] : json(); }

  ServicesState state;
};

TEST_F(Services, RegistryRefusesDuplicatesUnknownHomesAndBadIds) {
  EXPECT_EQ(error_of(state.apply(ops::create_home("h1", ""), 1))["code"], "already_exists");
  EXPECT_EQ(error_of(state.apply(ops::add_gateway("nope", "g", kHashA), 1))["code"], "not_found");
  EXPECT_EQ(error_of(state.apply(ops::add_gateway("h1", "gw1", kHashB), 1))["code"], "already_exists");
  const json bad = error_of(state.apply(ops::create_home("has space", ""), 1));
  EXPECT_EQ(bad["code"], "invalid");
  EXPECT_EQ(bad["field"], "id");
  EXPECT_EQ(error_of(state.apply(json{{"op", "create_home"}}, 1))["field"], "id");
  EXPECT_EQ(error_of(state.apply(json{{"op", "frobnicate"}}, 1))["field"], "op");
  EXPECT_EQ(state.homes().size(), 2u);
  EXPECT_EQ(state.home("h2")->name, "h2");  // name defaults to the id
  ASSERT_EQ(state.gateways("h1").size(), 1u);
  EXPECT_EQ(state.gateways("h1")[0]->token_sha256, kHashA);
  EXPECT_EQ(state.apply(ops::remove_gateway("h1", "gw1"), 1)["removed"], true);
  EXPECT_EQ(error_of(state.apply(ops::remove_gateway("h1", "gw1"), 1))["code"], "not_found");
}

TEST_F(Services, TokenHashFindsItsGatewayOnly) {
  const Gateway* a = state.gateway_by_token_hash(kHashA);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->home, "h1");
  EXPECT_EQ(a->id, "gw1");
  EXPECT_EQ(state.gateway_by_token_hash(sha256_hex("token-c")), nullptr);
  EXPECT_EQ(state.gateway_by_token_hash(""), nullptr);
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(Services, PushAppliesInOrderCountsDuplicatesAndReportsGaps) {
  auto r = push("h1", "gw1", {reported(1, "t1", {{"temp", 20}}), reported(2, "t1", {{"temp", 21}})});
  EXPECT_EQ(r.applied_through, 2u);
  EXPECT_EQ(r.applied, 2u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_EQ(r.rejected, "");
  // A resend of 1..3: 1 and 2 are duplicates, 3 applies.
  r = push("h1", "gw1", {reported(1, "t1", {{"temp", 20}}), reported(2, "t1", {{"temp", 21}}),
                         reported(3, "t1", {{"temp", 22}})});
  EXPECT_EQ(r.applied_through, 3u);
  EXPECT_EQ(r.applied, 1u);
  EXPECT_EQ(r.duplicates, 2u);
  // A gap: 5 without 4 applies nothing.
  r = push("h1", "gw1", {reported(5, "t1", {{"temp", 99}})});
  EXPECT_EQ(r.applied_through, 3u);
  EXPECT_EQ(r.applied, 0u);
  EXPECT_EQ(r.rejected, "gap: expected seq 4, got 5");
  EXPECT_EQ(state.device("h1", "t1")->reported, (json{{"temp", 22}}));
  // Items after a gap inside one batch are not applied either.
  r = push("h1", "gw1", {reported(4, "t1", {{"temp", 23}}), reported(6, "t1", {{"temp", 1}}),
                         reported(5, "t1", {{"temp", 24}})});
  EXPECT_EQ(r.applied_through, 4u);
  EXPECT_EQ(r.rejected, "gap: expected seq 5, got 6");
  EXPECT_EQ(state.device("h1", "t1")->reported, (json{{"temp", 23}}));
  EXPECT_EQ(state.gateway("h1", "gw1")->duplicates, 2u);
  EXPECT_EQ(state.counters().rejected, 2u);
}

TEST_F(Services, InvalidItemsAreRejectedNamingTheProblem) {
  auto r = push("h1", "gw1", {OutboxItem{1, "reported", 5, "not json"}});
  EXPECT_EQ(r.applied_through, 0u);
  EXPECT_NE(r.rejected.find("item seq 1: body is not valid JSON"), std::string::npos) << r.rejected;
  r = push("h1", "gw1", {OutboxItem{1, "reported", 5, R"({"device":"d","state":3})"}});
  EXPECT_EQ(r.rejected, "item seq 1: body field 'state' must be an object");
  r = push("h1", "gw1", {OutboxItem{1, "transactuation", 5, R"({"app":"a"})"}});
  EXPECT_EQ(r.rejected, "item seq 1: body field 'outcome' must be a non-empty string");
  r = push("h1", "gw1", {OutboxItem{1, "weird", 5, "{}"}});
  EXPECT_NE(r.rejected.find("unknown kind \"weird\""), std::string::npos);
  EXPECT_EQ(state.gateway("h1", "gw1")->applied_through, 0u);
}

TEST_F(Services, PushForAnotherHomeOrUnknownGatewayIsForbidden) {
  // gw1 is registered in h1, not h2: the cloud refuses to apply anything.
  const json answer = state.apply(ops::push(PushRequest{"h2", "gw1", {reported(1, "x", {{"on", true}})}}), 5);
  EXPECT_EQ(error_of(answer)["code"], "forbidden");
  EXPECT_EQ(state.device("h2", "x"), nullptr);
  EXPECT_EQ(error_of(state.apply(ops::push(PushRequest{"h1", "ghost", {}}), 5))["code"], "forbidden");
}

TEST_F(Services, ShadowVersionDeltaAndIfMatch) {
  push("h1", "gw1", {reported(1, "th", {{"setpoint", 20}, {"mode", "heat"}})});
  const Device* d = state.device("h1", "th");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->version, 1u);
  EXPECT_EQ(ServicesState::delta(*d), json::object());

  // If-Match with the current version: applied, version 2, delta shows the difference.
  json shadow = state.apply(ops::set_desired("h1", "th", {{"setpoint", 22}}, 1), 300);
  ASSERT_FALSE(shadow.contains("error")) << shadow.dump();
  EXPECT_EQ(shadow["version"], 2u);
  EXPECT_EQ(shadow["delta"], (json{{"setpoint", 22}}));
  EXPECT_EQ(shadow["metadata"]["desired_cursor"], 1u);

  // A stale If-Match: version_mismatch naming the current version, nothing changes.
  const json stale = error_of(state.apply(ops::set_desired("h1", "th", {{"setpoint", 25}}, 1), 301));
  EXPECT_EQ(stale["code"], "version_mismatch");
  EXPECT_EQ(stale["field"], "2");
  EXPECT_EQ(d->desired, (json{{"setpoint", 22}}));
  EXPECT_EQ(d->version, 2u);

  // Reported catches up: delta empties; an unchanged report does not bump the version.
  push("h1", "gw1", {reported(2, "th", {{"setpoint", 22}})});
  EXPECT_EQ(d->version, 3u);
  EXPECT_EQ(ServicesState::delta(*d), json::object());
  push("h1", "gw1", {reported(3, "th", {{"setpoint", 22}})});
  EXPECT_EQ(d->version, 3u);
  // null removes a desired attribute.
  state.apply(ops::set_desired("h1", "th", {{"setpoint", nullptr}, {"mode", "cool"}}, std::nullopt), 302);
  EXPECT_EQ(d->desired, (json{{"mode", "cool"}}));
  EXPECT_EQ(ServicesState::delta(*d), (json{{"mode", "cool"}}));
  EXPECT_EQ(d->version, 4u);
  EXPECT_EQ(error_of(state.apply(ops::set_desired("h1", "th", json::array(), std::nullopt), 1))["field"], "desired");
  EXPECT_EQ(error_of(state.apply(ops::set_desired("zz", "th", {{"a", 1}}, std::nullopt), 1))["code"], "not_found");
}

TEST_F(Services, VersionNeverGoesBackAndHistoryHasOneRowPerVersion) {
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    if (i % 3 == 0) {
      state.apply(ops::set_desired("h1", "lamp", {{"on", i % 2 == 0}}, std::nullopt), 400 + i);
    } else {
      push("h1", "gw1", {reported(state.gateway("h1", "gw1")->applied_through + 1, "lamp", {{"level", i}})});
    }
    const std::uint64_t v = state.device("h1", "lamp")->version;
    EXPECT_GT(v, last);
    last = v;
  }
  const auto& history = state.device("h1", "lamp")->history;
  ASSERT_EQ(history.size(), 20u);
  for (std::size_t i = 0; i < history.size(); ++i) EXPECT_EQ(history[i].version, i + 1);
  EXPECT_EQ(history[0].source, "desired");
  EXPECT_EQ(history[1].source, "reported");
  EXPECT_EQ(history[1].gateway, "gw1");
  EXPECT_EQ(history[1].change, (json{{"level", 1}}));
}

TEST_F(Services, HistoryKeepsTheNewestThousandVersions) {
  std::vector<OutboxItem> items;
  for (std::uint64_t s = 1; s <= kHistoryLimit + 100; ++s) items.push_back(reported(s, "busy", {{"n", s}}));
  push("h1", "gw1", items);
  const auto& history = state.device("h1", "busy")->history;
  ASSERT_EQ(history.size(), kHistoryLimit);
  EXPECT_EQ(history.front().version, 101u);
  EXPECT_EQ(history.back().version, kHistoryLimit + 100);
  EXPECT_EQ(history.back().change, (json{{"n", kHistoryLimit + 100}}));
}

TEST_F(Services, PullReturnsDesiredChangesAfterTheCursor) {
  for (int i = 1; i <= 5; ++i) state.apply(ops::set_desired("h1", numbered("d", i), {{"on", true}}, std::nullopt), 500 + i);
  state.apply(ops::set_desired("h2", "other", {{"on", true}}, std::nullopt), 600);
  push("h1", "gw1", {reported(1, "d1", {{"on", false}})});
  auto reply = state.pull(sync_api::PullRequest{"h1", "gw1", 2, 2});
  ASSERT_EQ(reply.changes.size(), 2u);
  EXPECT_EQ(reply.changes[0].cursor, 3u);
  EXPECT_EQ(reply.changes[0].device, "d3");
  EXPECT_EQ(json::parse(reply.changes[0].desired), (json{{"on", true}}));
  EXPECT_EQ(reply.changes[0].shadow_version, 1u);
  EXPECT_EQ(reply.changes[0].at_ms, 503);
  EXPECT_EQ(reply.changes[1].cursor, 4u);
  EXPECT_EQ(reply.latest_cursor, 5u);
  EXPECT_EQ(reply.applied_through, 1u);
  EXPECT_TRUE(state.pull(sync_api::PullRequest{"h1", "gw1", 5, 100}).changes.empty());
  EXPECT_EQ(state.pull(sync_api::PullRequest{"h2", "gw9", 0, 100}).changes.size(), 1u);
}

TEST_F(Services, AuditQueriesByAppOutcomeTimeAndGateway) {
  push("h1", "gw1", {transactuation(1, "heating", "committed", 1000), transactuation(2, "lights", "aborted", 2000),
                     transactuation(3, "heating", "aborted", 3000), transactuation(4, "heating", "committed", 4000)});
  state.apply(ops::add_gateway("h1", "gw2", sha256_hex("t2")), 10);
  push("h1", "gw2", {transactuation(1, "heating", "committed", 5000)});
  auto seqs = [&](AuditQuery q) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const auto* r : state.audit(q)) out.emplace_back(r->gateway, r->seq);
    return out;
  };
  using V = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(seqs({.home = "h1"}), (V{{"gw2", 1}, {"gw1", 4}, {"gw1", 3}, {"gw1", 2}, {"gw1", 1}}));
  EXPECT_EQ(seqs({.home = "h1", .app = "heating", .outcome = "aborted"}), (V{{"gw1", 3}}));
  EXPECT_EQ(seqs({.home = "h1", .gateway = "gw1", .since_ms = 2000, .until_ms = 4000}), (V{{"gw1", 3}, {"gw1", 2}}));
  EXPECT_EQ(seqs({.home = "h1", .app = "heating", .limit = 2}), (V{{"gw2", 1}, {"gw1", 4}}));
  EXPECT_TRUE(seqs({.home = "h2"}).empty());
  EXPECT_EQ(state.audit({.home = "h1", .limit = 1})[0]->record["id"], "run-1");
}

TEST_F(Services, ConflictItemsGoToTheConflictLogAndTheDeviceHistory) {
  const json body{{"device", "th"},        {"attribute", "setpoint"},     {"local_value", 19},
                  {"desired_value", 22},   {"desired_version", 2},        {"resolution", "desired_applied"},
                  {"detail", "run 17"}};
  push("h1", "gw1", {OutboxItem{1, "conflict", 7000, body.dump()}});
  ASSERT_EQ(state.conflicts("h1").size(), 1u);
  EXPECT_EQ(state.conflicts("h1")[0].body, body);
  EXPECT_EQ(state.conflicts("h1")[0].seq, 1u);
  const auto& history = state.device("h1", "th")->history;
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].source, "conflict");
  EXPECT_EQ(history[0].change["resolution"], "desired_applied");
  EXPECT_TRUE(state.conflicts("h2").empty());
}

TEST_F(Services, LeaseGrantRenewExpiryAndFencing) {
  auto acquire = [&](const std::string& gw, std::int64_t now) {
    return rpc::from_document<sync_api::LeaseReply>(
        state.apply(ops::acquire_lease("h1", gw, "home/h1/device/lock", 1000), now));
  };
  const auto a = acquire("gwA", 10'000);
  EXPECT_TRUE(a.granted);
  EXPECT_EQ(a.holder, "gwA");
  EXPECT_EQ(a.expires_at_ms, 11'000);
  const auto b = acquire("gwB", 10'500);
  EXPECT_FALSE(b.granted);
  EXPECT_EQ(b.holder, "gwA");
  EXPECT_EQ(b.fencing_token, a.fencing_token);
  // Renew keeps the fencing token and moves the expiry.
  const auto renewed = acquire("gwA", 10'900);
  EXPECT_TRUE(renewed.granted);
  EXPECT_EQ(renewed.fencing_token, a.fencing_token);
  EXPECT_EQ(renewed.expires_at_ms, 11'900);
  // A stops renewing: at exactly the expiry B gets it, with a higher token.
  EXPECT_FALSE(acquire("gwB", 11'899).granted);
  const auto taken = acquire("gwB", 11'900);
  EXPECT_TRUE(taken.granted);
  EXPECT_EQ(taken.holder, "gwB");
  EXPECT_GT(taken.fencing_token, a.fencing_token);
  // A's release of a lease it lost changes nothing; B's release frees it.
  auto release = [&](const std::string& gw, std::int64_t now) {
    return rpc::from_document<sync_api::LeaseReply>(state.apply(ops::release_lease("h1", gw, "home/h1/device/lock"), now));
  };
  EXPECT_EQ(release("gwA", 12'000).holder, "gwB");
  EXPECT_EQ(state.leases(12'000).size(), 1u);
  EXPECT_EQ(release("gwB", 12'001).holder, "");
  EXPECT_TRUE(state.leases(12'001).empty());
  // Time never goes back: a proposer with a slow clock cannot revive an expired lease.
  acquire("gwA", 20'000);
  EXPECT_TRUE(acquire("gwB", 5'000).granted == false);
  EXPECT_EQ(state.now_ms(), 20'000);
  EXPECT_EQ(error_of(state.apply(ops::acquire_lease("h1", "gw", "n", 0), 1))["field"], "ttl_ms");
}

// A random mix of every operation, applied to two replicas and through a snapshot, gives
// the same hash; a different order gives a different one.
TEST(ServicesDeterminism, SameOperationsSameStateHash) {
  homestead::testing::for_each_seed(30, [](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::pair<json, std::int64_t>> log;
    log.emplace_back(ops::create_home("h", ""), 1);
    log.emplace_back(ops::add_gateway("h", "g1", sha256_hex("a")), 2);
    log.emplace_back(ops::add_gateway("h", "g2", sha256_hex("b")), 3);
    std::map<std::string, std::uint64_t> next{{"g1", 1}, {"g2", 1}};
    std::int64_t now = 10;
    for (int i = 0; i < 200; ++i) {
      now += static_cast<std::int64_t>(rng() % 500);
      const std::string gw = rng() % 2 ? "g1" : "g2";
      switch (rng() % 5) {
        case 0: {
          // Batches that overlap what was sent (duplicates) and sometimes skip (gaps).
          const std::uint64_t from = next[gw] > 3 ? next[gw] - rng() % 3 : next[gw];
          std::vector<OutboxItem> items;
          for (std::uint64_t s = from; s < from + 1 + rng() % 4; ++s) {
            items.push_back(rng() % 4 ? reported(s, numbered("d", rng() % 3), {{"v", rng() % 10}}, now)
                                      : transactuation(s, "app", rng() % 2 ? "committed" : "aborted", now));
          }
          if (rng() % 8 == 0) items.back().seq += 2;
          log.emplace_back(ops::push(PushRequest{"h", gw, items}), now);
          next[gw] = std::max(next[gw], items.back().seq + 1);
          break;
        }
        case 1: log.emplace_back(ops::set_desired("h", numbered("d", rng() % 3), {{"v", rng() % 10}}, rng() % 3), now); break;
        case 2: log.emplace_back(ops::acquire_lease("h", gw, numbered("L", rng() % 2), 300), now); break;
        case 3: log.emplace_back(ops::release_lease("h", gw, numbered("L", rng() % 2)), now); break;
        default: log.emplace_back(ops::create_home(numbered("h", rng() % 4), ""), now); break;
      }
    }
    ServicesState a, b;
    std::vector<json> answers_a, answers_b;
    for (const auto& [op, t] : log) answers_a.push_back(a.apply(op, t));
    // b takes a snapshot half way and restores it into a fresh replica.
    for (std::size_t i = 0; i < log.size() / 2; ++i) answers_b.push_back(b.apply(log[i].first, log[i].second));
    ServicesState c;
    c.restore(b.snapshot());
    ASSERT_EQ(c.state_hash(), b.state_hash());
    for (std::size_t i = log.size() / 2; i < log.size(); ++i) answers_b.push_back(c.apply(log[i].first, log[i].second));
    EXPECT_EQ(answers_a, answers_b);
    EXPECT_EQ(a.state_hash(), c.state_hash());
    EXPECT_EQ(a.full_state_hash(), c.full_state_hash());
    EXPECT_EQ(a.to_json(), c.to_json());
    // Swapping two pushes of one gateway changes the outcome and so the hash.
    ServicesState d;
    auto swapped = log;
    std::swap(swapped[1], swapped[2]);
    for (const auto& [op, t] : swapped) d.apply(op, t);
    EXPECT_NE(d.state_hash(), a.state_hash());
    EXPECT_NE(d.full_state_hash(), a.full_state_hash());
  });
}

TEST(ServicesSnapshot, MalformedSnapshotIsRefusedAndLeavesStateAlone) {
  ServicesState s;
  s.apply(ops::create_home("h", ""), 1);
  const auto before = s.state_hash();
  EXPECT_THROW(s.restore("garbage"), std::runtime_error);
  EXPECT_EQ(s.state_hash(), before);
}

}  // namespace
}  // namespace homestead::services
