// dht-sim's JSON outputs and errors, run in-process. Expected lines are the issue's
// examples (3-bit ring 0, 1, 3) and values derived by hand from the finger definition.
#include "cloud/dht/dht_sim_cli.h"

#include <gtest/gtest.h>

#include <sstream>

namespace homestead::dht {
namespace {

struct CliRun {
  int code;
  std::string out, err;
};
CliRun run(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = run_dht_sim(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(DhtSimCli, IssueExamples) {
  EXPECT_EQ(run({"ring", "--bits", "3", "--nodes", "0,1,3", "--fingers", "1"}).out,
            "{\"node\":1,\"fingers\":[{\"start\":2,\"node\":3},{\"start\":3,\"node\":3},{\"start\":5,\"node\":0}]}\n");
  EXPECT_EQ(run({"ring", "--bits", "3", "--nodes", "0,1,3", "--owner", "6"}).out, "{\"key\":6,\"owner\":0}\n");
  EXPECT_EQ(run({"ring", "--bits", "3", "--nodes", "0,1,3", "--lookup", "1", "--from", "3"}).out,
            "{\"key\":1,\"from\":3,\"path\":[3,0,1]}\n");
}

TEST(DhtSimCli, JoinAndLeaveRunInOrder) {
  // Join 6: node 3's starts 4, 5, 7 -> 6, 6, 0. Then leave 1: key 1 is owned by 3.
  EXPECT_EQ(run({"ring", "--bits", "3", "--nodes", "0,1,3", "--join", "6", "--fingers", "3"}).out,
            "{\"node\":3,\"fingers\":[{\"start\":4,\"node\":6},{\"start\":5,\"node\":6},{\"start\":7,\"node\":0}]}\n");
  EXPECT_EQ(run({"ring", "--bits", "3", "--nodes", "0,1,3", "--join", "6", "--leave", "1", "--owner", "1"}).out,
            "{\"key\":1,\"owner\":3}\n");
  EXPECT_EQ(run({"ring", "--bits", "3", "--nodes", "0,1,3", "--join", "6", "--leave", "1", "--lookup", "1",
                 "--from", "6"}).out,
            "{\"key\":1,\"from\":6,\"path\":[6,0,3]}\n");
}

TEST(DhtSimCli, ErrorsNameTheBadOption) {
  CliRun r = run({"ring", "--bits", "3", "--nodes", "0,1,9", "--owner", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--nodes: 9 is outside the 3-bit ring"), std::string::npos) << r.err;
  r = run({"ring", "--bits", "3", "--nodes", "0,1,3", "--fingers", "2"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--fingers: 2 is not a ring member"), std::string::npos) << r.err;
  r = run({"ring", "--bits", "3", "--nodes", "0,x", "--owner", "1"});
  EXPECT_NE(r.err.find("--nodes: expected a non-negative integer, got 'x'"), std::string::npos) << r.err;
  r = run({"ring", "--nodes", "0,1", "--owner", "1"});
  EXPECT_NE(r.err.find("--bits is required"), std::string::npos) << r.err;
  r = run({"ring", "--bits", "3", "--nodes", "0,1", "--lookup", "1"});
  EXPECT_NE(r.err.find("--lookup needs --from"), std::string::npos) << r.err;
  r = run({"experiment", "bogus"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(run({"--help"}).out.find("dht-sim ring --bits M"), std::string::npos);
}

}  // namespace
}  // namespace homestead::dht
