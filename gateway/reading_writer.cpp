#include "gateway/reading_writer.h"

#include <chrono>

#include "common/log/log.h"

namespace homestead::gateway {
namespace {
const log::Logger logger("storage");
}

ReadingWriter::ReadingWriter(Store& store, Metrics& metrics, int batch_max_rows, int flush_interval_ms, Hooks hooks)
    : store_(store),
      metrics_(metrics),
      batch_max_rows_(static_cast<std::size_t>(batch_max_rows)),
      flush_interval_ms_(flush_interval_ms),
      hooks_(std::move(hooks)) {}

ReadingWriter::~ReadingWriter() { stop(); }

void ReadingWriter::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ReadingWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReadingWriter::push(Reading reading) {
  bool full;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(reading));
    full = queue_.size() >= batch_max_rows_;
  }
  if (full) wake_.notify_one();
}

void ReadingWriter::push_all(std::vector<Reading>&& readings) {
  bool full;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      queue_.swap(readings);
    } else {
      queue_.insert(queue_.end(), std::make_move_iterator(readings.begin()), std::make_move_iterator(readings.end()));
    }
    full = queue_.size() >= batch_max_rows_;
  }
  if (full) wake_.notify_one();
}

std::size_t ReadingWriter::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t ReadingWriter::stored() const {
  std::lock_guard lock(mutex_);
  return stored_;
}

void ReadingWriter::run() {
  std::vector<Reading> taken, batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::milliseconds(flush_interval_ms_),
                   [&] { return stopping_ || queue_.size() >= batch_max_rows_; });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    taken.clear();
    taken.swap(queue_);  // O(1); ingest goes on filling the (reused) other vector
    lock.unlock();
    // One transaction (one fsync) per batch_max_rows rows.
    std::uint64_t committed = 0;
    if (taken.size() <= batch_max_rows_) {
      if (commit(taken)) committed = taken.size();
    } else {
      for (std::size_t first = 0; first < taken.size(); first += batch_max_rows_) {
        const std::size_t last = std::min(taken.size(), first + batch_max_rows_);
        batch.assign(std::make_move_iterator(taken.begin() + static_cast<long>(first)),
                     std::make_move_iterator(taken.begin() + static_cast<long>(last)));
        if (commit(batch)) committed += batch.size();
        batch.clear();
      }
    }
    lock.lock();
    stored_ += committed;
  }
}

bool ReadingWriter::commit(const std::vector<Reading>& batch) {
  const auto start = std::chrono::steady_clock::now();
  bool ok = true;
  try {
    if (hooks_.in_transaction) {
      store_.insert_readings(batch, [&](sqlite3* db) { hooks_.in_transaction(db, batch); });
    } else {
      store_.insert_readings(batch);
    }
    if (hooks_.after_commit) hooks_.after_commit();
  } catch (const std::exception& e) {
    ok = false;
    metrics_.add("homestead_db_errors_total");
    logger.error("reading batch not stored", {{"rows", std::to_string(batch.size())}, {"error", e.what()}});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.observe_db_write(seconds);
  if (ok) metrics_.add("homestead_readings_stored_total", {}, static_cast<double>(batch.size()));
  return ok;
}

}  // namespace homestead::gateway
