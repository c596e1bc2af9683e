// firmware-sim as a process: crash (kill -9) fires every LWT, a clean stop says offline,
// devices come back after a broker restart, faults can be set at start, and bad input
// files are refused with the field named.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>

#include <fstream>

#include "tests/firmware-sim/sim_home.h"

namespace homestead::testing {
namespace {

using devices::Channel;
using namespace std::chrono_literals;

const char* kSmallHome = R"({
  "home": "small",
  "rooms": [{"id": "hall", "floor": 0}],
  "devices": [
    {"id": "lock", "kind": "lock", "room": "hall"},
    {"id": "plug", "kind": "plug", "room": "hall"},
    {"id": "motion", "kind": "motion", "room": "hall"}
  ]
})";

std::filesystem::path write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

bool all_status(SimHome& h, const std::string& want, MqttObserver& observer) {
  for (const auto& d : h.home().devices) {
    auto msgs = observer.on(h.topic(d.id, Channel::status));
    if (msgs.empty() || msgs.back().payload != want) return false;
  }
  return true;
}

TEST(FirmwareSimProcess, KillNineMakesTheBrokerPublishOfflineForEveryDevice) {
  TempDir dir;
  SimHome h(write_file(dir, "home.json", kSmallHome));
  h.process().kill9();
  EXPECT_TRUE(wait_until([&] { return all_status(h, "offline", h.observer()); }, 10s)) << h.log_tail();
}

TEST(FirmwareSimProcess, CleanStopPublishesOfflineItself) {
  TempDir dir;
  SimHome h(write_file(dir, "home.json", kSmallHome));
  const int status = h.process().stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_TRUE(all_status(h, "offline", h.observer())) << "published before the process exited";
}

TEST(FirmwareSimProcess, DevicesReconnectAfterTheBrokerRestarts) {
  TempDir dir;
  SimHome h(write_file(dir, "home.json", kSmallHome));
  h.broker().kill9();
  h.broker().start();
  // The old observer's connection died with the broker; a new one sees the devices return.
  MqttObserver observer(h.broker().uri(), "observer2", "observer", h.password_of_observer(), {"homestead/#"});
  EXPECT_TRUE(wait_until([&] { return all_status(h, "online", observer); }, 20s)) << h.log_tail();
  auto [status, summary] = h.api("GET", "/summary");
  EXPECT_EQ(summary["online"], 3);
  EXPECT_GE(summary["connects"], 6) << "each device connected twice";
  EXPECT_GE(summary["nodelay_sockets"], 6) << "TCP_NODELAY set on every connection, reconnects included";
}

TEST(FirmwareSimProcess, SummaryLineOnDemand) {
  TempDir dir;
  SimHome h(write_file(dir, "home.json", kSmallHome));  // --summary-interval-ms 0: only on request
  EXPECT_EQ(h.process().log().find("online 3/3"), std::string::npos);
  h.process().signal(SIGUSR1);
  EXPECT_TRUE(wait_until([&] { return h.process().log().find("online 3/3, msgs out") != std::string::npos; }, 10s))
      << h.process().log_tail();
}

TEST(FirmwareSimProcess, FaultsFromFlagsAndScenarioFile) {
  TempDir dir;
  const auto scenario = write_file(dir, "scenario.json", R"({"faults": {"plug": {"drop_commands": 1.0}}})");
  SimHome h(write_file(dir, "home.json", kSmallHome),
            {"--fault", R"(lock={"fail_acks":"jammed"})", "--scenario", scenario.string()});
  EXPECT_EQ(h.api("GET", "/devices/lock").second["faults"], (nlohmann::json{{"fail_acks", "jammed"}}));
  EXPECT_EQ(h.api("GET", "/devices/plug").second["faults"], (nlohmann::json{{"drop_commands", 1.0}}));
  h.send_command("lock", "f1", "unlock");
  ASSERT_TRUE(h.wait_for_ack("lock", "f1"));
  EXPECT_EQ(h.acks_for("lock", "f1")[0]["reason"], "jammed");
}

TEST(FirmwareSimProcess, SpeedAcceleratesTheEnvironmentClock) {
  TempDir dir;
  SimHome h(write_file(dir, "home.json", kSmallHome), {"--speed", "3600"});
  const std::int64_t start = h.api("GET", "/summary").second["sim_time_of_day_s"];
  // An hour of simulated time per real second: two simulated hours pass quickly.
  EXPECT_TRUE(wait_until([&] { return h.api("GET", "/summary").second["sim_time_of_day_s"].get<std::int64_t>() >= start + 7200; },
                         20s, 50ms));
}

// Runs firmware-sim to completion with `args`; returns {exit status, output}.
std::pair<int, std::string> run_once(const TempDir& dir, std::vector<std::string> args) {
  ProcessOptions opts;
  opts.executable = build_path("firmware-sim/firmware-sim").string();
  opts.args = std::move(args);
  opts.log_file = dir / "run.log";
  ChildProcess p(std::move(opts));
  wait_until([&] { return !p.running(); }, 20s);
  const int status = p.exit_status();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, p.log()};
}

TEST(FirmwareSimProcess, HelpAndBadInputs) {
  TempDir dir;
  auto [help_status, help] = run_once(dir, {"--help"});
  EXPECT_EQ(help_status, 0);
  EXPECT_NE(help.find("--control-port"), std::string::npos);

  const auto bad_home = write_file(dir, "bad.json", R"({"home":"h","rooms":[{"id":"hall"}],"devices":[{"id":"x","kind":"lok","room":"hall"}]})");
  auto [s1, out1] = run_once(dir, {"--home", bad_home.string(), "--broker", "127.0.0.1:1", "--credentials", "/nonexistent"});
  EXPECT_EQ(s1, 2);
  EXPECT_NE(out1.find("devices[0] (id 'x'): field 'devices[0].kind': unknown kind \"lok\""), std::string::npos) << out1;

  const auto home = write_file(dir, "home.json", kSmallHome);
  const auto creds = dir / "creds.json";
  auto [s2, out2] = run_once(dir, {"--home", home.string(), "--broker", "127.0.0.1:1", "--credentials", creds.string(),
                                   "--generate-credentials", "--fault", R"(plug={"drop_commands":"most"})"});
  EXPECT_EQ(s2, 2);
  EXPECT_NE(out2.find("--fault plug: field 'drop_commands'"), std::string::npos) << out2;
  struct stat st {};
  ASSERT_EQ(::stat(creds.c_str(), &st), 0) << "generated";
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto [s3, out3] = run_once(dir, {"--home", home.string(), "--broker", "nowhere", "--credentials", creds.string()});
  EXPECT_EQ(s3, 2);
  EXPECT_NE(out3.find("--broker"), std::string::npos) << out3;
  ::chmod(creds.c_str(), 0644);
  auto [s4, out4] = run_once(dir, {"--home", home.string(), "--broker", "127.0.0.1:1", "--credentials", creds.string()});
  EXPECT_EQ(s4, 2);
  EXPECT_NE(out4.find("must not be readable by group or others"), std::string::npos) << out4;
}

TEST(MosquittoFixture, RefusesBadCredentialsAndRestartsOnTheSamePort) {
  MosquittoBroker broker;
  broker.add_user("alice", "alice-pw", {{"readwrite", "a/#"}});
  broker.start();
  const int port = broker.port();
  EXPECT_THROW(MqttObserver(broker.uri(), "x", "alice", "wrong", {}), std::exception);
  {
    MqttObserver alice(broker.uri(), "alice", "alice", "alice-pw", {"a/#", "b/#"});
    alice.publish("b/1", "denied");  // outside the ACL
    alice.publish("a/1", "allowed");
    ASSERT_TRUE(alice.wait_for("a/1", [](const auto& m) { return !m.empty(); }));
    EXPECT_TRUE(alice.on("b/1").empty());
  }
  broker.kill9();
  EXPECT_FALSE(broker.running());
  broker.restart();
  EXPECT_EQ(broker.port(), port);
  EXPECT_NO_THROW(MqttObserver(broker.uri(), "alice2", "alice", "alice-pw", {}));
  EXPECT_THROW(broker.add_user("bad user", "pw", {}), std::invalid_argument);
  EXPECT_THROW(broker.add_user("u", "pw", {{"publish", "x"}}), std::invalid_argument);
}

}  // namespace
}  // namespace homestead::testing
