// Batches readings into SQLite: the ingest thread only appends to a queue; this thread
// commits everything queued as one transaction (one fsync) every flush interval or when a
// batch is full, which is what lets ingest keep up with the broker (~70k rows/s batched vs
// ~9k with a commit per row). A reading counts as stored once its batch has committed.
// The queue is swapped out in O(1) under the lock, so ingest never waits behind a batch
// being copied.
#pragma once

#include <condition_variable>
#include <cstdint>
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
  // Appends a whole batch of the ingest thread (one lock, one wake-up).
  void push_all(std::vector<Reading>&& readings);
  std::size_t queue_depth() const;
  std::uint64_t stored() const;

 private:
  void run();
  // Inserts one batch in one transaction; false (logged, counted) when it failed.
  bool commit(const std::vector<Reading>& batch);
  Store& store_;
  Metrics& metrics_;
  const std::size_t batch_max_rows_;
  const int flush_interval_ms_;
  Hooks hooks_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Reading> queue_;
  bool stopping_ = false;
  std::uint64_t stored_ = 0;
  std::thread thread_;
};

}  // namespace homestead::gateway
