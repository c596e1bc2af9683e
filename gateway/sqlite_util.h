// Small RAII helpers over the SQLite C API shared by the gateway's stores (store.cpp,
// outbox.cpp): prepared statements with positional binds, exec with a message naming the
// statement, a connection opener with a busy timeout, and a write transaction that rolls
// back unless committed.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace homestead::gateway::sqlite {

[[noreturn]] void fail(sqlite3* db, const std::string& what);
void exec(sqlite3* db, std::string_view sql);
// Read-write, created if missing, with a 5 s busy timeout (several connections share a file).
sqlite3* open_connection(const std::filesystem::path& path);

// A prepared statement with positional binds; finalised on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v);
  Statement& bind(int i, std::int64_t v);
  Statement& bind_null(int i);
  // True while there is a row.
  bool step();
  void run() {
    step();
    reset();
  }
  void reset();
  std::string text(int col) const;
  std::int64_t integer(int col) const;
  bool is_null(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE now; ROLLBACK on destruction unless commit() ran.
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db) : db_(db) { exec(db_, "BEGIN IMMEDIATE"); }
  ~WriteTransaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit() {
    exec(db_, "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace homestead::gateway::sqlite
