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
  } catch (...) {
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
  sqlite3_finalize(insert_);
  sqlite3_close(db_);
}

void SqliteIntentLog::append(const std::vector<LogRecord>& records) {
  if (records.empty()) return;
  if (!in_transaction_) {
    exec("BEGIN IMMEDIATE");
    in_transaction_ = true;
  }
  for (const auto& record : records) {
    const std::string kind = to_string(record.kind);
    const std::string body = record.body.dump();
    sqlite3_reset(insert_);
    sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(record.txn));
    sqlite3_bind_text(insert_, 2, kind.c_str(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert_, 3, body.c_str(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(insert_) != SQLITE_DONE) fail("insert");
  }
}

void SqliteIntentLog::sync() {
  if (!in_transaction_) return;
  exec("COMMIT");
  in_transaction_ = false;
  ++syncs_;
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
      Json wrapper{{"kind", kind ? kind : ""},
                   {"txn", static_cast<TxnId>(sqlite3_column_int64(select, 0))},
                   {"body", Json::parse(body ? body : "null")}};
      records.push_back(decode_log_record(wrapper.dump()));
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
