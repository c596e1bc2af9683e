// snapshot-sim's output on small scripts, run as the real binary. Every expected output
// below is derived by hand from the tick contract (README.md), step by step in the comments,
// so a change in delivery order, delay accounting or output format fails here.
#include <sys/wait.h>

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/process.h"

namespace homestead::snapshot {
namespace {

using homestead::testing::ChildProcess;
using homestead::testing::ProcessOptions;
using homestead::testing::TempDir;
using namespace std::chrono_literals;

struct SimRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

class SnapshotSimOutput : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  SimRun run(std::vector<std::string> args) {
    ProcessOptions options;
    options.executable = homestead::testing::build_path("cloud/snapshot/snapshot-sim").string();
    options.args = std::move(args);
    options.log_file = dir_ / ("run" + std::to_string(++runs_) + ".log");
    ChildProcess child(options);
    EXPECT_TRUE(homestead::testing::wait_until([&] { return child.exit_status() != -1; }, 30s)) << child.log_tail();
    const int status = child.exit_status();
    return SimRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, child.log()};
  }

  SimRun run_with_delays(const std::string& topology, const std::string& events, const std::string& delays) {
    return run({"--topology", write("topology", topology), "--events", write("events", events), "--delays",
                write("delays", delays)});
  }

  TempDir dir_{"snapshot-sim"};
  int runs_ = 0;
};

const char* kPair = "2\nA 10\nB 5\nA B\nB A\n";

TEST_F(SnapshotSimOutput, TokenSentBeforeTheMarkerIsRecordedInFlight) {
  // t0: send A B 3 -> A=7, token due 0+1+0=1.  snapshot B -> B records 5, marker B->A due 1.
  // t1: A's link to B delivers token(3): B is recording A->B, so it is in flight; B=8.
  //     B's link to A delivers the marker: A records 7, sends its marker (due 2).
  // t2: marker reaches B; the snapshot is complete.
  const auto result = run_with_delays(kPair, "send A B 3\nsnapshot B\ntick\n", "0 0 0 0\n");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "0\nA 7\nB 5\nA B token(3)\n");
}

TEST_F(SnapshotSimOutput, MessageIsDueOneTickAfterItsDelay) {
  // t0: send A B 5 with delay 2 -> due 0+1+2 = 3; A=0.
  // tick 2 -> t2: nothing due. snapshot B at t2: B records 0, marker B->A (delay 0) due 3.
  // t3: A delivers token(5) to B, which is recording A->B: in flight. B delivers the
  //     marker: A records 0, its marker (delay 0) due 4.  t4: marker reaches B.
  // Had the token been due at t + d = 2, B would have recorded 5 and no message.
  const auto result = run_with_delays("2\nA 5\nB 0\nA B\nB A\n", "send A B 5\ntick 2\nsnapshot B\n", "2 0 0\n");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "0\nA 0\nB 0\nA B token(5)\n");
}

TEST_F(SnapshotSimOutput, NodesAreVisitedInStringOrderOfTheirIds) {
  // Star around N1; as strings N1 < N10 < N9 (numerically N9 would come before N10).
  // t0: snapshot N9 -> N9 records 5, marker N9->N1 due 1. send N10 N1 4 -> N10=1, due 1.
  // t1: visit N1 (nothing), then N10: token(4) reaches N1 (not recording yet): N1=4;
  //     then N9: marker reaches N1, which records 4 and sends markers to N10, N9 (due 2).
  // t2: N1's link to N10 delivers its marker (one per sender): N10 records 1, marker due 3.
  // t3: N1's marker reaches N9; N10's marker reaches N1. Complete, nothing in flight.
  // Visiting N9 before N10 would have recorded N1=0 and "N10 N1 token(4)" instead.
  const auto result = run_with_delays("3\nN1 0\nN9 5\nN10 5\nN9 N1\nN10 N1\nN1 N9\nN1 N10\n",
                                      "snapshot N9\nsend N10 N1 4\ntick\n", "0 0 0 0 0 0\n");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "0\nN1 4\nN10 1\nN9 5\n");
}

TEST_F(SnapshotSimOutput, ConcurrentSnapshotsFifoAndDelaysInSendOrder) {
  // Delays in send order: token(1)=3, token(2)=0, marker0 A->B=0, marker1 B->A=0, then 0s.
  // t0: A sends token(1) (due 4) and token(2) (due 1, but behind token(1)); A=7.
  //     snapshot A (id 0): A records 7, marker0 on A->B due 1 (third in the queue).
  //     snapshot B (id 1): B records 5, marker1 on B->A due 1.
  // t1: A's head token(1) is not due (4); FIFO keeps token(2) and marker0 behind it.
  //     B delivers marker1 to A: A records 7 for snapshot 1, marker1 on A->B due 2.
  // t4: token(1) reaches B: in flight for snapshot 1 (B recording A->B); B=6.
  // t5: token(2) likewise; B=8.  t6: marker0 reaches B: B records 8 for snapshot 0,
  //     sends marker0 B->A due 7.  t7: marker1 reaches B (snapshot 1 done), marker0
  //     reaches A (snapshot 0 done).
  const auto result = run_with_delays(kPair, "send A B 1\nsend A B 2\nsnapshot A\nsnapshot B\ntick\n",
                                      "# the first token message is slow\n3\n0 0\n0 0 0\n");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "0\nA 7\nB 8\n\n1\nA 7\nB 5\nA B token(1)\nA B token(2)\n");
}

// The files in cloud/snapshot/examples are the two scenarios above; keep them true.
TEST_F(SnapshotSimOutput, ExamplesInTheSourceTree) {
  auto example = [&](const std::string& name) {
    const auto base = homestead::testing::source_path("cloud/snapshot/examples/" + name).string();
    return run({"--topology", base + ".topology", "--events", base + ".events", "--delays", base + ".delays"});
  };
  const auto star = example("star");
  EXPECT_EQ(star.exit_code, 0) << star.output;
  EXPECT_EQ(star.output, "0\nN1 4\nN10 1\nN9 5\n");
  const auto pair = example("pair");
  EXPECT_EQ(pair.exit_code, 0) << pair.output;
  EXPECT_EQ(pair.output, "0\nA 7\nB 8\n\n1\nA 7\nB 5\nA B token(1)\nA B token(2)\n");
}

TEST_F(SnapshotSimOutput, RunningOutOfDelaysIsAnError) {
  // The run above sends six messages; five delays are not enough.
  const auto result = run_with_delays(kPair, "send A B 1\nsend A B 2\nsnapshot A\nsnapshot B\ntick\n", "3 0 0 0 0\n");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("ran out of delays: message 6"), std::string::npos) << result.output;
}

TEST_F(SnapshotSimOutput, SameSeedSameOutput) {
  const auto topology = write("topology", "3\nA 10\nB 10\nC 10\nA B\nB C\nC A\nB A\n");
  const auto events = write("events", "send A B 4\nsnapshot C\nsend B C 7\ntick\nsend C A 2\nsnapshot A\ntick 3\n");
  const auto first = run({"--topology", topology, "--events", events, "--seed", "42"});
  const auto second = run({"--topology", topology, "--events", events, "--seed", "42"});
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(first.output, second.output);
  EXPECT_EQ(first.output.rfind("0\n", 0), 0u) << first.output;
  EXPECT_NE(first.output.find("\n\n1\n"), std::string::npos) << first.output;
}

TEST_F(SnapshotSimOutput, BadFilesGetLineNumberedErrorsAndStatusOne) {
  const auto topology = write("topology", "2\nA 1\nB 1\nA B\nB A\n");
  const auto events = write("events", "# comment\nsend A B 1\ntick\nsend B Z 1\n");
  const auto result = run({"--topology", topology, "--events", events});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find(events + ":4: unknown node 'Z'"), std::string::npos) << result.output;

  const auto bad_topology = write("bad-topology", "2\nA 1\nB x\n");
  const auto bad = run({"--topology", bad_topology, "--events", events});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find(bad_topology + ":3: initial tokens must be an integer >= 0, got 'x'"), std::string::npos)
      << bad.output;
}

TEST_F(SnapshotSimOutput, UsageErrorsAndHelp) {
  EXPECT_EQ(run({"--topology", "t"}).exit_code, 2);
  EXPECT_EQ(run({"--topology", "t", "--events", "e", "--seed", "1", "--delays", "d"}).exit_code, 2);
  EXPECT_EQ(run({"--frobnicate"}).exit_code, 2);
  const auto help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("t + 1 + d"), std::string::npos);
  EXPECT_NE(help.output.find("ascending order of their ids"), std::string::npos);
}

}  // namespace
}  // namespace homestead::snapshot
