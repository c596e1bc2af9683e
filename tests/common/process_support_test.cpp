// The integration-test helpers against real processes: python3's http.server stands in
// for a daemon (it is on the base image).
#include "tests/support/process.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

namespace homestead::testing {
namespace {

TEST(ProcessSupport, StartsWaitsForPortAndStops) {
  TempDir dir;
  const int port = free_tcp_port();
  EXPECT_FALSE(port_answers(port));
  ChildProcess server(ProcessOptions{"python3", {"-m", "http.server", std::to_string(port), "--bind", "127.0.0.1"},
                                     {}, dir / "server.log", dir.path()});
  ASSERT_TRUE(server.wait_for_port(port, 20s)) << server.log_tail();
  EXPECT_TRUE(server.running());
  server.stop();
  EXPECT_FALSE(server.running());
  EXPECT_TRUE(wait_until([&] { return !port_answers(port); }, 5s));
}

TEST(ProcessSupport, Kill9IsACrash) {
  TempDir dir;
  ChildProcess sleeper(ProcessOptions{"sleep", {"30"}, {}, dir / "sleep.log", {}});
  const int status = sleeper.kill9();
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(ProcessSupport, ReportsAProcessThatExitsBeforeItsPortOpens) {
  TempDir dir;
  ChildProcess failing(ProcessOptions{"sh", {"-c", "echo boom; exit 3"}, {}, dir / "fail.log", {}});
  EXPECT_FALSE(failing.wait_for_port(free_tcp_port(), 5s));
  EXPECT_EQ(WEXITSTATUS(failing.exit_status()), 3);
  EXPECT_NE(failing.log_tail().find("boom"), std::string::npos);
}

TEST(ProcessSupport, MissingExecutableIsAClearError) {
  TempDir dir;
  try {
    ChildProcess missing(ProcessOptions{"/nonexistent/binary", {}, {}, dir / "x.log", {}});
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot exec /nonexistent/binary"), std::string::npos);
  }
}

TEST(ProcessSupport, WaitUntilPollsWithADeadline) {
  int calls = 0;
  EXPECT_TRUE(wait_until([&] { return ++calls == 3; }, 1s, 1ms));
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(wait_until([] { return false; }, 20ms, 1ms));
}

}  // namespace
}  // namespace homestead::testing
