#include "transactuation/driver.h"

namespace homestead::transactuation {

Driver::Driver(Runtime& runtime, IntentLog& log, DeviceBus& bus, Time flush_interval, OnFinished on_finished)
    : runtime_(runtime), log_(log), bus_(bus), flush_interval_(flush_interval), on_finished_(std::move(on_finished)) {}

void Driver::recover(Time now) {
  runtime_.recover(log_.load(), now);
  pump(now);
  if (!unsynced_since_) log_.prepare_append();
}

void Driver::pump(Time now) {
  // Handling one Ready can never produce another (no input reaches the runtime here), but a
  // callback may trigger more work, so drain until empty.
  for (Ready ready = runtime_.take_ready(); !ready.empty(); ready = runtime_.take_ready()) {
    if (ready.sync) {
      // Everything before the sync point goes to disk with it, outcomes included: an intent
      // later in this Ready may have read their writes, so they must be as durable as it.
      ready.serialise_outcomes();
      append(ready.records, now);
      if (unsynced_since_) {
        log_.sync();  // the intent is durable before any command below leaves
        ++stats_.syncs;
        unsynced_since_.reset();
      }
      send_and_report(ready);
    } else {
      // Only outcome records (intents always ask for a sync), which are group-committed:
      // reporting first and serialising + appending them afterwards takes that work off the
      // trigger -> commit path and changes nothing a crash could see (unsynced either way).
      try {
        send_and_report(ready);
      } catch (...) {
        // A throwing callback must not leave reported outcomes out of the log.
        ready.serialise_outcomes();
        append(ready.records, now);
        throw;
      }
      ready.serialise_outcomes();
      append(ready.records, now);
    }
  }
  flush_if_due(now);
}

std::uint64_t Driver::compact(Time now) {
  pump(now);  // every outcome so far is appended before the checkpoint
  const LogRecord checkpoint = runtime_.checkpoint();
  std::set<TxnId> open;
  for (const auto& id : checkpoint.body.at("open")) open.insert(id.get<TxnId>());
  const std::uint64_t reclaimed = log_.compact(checkpoint, open);
  unsynced_since_.reset();  // the checkpoint's sync made every earlier record durable
  ++stats_.syncs;
  ++stats_.compactions;
  stats_.bytes_reclaimed += reclaimed;
  log_.prepare_append();
  return reclaimed;
}

void Driver::append(const std::vector<LogRecord>& records, Time now) {
  if (records.empty()) return;
  log_.append(records);
  stats_.records += records.size();
  if (!unsynced_since_) unsynced_since_ = now;
}

void Driver::send_and_report(const Ready& ready) {
  for (const auto& command : ready.commands) bus_.send(command);
  for (const auto& query : ready.queries) bus_.query(query);
  stats_.commands += ready.commands.size();
  stats_.queries += ready.queries.size();
  stats_.finished += ready.finished.size();
  if (on_finished_) {
    for (const auto& record : ready.finished) on_finished_(record);
  }
}

void Driver::flush_if_due(Time now) {
  if (unsynced_since_ && now - *unsynced_since_ >= flush_interval_) {
    log_.sync();
    ++stats_.syncs;
    unsynced_since_.reset();
    log_.prepare_append();  // nothing waits on this flush: the next intent's append is cheaper
  }
}

std::optional<Time> Driver::next_wakeup() const {
  std::optional<Time> wake = runtime_.next_deadline();
  if (unsynced_since_) {
    const Time flush = *unsynced_since_ + flush_interval_;
    if (!wake || flush < *wake) wake = flush;
  }
  return wake;
}

}  // namespace homestead::transactuation
