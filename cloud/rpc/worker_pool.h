// A fixed set of threads with a bounded queue: when the queue is full, submit() says no and
// the caller answers `overloaded` instead of letting work pile up without limit.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace homestead::rpc {

class WorkerPool {
 public:
  WorkerPool(std::size_t threads, std::size_t queue_capacity);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False (and the task is not run) when the queue is full or the pool is stopping.
  bool submit(std::function<void()> task);
  // Runs what is queued, then joins the threads.
  void stop();

 private:
  void run();
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace homestead::rpc
