// Measures the two durable-log designs the issue asks us to choose between, on this
// machine's disk: our segment files (CRC32C records, fdatasync per Ready) and SQLite in WAL
// mode with synchronous=FULL (one transaction per Ready). Same payloads, same batching.
// The numbers behind replication/README.md's storage decision.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "replication/storage/segment_log_store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using homestead::raft::Entry;
using homestead::raft::EntryType;
using homestead::raft::HardState;
using homestead::raft::Ready;

struct Result {
  double entries_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
};

Result measure(int batches, int batch_size, const std::function<void(std::uint64_t first, int count)>& write_batch) {
  std::vector<double> latencies;
  const auto start = Clock::now();
  for (int b = 0; b < batches; ++b) {
    const auto t0 = Clock::now();
    write_batch(static_cast<std::uint64_t>(b) * batch_size + 1, batch_size);
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  return {batches * batch_size / seconds, latencies[latencies.size() / 2], latencies[latencies.size() * 99 / 100]};
}

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::cerr << "sqlite " << what << ": " << sqlite3_errmsg(db) << "\n";
    std::exit(1);
  }
}

Result bench_segments(const fs::path& dir, int batches, int batch_size, const std::string& payload) {
  fs::remove_all(dir);
  homestead::storage::LogStoreOptions options;
  options.dir = dir;
  homestead::storage::SegmentLogStore store(options);
  store.load();
  return measure(batches, batch_size, [&](std::uint64_t first, int count) {
    Ready rd;
    for (int i = 0; i < count; ++i) rd.entries.push_back({1, first + static_cast<std::uint64_t>(i), EntryType::normal, payload});
    rd.hard_state = HardState{1, 1, first};
    rd.must_sync = true;
    store.persist(rd);
  });
}

Result bench_sqlite(const fs::path& dir, int batches, int batch_size, const std::string& payload) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  sqlite3* db = nullptr;
  check(sqlite3_open((dir / "log.db").c_str(), &db), db, "open");
  check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "CREATE TABLE entries(idx INTEGER PRIMARY KEY, term INTEGER, data BLOB);"
                         "CREATE TABLE hard_state(id INTEGER PRIMARY KEY, term INTEGER, vote INTEGER, commit_index INTEGER);",
                     nullptr, nullptr, nullptr),
        db, "schema");
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* state = nullptr;
  check(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO entries VALUES(?, ?, ?)", -1, &insert, nullptr), db, "prepare");
  check(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO hard_state VALUES(1, 1, 1, ?)", -1, &state, nullptr), db, "prepare");
  Result r = measure(batches, batch_size, [&](std::uint64_t first, int count) {
    check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (int i = 0; i < count; ++i) {
      sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(first + static_cast<std::uint64_t>(i)));
      sqlite3_bind_int64(insert, 2, 1);
      sqlite3_bind_blob(insert, 3, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
      check(sqlite3_step(insert), db, "insert");
      sqlite3_reset(insert);
    }
    sqlite3_bind_int64(state, 1, static_cast<sqlite3_int64>(first));
    check(sqlite3_step(state), db, "hard state");
    sqlite3_reset(state);
    check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  });
  sqlite3_finalize(insert);
  sqlite3_finalize(state);
  sqlite3_close(db);
  return r;
}

void usage() {
  std::cout << "usage: raft_log_store_bench [--dir DIR] [--batches N] [--value-bytes B]\n"
               "Appends Raft entries durably with the segment log store and with SQLite\n"
               "(WAL, synchronous=FULL), one fsync/transaction per batch, for batch sizes 1, 16\n"
               "and 64, and prints entries/s and per-batch latency (p50, p99) side by side.\n"
               "  --dir DIR          where to write (default: a fresh directory under /tmp)\n"
               "  --batches N        batches per measurement (default 400)\n"
               "  --value-bytes B    payload per entry (default 256)\n";
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::temp_directory_path() / ("homestead-logbench-" + std::to_string(::getpid()));
  int batches = 400;
  std::size_t value_bytes = 256;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << name << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else if (arg == "--dir") {
      dir = value("--dir");
    } else if (arg == "--batches") {
      batches = std::max(10, std::atoi(value("--batches").c_str()));
    } else if (arg == "--value-bytes") {
      value_bytes = static_cast<std::size_t>(std::max(1, std::atoi(value("--value-bytes").c_str())));
    } else {
      std::cerr << "unknown option " << arg << " (see --help)\n";
      return 2;
    }
  }
  const std::string payload(value_bytes, 'v');
  std::printf("%-10s %6s %14s %10s %10s %14s %10s %10s %7s\n", "batch", "", "segment e/s", "p50 us", "p99 us",
              "sqlite e/s", "p50 us", "p99 us", "ratio");
  for (int batch : {1, 16, 64}) {
    const Result seg = bench_segments(dir / "segments", batches, batch, payload);
    const Result sql = bench_sqlite(dir / "sqlite", batches, batch, payload);
    std::printf("%-10d %6s %14.0f %10.0f %10.0f %14.0f %10.0f %10.0f %6.2fx\n", batch, "", seg.entries_per_second,
                seg.p50_us, seg.p99_us, sql.entries_per_second, sql.p50_us, sql.p99_us,
                seg.entries_per_second / sql.entries_per_second);
  }
  fs::remove_all(dir);
  return 0;
}
