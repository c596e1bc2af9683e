#include "transactuation/sqlite_intent_log.h"

#include <sqlite3.h>

#include <stdexcept>

namespace homestead::transactuation {

void SqliteIntentLog::fail(const std::string& what) {
  throw std::runtime_error("intent log " + path_.string() + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "no database"));
}

void SqliteIntentLog::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error("intent log " + path_.string() + ": " + message + " (in: " + sql + ")");
  }
}

SqliteIntentLog::SqliteIntentLog(const std::filesystem::path& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("intent log " + path.string() + ": cannot open: " + message);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");  // COMMIT returns after the WAL is fsynced
    exec("CREATE TABLE IF NOT EXISTS transactuation_log ("
         " seq INTEGER PRIMARY KEY AUTOINCREMENT, txn INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS transactuation_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    exec("INSERT INTO transactuation_meta(key, value) VALUES('epoch', 1)"
         " ON CONFLICT(key) DO UPDATE SET value = value + 1");
    sqlite3_stmt* select = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT value FROM transactuation_meta WHERE key = 'epoch'", -1, &select, nullptr) !=
        SQLITE_OK) {
      fail("prepare epoch");
    }
    if (sqlite3_step(select) == SQLITE_ROW) epoch_ = static_cast<std::uint64_t>(sqlite3_column_int64(select, 0));
    sqlite3_finalize(select);
    if (sqlite3_prepare_v2(db_, "INSERT INTO transactuation_log(txn, kind, body) VALUES(?, ?, ?)", -1, &insert_,
                           nullptr) != SQLITE_OK) {
      fail("prepare insert");
    }
    // Prepared once: parsing BEGIN/COMMIT again on every append and sync is measurable.
    if (sqlite3_prepare_v2(db_, "BEGIN IMMEDIATE", -1, &begin_, nullptr) != SQLITE_OK) fail("prepare begin");
    if (sqlite3_prepare_v2(db_, "COMMIT", -1, &commit_, nullptr) != SQLITE_OK) fail("prepare commit");
    if (sqlite3_prepare_v2(db_,
                           "UPDATE transactuation_log SET txn = txn"
                           " WHERE seq = (SELECT max(seq) FROM transactuation_log)",
                           -1, &touch_, nullptr) != SQLITE_OK) {
      fail("prepare touch");
    }
  } catch (...) {
    sqlite3_finalize(touch_);
    sqlite3_finalize(commit_);
    sqlite3_finalize(begin_);
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
    throw;
  }
}

SqliteIntentLog::~SqliteIntentLog() {
  try {
    sync();
  } catch (const std::exception&) {
    // Nothing sensible to do in a destructor; recovery handles what was not synced.
  }
  sqlite3_finalize(touch_);
  sqlite3_finalize(commit_);
  sqlite3_finalize(begin_);
  sqlite3_finalize(insert_);
  sqlite3_close(db_);
}

void SqliteIntentLog::append(const std::vector<LogRecord>& records) {
  if (records.empty()) return;
  prepare_append();
  appended_ = true;
  for (const auto& record : records) {
    // The runtime hands out records already serialised; bind that text without copying it.
    const std::string dumped = record.text.empty() ? record.body.dump() : std::string();
    const std::string& body = record.text.empty() ? dumped : record.text;
    const char* kind = to_string(record.kind);
    sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(record.txn));
    sqlite3_bind_text(insert_, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert_, 3, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
    step_done(insert_, "insert");
  }
}

void SqliteIntentLog::prepare_append() {
  if (in_transaction_) return;
  step_done(begin_, "begin");
  in_transaction_ = true;
  // The first write of a transaction costs ~20 us more than the next ones (it loads and
  // dirties the b-tree path to the table's last leaf). Rewriting the last row with its own
  // values pays that here, off the critical path: a no-op for the data, and the page it
  // dirties is the one the next INSERT writes anyway.
  step_done(touch_, "prepare");
}

void SqliteIntentLog::sync() {
  if (!appended_) return;  // an open but empty transaction has nothing to make durable
  step_done(commit_, "commit");
  in_transaction_ = false;
  appended_ = false;
  ++syncs_;
}

void SqliteIntentLog::step_done(sqlite3_stmt* statement, const char* what) {
  const int rc = sqlite3_step(statement);
  sqlite3_reset(statement);
  if (rc != SQLITE_DONE) fail(what);
}

std::uint64_t SqliteIntentLog::compact(const LogRecord& checkpoint, const std::set<TxnId>& open) {
  append({checkpoint});
  const auto checkpoint_seq = sqlite3_last_insert_rowid(db_);
  std::string keep;
  for (TxnId id : open) keep += (keep.empty() ? "" : ",") + std::to_string(static_cast<sqlite3_int64>(id));
  const std::string where = " FROM transactuation_log WHERE seq < " + std::to_string(checkpoint_seq) +
                            (keep.empty() ? std::string() : " AND txn NOT IN (" + keep + ")");
  std::uint64_t reclaimed = 0;
  sqlite3_stmt* sum = nullptr;
  const std::string sum_sql = "SELECT coalesce(sum(length(body)), 0)" + where;
  if (sqlite3_prepare_v2(db_, sum_sql.c_str(), -1, &sum, nullptr) != SQLITE_OK) fail("prepare compaction size");
  if (sqlite3_step(sum) == SQLITE_ROW) reclaimed = static_cast<std::uint64_t>(sqlite3_column_int64(sum, 0));
  sqlite3_finalize(sum);
  exec(("DELETE" + where).c_str());
  sync();
  return reclaimed;
}

std::vector<LogRecord> SqliteIntentLog::load() {
  std::vector<LogRecord> records;
  sqlite3_stmt* select = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT txn, kind, body FROM transactuation_log ORDER BY seq", -1, &select, nullptr) !=
      SQLITE_OK) {
    fail("prepare load");
  }
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(select)) == SQLITE_ROW) {
    const auto* kind = reinterpret_cast<const char*>(sqlite3_column_text(select, 1));
    const auto* body = reinterpret_cast<const char*>(sqlite3_column_text(select, 2));
    try {
      records.push_back(LogRecord{parse_log_kind(kind ? kind : ""), static_cast<TxnId>(sqlite3_column_int64(select, 0)),
                                  Json::parse(body ? body : "null"), {}});
    } catch (const std::exception& e) {
      sqlite3_finalize(select);
      throw std::runtime_error("intent log " + path_.string() + ": row " + std::to_string(records.size() + 1) + ": " +
                               e.what());
    }
  }
  sqlite3_finalize(select);
  if (rc != SQLITE_DONE) fail("load");
  return records;
}

}  // namespace homestead::transactuation
