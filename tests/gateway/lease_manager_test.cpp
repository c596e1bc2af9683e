// LeaseManager (gateway/lease_manager.h) with a fake lease RPC: the caller never waits on
// the RPC (a stuck cloud call still lets waiters fail lease_unavailable at their deadline),
// grants come back on the lease thread with the token, later uses are answered at once,
// refusals name the holder and are counted, and stop() releases what is held.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "gateway/lease_manager.h"
#include "tests/support/process.h"

namespace hg = homestead::gateway;
using homestead::testing::wait_until;
using namespace std::chrono_literals;

namespace {

// Outcomes delivered to callbacks, with the thread they ran on.
struct Collected {
  std::mutex mutex;
  std::vector<hg::LeaseOutcome> outcomes;
  std::vector<std::thread::id> threads;
  hg::LeaseManager::Callback callback() {
    return [this](const hg::LeaseOutcome& o) {
      std::lock_guard lock(mutex);
      outcomes.push_back(o);
      threads.push_back(std::this_thread::get_id());
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return outcomes.size();
  }
};

// The fake cloud: answers from `answer`, or blocks while `stuck`.
struct FakeLeaseRpc {
  std::mutex mutex;
  std::condition_variable cv;
  bool stuck = false;
  hg::LeaseAnswer answer{true, "gwB", 9};
  std::vector<std::string> acquired, released;
  hg::LeaseManager::Rpc rpc() {
    hg::LeaseManager::Rpc r;
    r.acquire = [this](const std::string& name, std::uint32_t) -> std::optional<hg::LeaseAnswer> {
      std::unique_lock lock(mutex);
      acquired.push_back(name);
      cv.wait(lock, [&] { return !stuck; });
      return answer;
    };
    r.release = [this](const std::string& name) {
      std::lock_guard lock(mutex);
      released.push_back(name);
    };
    return r;
  }
  void set_stuck(bool s) {
    {
      std::lock_guard lock(mutex);
      stuck = s;
    }
    cv.notify_all();
  }
};

}  // namespace

TEST(LeaseManager, GrantsOnTheLeaseThreadThenAtOnceAndReleasesAtStop) {
  hg::Metrics metrics;
  FakeLeaseRpc cloud;
  hg::LeaseManager m("h", {"plug"}, {9000, 2000, 18000}, cloud.rpc(), metrics);
  EXPECT_TRUE(m.shared("plug"));
  EXPECT_FALSE(m.shared("lamp"));
  m.start();
  Collected got;
  EXPECT_FALSE(m.use("plug", got.callback()));
  ASSERT_TRUE(wait_until([&] { return got.size() == 1; }, 10s));
  EXPECT_TRUE(got.outcomes[0].granted);
  EXPECT_EQ(got.outcomes[0].fencing_token, 9u);
  EXPECT_NE(got.threads[0], std::this_thread::get_id());
  EXPECT_EQ(m.use("plug", got.callback()), std::optional<std::uint64_t>(9));
  EXPECT_TRUE(m.holds("plug"));
  EXPECT_EQ(metrics.value("homestead_lease_acquisitions_total"), 1);
  {
    std::lock_guard lock(cloud.mutex);
    EXPECT_EQ(cloud.acquired.at(0), "home/h/device/plug");
  }
  m.stop();
  std::lock_guard lock(cloud.mutex);
  EXPECT_EQ(cloud.released, std::vector<std::string>{"home/h/device/plug"});
}

TEST(LeaseManager, HeldElsewhereIsRefusedNamingTheHolder) {
  hg::Metrics metrics;
  FakeLeaseRpc cloud;
  cloud.answer = {false, "gwA", 4};
  hg::LeaseManager m("h", {"plug"}, {9000, 2000, 18000}, cloud.rpc(), metrics);
  m.start();
  Collected got;
  EXPECT_FALSE(m.use("plug", got.callback()));
  ASSERT_TRUE(wait_until([&] { return got.size() == 1; }, 10s));
  EXPECT_FALSE(got.outcomes[0].granted);
  EXPECT_EQ(got.outcomes[0].reason, "lease_held_by:gwA");
  EXPECT_EQ(metrics.value("homestead_lease_refusals_total", "reason=\"lease_held_by\""), 1);
  EXPECT_FALSE(m.holds("plug"));
  m.stop();
  std::lock_guard lock(cloud.mutex);
  EXPECT_TRUE(cloud.released.empty());
}

TEST(LeaseManager, AStuckCloudCallFailsWaitersAtTheirDeadline) {
  hg::Metrics metrics;
  FakeLeaseRpc cloud;
  cloud.set_stuck(true);
  hg::LeaseManager m("h", {"plug"}, {9000, 50, 18000}, cloud.rpc(), metrics);
  m.start();
  Collected got;
  EXPECT_FALSE(m.use("plug", got.callback()));  // returns while the RPC is stuck
  ASSERT_TRUE(wait_until([&] {
    m.expire();  // the gateway's ticker does this every 100 ms
    return got.size() == 1;
  }, 10s));
  EXPECT_FALSE(got.outcomes[0].granted);
  EXPECT_EQ(got.outcomes[0].reason, "lease_unavailable");
  EXPECT_EQ(metrics.value("homestead_lease_refusals_total", "reason=\"lease_unavailable\""), 1);
  {
    std::lock_guard lock(cloud.mutex);
    EXPECT_EQ(cloud.acquired.size(), 1u) << "the call was still out when the waiter failed";
  }
  cloud.set_stuck(false);
  // The late grant still makes the lease ours for the next command.
  ASSERT_TRUE(wait_until([&] { return m.holds("plug"); }, 10s));
  EXPECT_EQ(got.size(), 1u);
  m.stop();
}
