// The intent log on SQLite, for gatewayd: WAL journal with synchronous=FULL, so a COMMIT
// returns only after the WAL is fsynced. append() writes rows inside an open transaction;
// sync() commits it. Rows not yet synced are lost by a crash, exactly what the runtime's
// ordering expects (only intent/compensate records must be durable before commands leave).
// Also keeps a boot epoch so transactuation ids never repeat across restarts.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "transactuation/driver.h"

struct sqlite3;
struct sqlite3_stmt;

namespace homestead::transactuation {

class SqliteIntentLog : public IntentLog {
 public:
  // Opens or creates the database; throws std::runtime_error naming the file and the problem.
  explicit SqliteIntentLog(const std::filesystem::path& path);
  ~SqliteIntentLog() override;  // syncs what was appended (clean shutdown)
  SqliteIntentLog(const SqliteIntentLog&) = delete;
  SqliteIntentLog& operator=(const SqliteIntentLog&) = delete;

  void append(const std::vector<LogRecord>& records) override;
  void sync() override;
  std::vector<LogRecord> load() override;
  // Opens the write transaction the next append() would open (BEGIN IMMEDIATE takes the WAL
  // write lock: tens of microseconds). The log's file is this object's alone, so holding the
  // write lock while idle blocks no other writer; readers are never blocked in WAL mode.
  void prepare_append() override;
  // Checkpoint INSERT and the DELETE of what it summarises in ONE transaction: a crash at any
  // point leaves either the whole old log or the compacted one. Bytes reclaimed = the deleted
  // bodies (the pages are reused by later records; the file itself does not shrink).
  std::uint64_t compact(const LogRecord& checkpoint, const std::set<TxnId>& open) override;

  // Incremented durably on every open: use (epoch << 32) as the first transactuation id.
  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t syncs() const { return syncs_; }

 private:
  void exec(const char* sql);
  void step_done(sqlite3_stmt* statement, const char* what);  // steps, resets, throws unless DONE
  [[noreturn]] void fail(const std::string& what);

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* touch_ = nullptr;  // see prepare_append()
  bool in_transaction_ = false;
  bool appended_ = false;  // rows in the open transaction: sync() has something to commit
  std::uint64_t epoch_ = 0;
  std::uint64_t syncs_ = 0;
};

}  // namespace homestead::transactuation
