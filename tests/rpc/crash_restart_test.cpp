// A server process killed with SIGKILL mid-call, for both transports: the caller gets
// unknown_outcome (never a false success, and never "not executed" even after retries hit
// the dead port), calls while it is down fail as `transport`, and the same channel works
// against the restarted process (which refuses the forgotten at-most-once session).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "cloud/rpc/stub.h"
#include "tests/rpc/transport_fixture.h"
#include "tests/support/process.h"

namespace homestead::rpc::testing {
namespace {

using namespace std::chrono_literals;
using homestead::testing::ChildProcess;
using homestead::testing::wait_until;

constexpr const char* kSecret = "crash-test-secret";

class CrashRestart : public ::testing::TestWithParam<Transport> {
 protected:
  CrashRestart() {
    std::ofstream(secret_file_) << kSecret << "\n";
    ::chmod(secret_file_.c_str(), 0600);
  }
  ChildProcess start_server(int port, const std::string& name) {
    ChildProcess child({.executable = homestead::testing::build_path("tests/rpc/rpc_test_server").string(),
                        .args = {"--transport", transport_name(GetParam()), "--port", std::to_string(port),
                                 "--secret-file", secret_file_.string()},
                        .log_file = dir_ / (name + ".log")});
    EXPECT_TRUE(wait_until([&] { return child.log().find("listening") != std::string::npos || !child.running(); }, 20s))
        << child.log_tail();
    EXPECT_TRUE(child.running()) << child.log_tail();
    return child;
  }

  homestead::testing::TempDir dir_{"rpc-crash"};
  std::filesystem::path secret_file_ = dir_ / "secret";
};

TEST_P(CrashRestart, KillNineMidCallIsUnknownOutcomeAndTheChannelRecovers) {
  const int port = homestead::testing::free_tcp_port();
  ChildProcess first = start_server(port, "first");
  auto channel = make_channel(GetParam(), port, kSecret);
  Stub<KvService> kv(channel);
  const auto before = kv.call<KvService::Append>({"k", "before"});
  ASSERT_TRUE(before.ok()) << before.error().describe();
  EXPECT_EQ(before->length, 1u);

  // Retries are allowed: after the first attempt is lost they meet a dead port (`transport`),
  // which must not turn the answer into "not executed".
  auto in_flight = kv.call_async<KvService::Sleep>(
      {60'000}, CallOptions{.timeout = 3s, .retry = RetryPolicy{.max_attempts = 3, .initial_backoff = 20ms}});
  ASSERT_TRUE(wait_until([&] { return first.log().find("sleep started") != std::string::npos; }, 10s))
      << first.log_tail();
  first.kill9();
  const auto lost = in_flight.get();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.kind(), ErrorKind::unknown_outcome) << lost.error().describe();

  const auto down = kv.call<KvService::Get>({"k"}, CallOptions{.timeout = 300ms, .retry = RetryPolicy::none()});
  EXPECT_EQ(down.kind(), ErrorKind::transport) << (down.ok() ? "ok" : down.error().describe());

  ChildProcess second = start_server(port, "second");
  Result<GetReply> reconnected = RpcError{};
  ASSERT_TRUE(wait_until([&] {  // tcp reconnects once its backoff allows
    reconnected = kv.call<KvService::Get>({"k"}, CallOptions{.timeout = 1s});
    return reconnected.ok();
  }, 10s)) << reconnected.error().describe();
  EXPECT_TRUE(reconnected->values.empty());  // a new process with an empty store
  // The new process has forgotten this client's at-most-once session, so it refuses to run
  // the old session's calls rather than risk running a repeat; a new session works.
  const auto old_session = kv.call<KvService::Append>({"k", "after"}, CallOptions{.timeout = 1s});
  EXPECT_EQ(old_session.kind(), ErrorKind::stale) << (old_session.ok() ? "ok" : old_session.error().describe());
  Stub<KvService> fresh(channel);
  const auto after = fresh.call<KvService::Append>({"k", "after"}, CallOptions{.timeout = 1s});
  ASSERT_TRUE(after.ok()) << after.error().describe();
  EXPECT_EQ(after->length, 1u);
  EXPECT_EQ(second.stop(), 0) << second.log_tail();
}

INSTANTIATE_TEST_SUITE_P(Transports, CrashRestart, ::testing::Values(Transport::tcp, Transport::http),
                         [](const auto& info) { return transport_name(info.param); });

}  // namespace
}  // namespace homestead::rpc::testing
