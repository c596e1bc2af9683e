// Glue between the pure Runtime and its adapters: handles each Ready in the order the
// runtime demands (append, sync, send, report) and group-commits the records that need no
// immediate sync. The gateway gives it a SQLite IntentLog and an MQTT DeviceBus; the
// simulation gives it a simulated disk and network. Single-threaded: call from one thread.
#pragma once

#include <functional>
#include <vector>

#include "transactuation/record.h"
#include "transactuation/runtime.h"

namespace homestead::transactuation {

class IntentLog {
 public:
  virtual ~IntentLog() = default;
  // Appends in order; not necessarily durable until sync().
  virtual void append(const std::vector<LogRecord>& records) = 0;
  // Makes every record appended so far durable (fsync).
  virtual void sync() = 0;
  // Every durable record, in append order.
  virtual std::vector<LogRecord> load() = 0;
  // Called off the critical path (after a group flush) so a log can do now the set-up work
  // the next append() would otherwise pay for on a trigger -> commit path (SQLite: BEGIN).
  virtual void prepare_append() {}
  // Appends `checkpoint` and makes it durable together with everything appended before it,
  // then drops the records before it that droppable_before_checkpoint(record, open) allows.
  // Must be crash-safe at every point: any prefix of the drops may be what survives a crash
  // (recovery ignores what a checkpoint summarises). Returns the bytes reclaimed.
  // The default only appends and syncs the checkpoint (reclaims nothing).
  virtual std::uint64_t compact(const LogRecord& checkpoint, const std::set<TxnId>& open) {
    (void)open;
    append({checkpoint});
    sync();
    return 0;
  }
};

class DeviceBus {
 public:
  virtual ~DeviceBus() = default;
  virtual void send(const Command& command) = 0;
  virtual void query(const StatusQuery& query) = 0;
};

struct DriverStats {
  std::uint64_t syncs = 0;
  std::uint64_t records = 0;
  std::uint64_t commands = 0;
  std::uint64_t queries = 0;
  std::uint64_t finished = 0;
  std::uint64_t compactions = 0;
  std::uint64_t bytes_reclaimed = 0;
};

class Driver {
 public:
  using OnFinished = std::function<void(const TransactuationRecord&)>;
  // flush_interval: outcome records appended without sync become durable at most this
  // long after they were appended (group commit), or earlier with the next intent.
  Driver(Runtime& runtime, IntentLog& log, DeviceBus& bus, Time flush_interval, OnFinished on_finished = {});

  // Loads the log and runs recovery; call once at start.
  void recover(Time now);
  // Handles whatever the runtime has produced; call after every input to the runtime.
  void pump(Time now);
  // Group flush if due; call on a timer (next_wakeup() says when).
  void flush_if_due(Time now);
  std::optional<Time> next_wakeup() const;
  const DriverStats& stats() const { return stats_; }
  // Intent-log compaction: pumps, then writes Runtime::checkpoint() and lets the log drop
  // what it summarises. Off the critical path (call from a timer). Returns bytes reclaimed.
  std::uint64_t compact(Time now);

 private:
  void append(const std::vector<LogRecord>& records, Time now);
  void send_and_report(const Ready& ready);

  Runtime& runtime_;
  IntentLog& log_;
  DeviceBus& bus_;
  Time flush_interval_;
  OnFinished on_finished_;
  std::optional<Time> unsynced_since_;
  DriverStats stats_;
};

}  // namespace homestead::transactuation
