// One background thread that runs callbacks at given times: call deadlines and retry
// backoffs for async calls. Cancelled entries are removed, so finished calls cost nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace homestead::rpc {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = std::uint64_t;

  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  Id schedule(Clock::time_point when, std::function<void()> action);
  // True when it was still pending (and now will not run). If the action is running right
  // now on the timer thread, waits for it to finish first (unless called from that action),
  // so after cancel() returns the action no longer touches the caller's objects.
  bool cancel(Id id);

  // The process-wide queue the channels and stubs share.
  static TimerQueue& shared();

 private:
  void run();
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::pair<Clock::time_point, Id>, std::function<void()>> due_;
  std::unordered_map<Id, Clock::time_point> index_;
  Id next_id_ = 1;
  Id running_ = 0;
  Clock::time_point wake_at_ = Clock::time_point::max();  // when the timer thread next looks
  std::condition_variable finished_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace homestead::rpc
