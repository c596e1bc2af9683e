// dht-sim's JSON outputs and errors, run in-process. Expected lines are the issue's
// examples (3-bit ring 0, 1, 3) and values derived by hand from the finger definition.
#include "cloud/dht/dht_sim_cli.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <vector>

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

// The rows of the table under the "== <title..." header: every line whose first token is a
// number, up to the next blank line.
std::vector<std::vector<double>> table_rows(const std::string& out, const std::string& title) {
  std::vector<std::vector<double>> rows;
  const auto at = out.find("== " + title);
  if (at == std::string::npos) return rows;
  std::istringstream in(out.substr(at));
  std::string line;
  std::getline(in, line);  // the title
  while (std::getline(in, line) && !line.empty()) {
    std::istringstream cells(line);
    std::vector<double> row;
    double value = 0;
    while (cells >> value) row.push_back(value);
    if (!row.empty()) rows.push_back(row);
  }
  return rows;
}

// The printed tables reproduce the paper's curves: the paper's path length grows by ~1/2
// hop per doubling of N and stays within 1/2 log2 N + 1; virtual nodes flatten the load.
TEST(DhtSimCli, ExperimentTablesReproduceThePapersCurves) {
  const CliRun r = run({"experiment", "path", "load", "--quick", "--seed", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto path = table_rows(r.out, "path length vs N");
  ASSERT_EQ(path.size(), 8u) << r.out;  // N = 2^3 .. 2^10 with --quick
  for (std::size_t i = 0; i < path.size(); ++i) {
    ASSERT_EQ(path[i].size(), 8u) << r.out;  // N, hops, p1, p99, paper-count, 1/2 log2 N, ratio, failed
    const double n = path[i][0], hops = path[i][1], paper = path[i][4], half_log2 = path[i][5];
    EXPECT_EQ(n, std::pow(2.0, static_cast<double>(i + 3)));
    EXPECT_DOUBLE_EQ(half_log2, 0.5 * std::log2(n));
    // The issue's bound on the paper's path length, and close to the paper's curve.
    EXPECT_LE(paper, half_log2 + 1) << "N=" << n;
    EXPECT_GE(paper, half_log2 - 0.75) << "N=" << n;
    EXPECT_LT(paper, hops) << "N=" << n;  // hops also count the last step to the owner
    EXPECT_EQ(path[i][7], 0) << "failed lookups at N=" << n;
    if (i > 0) {
      EXPECT_GT(paper, path[i - 1][4]) << "N=" << n;
    }
  }
  const double slope = (path.back()[4] - path.front()[4]) / static_cast<double>(path.size() - 1);
  EXPECT_GT(slope, 0.35);  // per doubling; the paper's 1/2 log2 N gives 0.5
  EXPECT_LT(slope, 0.65);

  const auto load = table_rows(r.out, "keys per node");
  ASSERT_EQ(load.size(), 5u) << r.out;  // virtual nodes 1, 2, 5, 10, 20
  for (std::size_t i = 1; i < load.size(); ++i) {
    EXPECT_LT(load[i][5], load[i - 1][5]) << "p99/mean must fall as virtual nodes grow: " << r.out;
  }
  EXPECT_EQ(load.front()[0], 1);
  EXPECT_GT(load.front()[5], 3.0);  // paper: ~4x without virtual nodes
  EXPECT_EQ(load.back()[0], 20);
  EXPECT_LE(load.back()[5], 2.0);   // paper: ~1.6x with 20
}

}  // namespace
}  // namespace homestead::dht
