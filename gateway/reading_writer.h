// Batches readings into SQLite: the ingest thread only appends to a queue; this thread
// commits everything queued as one transaction (one fsync) every flush interval or when a
// batch is full, which is what lets ingest keep up with the broker (~70k rows/s batched vs
// ~9k with a commit per row). A reading counts as stored once its batch has committed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/metrics.h"
#include "gateway/records.h"
#include "gateway/store.h"

namespace homestead::gateway {

class ReadingWriter {
 public:
  // Optional: runs inside each batch's transaction (the sync outbox appends the batch's
  // reported changes there), and after the batch has committed.
  struct Hooks {
    std::function<void(sqlite3* db, const std::vector<Reading>& batch)> in_transaction;
    std::function<void()> after_commit;
  };
  ReadingWriter(Store& store, Metrics& metrics, int batch_max_rows, int flush_interval_ms, Hooks hooks = {});
  ~ReadingWriter();
  ReadingWriter(const ReadingWriter&) = delete;
  ReadingWriter& operator=(const ReadingWriter&) = delete;

  void start();
  // Commits what is queued, then stops.
  void stop();
  void push(Reading reading);
  std::size_t queue_depth() const;
  std::uint64_t stored() const;

 private:
  void run();
  Store& store_;
  Metrics& metrics_;
  const std::size_t batch_max_rows_;
  const int flush_interval_ms_;
  Hooks hooks_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Reading> queue_;
  bool stopping_ = false;
  std::uint64_t stored_ = 0;
  std::thread thread_;
};

}  // namespace homestead::gateway
