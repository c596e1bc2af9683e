// The sync outbox (docs/sync-protocol.md): every item the cloud must get - reported state
// changes, finished transactuation records, conflict resolutions - as a row in the gateway's
// SQLite file (WAL, synchronous=FULL, so an append that returned survives kill -9), plus the
// durable sync positions (next seq, applied_through, desired_cursor) and the local conflict
// log.
//
// Sequence numbers: the cloud applies item `seq` only when it is exactly its
// applied_through + 1, so seqs must have no gaps. Rows therefore get their seq when they
// first enter a batch (next_batch, fsynced before anything is sent), not when appended: the
// bounded policy may then drop a not-yet-sent row without leaving a hole. Rows that have a
// seq are never dropped (the cloud may have applied them). Order is append order (rowid),
// and seqs follow it.
//
// Bound (`max_items`, policy drop_oldest_reported): when full, the oldest unsent *reported*
// row is dropped (a later report of the device supersedes it); transactuation and conflict
// rows are never dropped (they may push the depth past the bound); when no unsent reported
// row is left, a new reported row is dropped. Every drop is counted durably.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace homestead::gateway {

inline constexpr const char* kItemReported = "reported";
inline constexpr const char* kItemTransactuation = "transactuation";
inline constexpr const char* kItemConflict = "conflict";

struct OutboxEntry {
  std::string kind;  // kItem*
  std::int64_t at_ms = 0;
  std::string body;  // JSON object text
  // Non-empty: a key appended at most once ever (e.g. "txn:<id>"), so replaying a source
  // after a crash cannot queue the same record twice.
  std::string ref;
};

struct OutboxRow {
  std::uint64_t seq = 0;
  std::string kind;
  std::int64_t at_ms = 0;
  std::string body;
};

struct AppendResult {
  std::size_t appended = 0;
  std::size_t dropped = 0;     // rows dropped by the bound (old reported rows or new reported ones)
  std::size_t duplicates = 0;  // entries whose ref was already appended
};

struct OutboxStats {
  std::int64_t depth = 0;
  std::int64_t bytes = 0;
  std::int64_t dropped = 0;
  std::int64_t oldest_at_ms = 0;  // 0 when empty
  std::uint64_t next_seq = 1;
  std::uint64_t applied_through = 0;
  std::uint64_t desired_cursor = 0;
  std::int64_t conflicts_resolved = 0;
  std::int64_t desired_applied = 0;
  std::int64_t desired_failed = 0;
};

// One conflict resolution (docs/sync-protocol.md, "Conflict rule").
struct ConflictRecord {
  std::int64_t at_ms = 0;
  std::string device;
  std::string attribute;
  nlohmann::json local_value;
  nlohmann::json desired_value;
  std::uint64_t desired_version = 0;
  std::string resolution;  // desired_applied | desired_aborted
  std::string detail;
  // The "conflict" item body of sync_api.h.
  nlohmann::json to_json() const;
};

class Outbox {
 public:
  // Opens `path` (the gateway's database file) on a connection of its own and creates the
  // outbox tables if missing. Throws StoreError.
  Outbox(const std::filesystem::path& path, std::int64_t max_items);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Appends inside a transaction the caller holds on `db`, a connection to the same file
  // (Store::insert_readings passes its writer), so the rows commit with the caller's data.
  static AppendResult append_in(sqlite3* db, const std::vector<OutboxEntry>& entries, std::int64_t max_items);
  // Appends in a transaction of its own (fsynced when it returns).
  AppendResult append(const std::vector<OutboxEntry>& entries);
  bool has_ref(const std::string& ref);
  std::int64_t max_items() const { return max_items_; }

  // The first `max` rows in seq order, giving unsent rows their seq durably first.
  std::vector<OutboxRow> next_batch(std::size_t max);
  // The cloud has applied everything up to `applied_through`: deletes those rows and keeps
  // the position. Returns the rows deleted.
  std::size_t acknowledge(std::uint64_t applied_through);
  // A pulled desired change has a durable outcome: in one transaction, advance the cursor,
  // count it, and record its conflicts (locally and as "conflict" outbox rows).
  void finish_desired(std::uint64_t cursor, bool applied, const std::vector<ConflictRecord>& conflicts,
                      std::int64_t now_ms);
  // The run started for desired change `cursor` (kept until the cursor passes it), so a
  // restart waits for that run's outcome instead of starting the change again.
  void set_desired_run(std::uint64_t cursor, std::uint64_t run_id);
  // {cursor, run id}; {0, 0} when none.
  std::pair<std::uint64_t, std::uint64_t> desired_run();
  // Newest first.
  std::vector<ConflictRecord> conflicts(int limit);
  OutboxStats stats();

 private:
  sqlite3* db_ = nullptr;
  std::int64_t max_items_;
  std::mutex mutex_;
};

}  // namespace homestead::gateway
