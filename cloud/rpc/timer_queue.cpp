#include "cloud/rpc/timer_queue.h"

namespace homestead::rpc {

TimerQueue::TimerQueue() : thread_([this] { run(); }) {}

TimerQueue::~TimerQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

TimerQueue& TimerQueue::shared() {
  static TimerQueue queue;
  return queue;
}

TimerQueue::Id TimerQueue::schedule(Clock::time_point when, std::function<void()> action) {
  Id id;
  bool wake;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    due_.emplace(std::make_pair(when, id), std::move(action));
    index_.emplace(id, when);
    // Wake the timer thread only if it sleeps past this entry. A call's deadline is usually
    // later than the one the thread already waits for (even if that one was cancelled), so
    // most calls cost no cross-thread wake-up: it wakes then, finds the new entry and waits on.
    wake = when < wake_at_;
    if (wake) wake_at_ = when;
  }
  if (wake) changed_.notify_one();
  return id;
}

bool TimerQueue::cancel(Id id) {
  std::unique_lock lock(mutex_);
  const auto found = index_.find(id);
  if (found == index_.end()) {
    if (std::this_thread::get_id() != thread_.get_id()) finished_.wait(lock, [&] { return running_ != id; });
    return false;
  }
  due_.erase({found->second, id});
  index_.erase(found);
  return true;
}

void TimerQueue::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (due_.empty()) {
      wake_at_ = Clock::time_point::max();
      changed_.wait(lock);
      continue;
    }
    const auto when = due_.begin()->first.first;
    if (Clock::now() < when) {
      wake_at_ = when;
      changed_.wait_until(lock, when);
      continue;
    }
    wake_at_ = Clock::time_point::min();  // running actions: the loop looks at the queue again
    auto action = std::move(due_.begin()->second);
    running_ = due_.begin()->first.second;
    index_.erase(running_);
    due_.erase(due_.begin());
    lock.unlock();
    action();
    lock.lock();
    running_ = 0;
    finished_.notify_all();
  }
}

}  // namespace homestead::rpc
