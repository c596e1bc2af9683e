// The sync client in-process against the fake Sync cloud (real HTTP on 127.0.0.1) with a
// real outbox file and a scripted DesiredRunner: refusals (wrong token, another home's data)
// delete nothing; lease calls find the leader; a desired change's cursor advances only once
// its run has an outcome, and a run that cannot start yet is retried.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "gateway/sync_client.h"
#include "tests/gateway/fake_sync_cloud.h"
#include "tests/support/process.h"

namespace hg = homestead::gateway;
using homestead::testing::FakeSyncCloud;
using homestead::testing::TempDir;
using nlohmann::json;

namespace {

constexpr const char* kToken = "client-test-token-abcdef0123456789";

struct Fixture {
  TempDir dir{"syncclient"};
  FakeSyncCloud cloud{kToken, "t", "gw1"};
  hg::Metrics metrics;
  std::unique_ptr<hg::Outbox> outbox;

  Fixture() {
    cloud.start();
    outbox = std::make_unique<hg::Outbox>(dir / "g.db", 1000);
    for (int i = 1; i <= 3; ++i) {
      outbox->append({{hg::kItemReported, i, json{{"device", "temp"}, {"state", {{"temperature", i}}}}.dump(), {}}});
    }
  }
  hg::CloudSettings settings(const std::string& token, const std::string& home = "t") {
    const auto file = dir / ("token." + std::to_string(++files));
    std::ofstream(file) << token << "\n";
    ::chmod(file.c_str(), 0600);
    hg::CloudSettings s;
    s.enabled = true;
    s.urls = {cloud.follower_url(), cloud.leader_url()};
    s.home_id = home;
    s.gateway_id = "gw1";
    s.token_file = file.string();
    s.request_timeout_ms = 1000;
    return s;
  }
  int files = 0;
};

// Scripted runs: start() refuses `refuse_starts` times, then hands out ids; outcome() is
// unknown until `done` is set.
class ScriptedRunner : public hg::DesiredRunner {
 public:
  int refuse_starts = 0;
  std::vector<json> payloads;
  std::optional<Outcome> done;
  std::variant<std::uint64_t, std::string> start(const json& payload) override {
    if (refuse_starts > 0) {
      --refuse_starts;
      return std::string("runtime not running");
    }
    payloads.push_back(payload);
    return static_cast<std::uint64_t>(100 + payloads.size());
  }
  std::vector<std::uint64_t> asked;
  std::optional<Outcome> outcome(std::uint64_t run_id) override {
    asked.push_back(run_id);
    return done;
  }
};

const homestead::devices::KindInfo* thermostat_kind(const std::string& device) {
  return device == "thermo" ? &homestead::devices::kind_info(homestead::devices::Kind::thermostat) : nullptr;
}

}  // namespace

TEST(SyncClient, WrongTokenIsRefusedAndNothingIsDeleted) {
  Fixture f;
  hg::SyncClient client(f.settings("not-the-token"), *f.outbox, nullptr, {}, f.metrics);
  client.round();
  const auto status = client.status();
  EXPECT_EQ(status["connected"], false);
  EXPECT_NE(status["last_error"].get<std::string>().find("unauthenticated"), std::string::npos) << status.dump(2);
  EXPECT_EQ(status["outbox"]["depth"], 3);
  EXPECT_TRUE(f.cloud.applied().empty());
}

TEST(SyncClient, AnotherHomesDataIsRefusedAndNothingIsDeleted) {
  Fixture f;
  hg::SyncClient client(f.settings(kToken, "someone-else"), *f.outbox, nullptr, {}, f.metrics);
  client.round();
  const auto status = client.status();
  EXPECT_EQ(status["connected"], false);
  EXPECT_NE(status["last_error"].get<std::string>().find("forbidden"), std::string::npos) << status.dump(2);
  EXPECT_EQ(status["outbox"]["depth"], 3);
  EXPECT_TRUE(f.cloud.applied().empty());
}

TEST(SyncClient, PushFollowsNotLeaderAndLeaseCallsReachTheLeader) {
  Fixture f;
  hg::SyncClient client(f.settings(kToken), *f.outbox, nullptr, {}, f.metrics);
  client.round();
  EXPECT_EQ(f.cloud.applied_through(), 3u);
  EXPECT_GE(f.cloud.not_leader_answers(), 1u);
  EXPECT_EQ(client.status()["leader"], f.cloud.leader_url());
  const auto lease = client.acquire_lease("home/t/device/lamp", 5000);
  ASSERT_TRUE(lease.ok()) << lease.error().describe();
  EXPECT_TRUE(lease->granted);
  EXPECT_EQ(lease->holder, "gw1");
  EXPECT_EQ(lease->fencing_token, 1u);
  const auto released = client.release_lease("home/t/device/lamp");
  ASSERT_TRUE(released.ok()) << released.error().describe();
  EXPECT_EQ(released->fencing_token, 2u);
}

TEST(SyncClient, DesiredCursorAdvancesOnlyWhenTheRunHasAnOutcome) {
  Fixture f;
  ScriptedRunner runner;
  runner.refuse_starts = 1;
  hg::SyncClient client(f.settings(kToken), *f.outbox, &runner, thermostat_kind, f.metrics);
  f.cloud.add_desired("thermo", {{"setpoint", 19.5}, {"mode", nullptr}});
  client.round();  // pulled; the runtime refuses to start it yet
  EXPECT_TRUE(runner.payloads.empty());
  EXPECT_EQ(client.status()["desired_cursor"], 0);
  EXPECT_NE(client.status()["last_error"].get<std::string>().find("not started"), std::string::npos);
  client.round();  // started, no outcome yet
  ASSERT_EQ(runner.payloads.size(), 1u);
  const auto& p = runner.payloads[0];
  EXPECT_EQ(p["device"], "thermo");
  EXPECT_EQ(p["cursor"], 1);
  // null (removed in the cloud) actuates nothing; setpoint becomes its catalog command.
  EXPECT_EQ(p["actuations"], json::parse(R"([{"device":"thermo","command":"set_setpoint","args":{"setpoint":19.5}}])"));
  EXPECT_EQ(client.status()["desired_cursor"], 0);
  {
    // A restart while the run is open: the new client waits for run 101, never starts another.
    ScriptedRunner after_restart;
    hg::SyncClient again(f.settings(kToken), *f.outbox, &after_restart, thermostat_kind, f.metrics);
    again.round();
    EXPECT_TRUE(after_restart.payloads.empty());
    ASSERT_FALSE(after_restart.asked.empty());
    EXPECT_EQ(after_restart.asked.back(), 101u);
    EXPECT_EQ(again.status()["desired_cursor"], 0);
  }
  runner.done = hg::DesiredRunner::Outcome{true, "committed"};
  client.round();
  EXPECT_EQ(client.status()["desired_cursor"], 1);
  EXPECT_EQ(client.status()["desired_applied"], 1);
  EXPECT_EQ(runner.payloads.size(), 1u);  // not started twice
  // An unknown device is recorded as failed without a run.
  f.cloud.add_desired("nobody", {{"on", true}});
  client.round();
  EXPECT_EQ(client.status()["desired_cursor"], 2);
  EXPECT_EQ(client.status()["desired_failed"], 1);
  EXPECT_EQ(runner.payloads.size(), 1u);
}
