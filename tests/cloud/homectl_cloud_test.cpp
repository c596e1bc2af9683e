// Integration: `homectl --cloud` (gateway/homectl_cloud.cpp, run in-process through
// run_cloud_command) against a real cloudd: every command, its output, the token written
// with mode 0600, If-Match conflicts, failover past a dead address, and usage errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "gateway/homectl_cloud.h"
#include "tests/cloud/cloud_cluster.h"
#include "tests/cloud/sync_client.h"

namespace homestead::cloud_testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct CliRun {
  int status = -1;
  std::string out, err;
};

class HomectlCloud : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions options;
    options.members = 1;
    cluster_ = new CloudCluster(options);
    cluster_->start_all();
    ASSERT_NE(cluster_->wait_for_leader(20s), 0u);
    token_file_ = (cluster_->dir() / "admin-token").string();
    std::ofstream(token_file_) << cluster_->token() << "\n";
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  // A dead address first: every command must fail over to the live member.
  static CliRun homectl(std::vector<std::string> args) {
    std::vector<std::string> full{"--cloud-url",
                                  "127.0.0.1:" + std::to_string(testing::free_tcp_port()) + ",http://127.0.0.1:" +
                                      std::to_string(cluster_->http_port(1)),
                                  "--cloud-token-file", token_file_};
    full.insert(full.end(), args.begin(), args.end());
    std::ostringstream out, err;
    CliRun run;
    run.status = gateway::run_cloud_command(full, out, err);
    run.out = out.str();
    run.err = err.str();
    return run;
  }

  static CloudCluster* cluster_;
  static std::string token_file_;
};
CloudCluster* HomectlCloud::cluster_ = nullptr;
std::string HomectlCloud::token_file_;

TEST_F(HomectlCloud, DrivesEveryAdminCommand) {
  auto r = homectl({"home-add", "villa", "--name", "The villa"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "home villa created\n");
  r = homectl({"home-add", "villa"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("HTTP 409: already_exists"), std::string::npos) << r.err;

  // The token printed once...
  r = homectl({"gateway-add", "villa", "gw1"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string printed = r.out.substr(r.out.rfind(":\n") + 2, 64);
  EXPECT_EQ(printed.size(), 64u);
  // ... or written with mode 0600.
  const std::string token_out = (cluster_->dir() / "gw2.token").string();
  r = homectl({"gateway-add", "villa", "gw2", "--token-out", token_out});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("token written to " + token_out + " (mode 0600)"), r.out.find("token written"));
  struct stat st {};
  ASSERT_EQ(::stat(token_out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string written;
  std::getline(std::ifstream(token_out), written);
  EXPECT_EQ(written.size(), 64u);
  EXPECT_EQ(r.out.find(written), std::string::npos) << "a token written to a file is not printed";

  // The printed token works for the Sync RPC: push a report, a transactuation and a conflict.
  SyncClient gw({cluster_->http_port(1)}, printed);
  auto pushed = gw.push({"villa", "gw1",
                         {{1, "reported", 10, R"({"device":"th","state":{"setpoint":19}})"},
                          {2, "transactuation", 20, R"({"id":"t1","app":"heating","outcome":"committed"})"},
                          {3, "transactuation", 30, R"({"id":"t2","app":"lights","outcome":"aborted"})"},
                          {4, "conflict", 40,
                           R"({"device":"th","attribute":"setpoint","local_value":19,"desired_value":22,"desired_version":2,"resolution":"desired_applied"})"}}});
  ASSERT_TRUE(pushed.ok()) << pushed.error().describe();
  ASSERT_EQ(pushed->applied_through, 4u);

  r = homectl({"homes"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("villa  The villa  2         1"), std::string::npos) << r.out;
  r = homectl({"gateways", "villa"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("gw1  4"), std::string::npos) << r.out;
  r = homectl({"devices", "villa"});
  EXPECT_NE(r.out.find("th"), std::string::npos) << r.out;

  r = homectl({"desired", "villa", "th", R"({"setpoint": 22})", "--if-match", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "desired set; shadow version 2, delta {\"setpoint\":22}\n");
  r = homectl({"desired", "villa", "th", R"({"setpoint": 23})", "--if-match", "1"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("HTTP 409: version_mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(current version 2)"), std::string::npos) << r.err;

  r = homectl({"shadow", "villa", "th"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json shadow = json::parse(r.out);
  EXPECT_EQ(shadow["reported"], (json{{"setpoint", 19}}));
  EXPECT_EQ(shadow["desired"], (json{{"setpoint", 22}}));
  EXPECT_EQ(shadow["delta"], (json{{"setpoint", 22}}));
  EXPECT_EQ(shadow["version"], 2);

  r = homectl({"--json", "history", "villa", "th"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json history = json::parse(r.out)["history"];
  ASSERT_EQ(history.size(), 3u);  // desired (v2), conflict (at v1), reported (v1): newest first
  EXPECT_EQ(history[0]["source"], "desired");
  EXPECT_EQ(history[1]["source"], "conflict");
  EXPECT_EQ(history[2]["source"], "reported");

  r = homectl({"audit", "villa", "--app", "heating"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("gw1      2    20     heating  committed  t1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("lights"), std::string::npos);
  r = homectl({"--json", "audit", "villa", "--outcome", "aborted", "--limit", "5"});
  ASSERT_EQ(json::parse(r.out)["records"].size(), 1u);
  EXPECT_EQ(json::parse(r.out)["records"][0]["seq"], 3);

  r = homectl({"conflicts", "villa"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("desired_applied"), std::string::npos) << r.out;

  ASSERT_TRUE(gw.acquire({"villa", "gw1", "home/villa/device/th", 60000}).ok());
  r = homectl({"leases"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("home/villa/device/th  villa  gw1"), std::string::npos) << r.out;

  r = homectl({"cluster"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("member 1 (leader)", 0), 0u) << r.out;

  r = homectl({"gateway-remove", "villa", "gw2"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = homectl({"--json", "gateways", "villa"});
  EXPECT_EQ(json::parse(r.out)["gateways"].size(), 1u);
}

TEST_F(HomectlCloud, UsageAndRequestErrorsAreClear) {
  std::ostringstream out, err;
  EXPECT_EQ(gateway::run_cloud_command({"--help"}, out, err), 0);
  EXPECT_NE(out.str().find("gateway-add HOME ID"), std::string::npos);

  auto r = homectl({"frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos);
  r = homectl({"shadow", "villa"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("usage: homectl --cloud shadow HOME DEV"), std::string::npos);
  r = homectl({"desired", "villa", "th", "[1]"});
  EXPECT_EQ(r.status, 2);
  r = homectl({"homes", "--bogus", "x"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option --bogus"), std::string::npos);
  r = homectl({"shadow", "nohome", "dev"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("HTTP 404: not_found: no home \"nohome\""), std::string::npos) << r.err;

  // A wrong token: 401 in the shared error shape, exit 1.
  const std::string bad = (cluster_->dir() / "bad-token").string();
  std::ofstream(bad) << "nope\n";
  std::ostringstream o2, e2;
  EXPECT_EQ(gateway::run_cloud_command({"--cloud-url", "127.0.0.1:" + std::to_string(cluster_->http_port(1)),
                                        "--cloud-token-file", bad, "homes"},
                                       o2, e2),
            1);
  EXPECT_NE(e2.str().find("HTTP 401: unauthorized"), std::string::npos) << e2.str();
  // No addresses at all.
  std::ostringstream o3, e3;
  EXPECT_EQ(gateway::run_cloud_command({"--cloud-url", "", "--cloud-token-file", bad, "homes"}, o3, e3), 2);
  EXPECT_NE(e3.str().find("CLOUD_URLS"), std::string::npos);
}

}  // namespace
}  // namespace homestead::cloud_testing
