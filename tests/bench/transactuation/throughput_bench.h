// Throughput and durable-flush measurements of the transactuation runtime with the real
// SQLite intent log; see throughput_bench.cpp.
#pragma once

#include <filesystem>

#include "transactuation/model.h"

namespace homestead::transactuation::bench {

struct ThroughputResult {
  double per_second = 0;
  double syncs_per_txn = 0;
  Time p50 = 0, p99 = 0;  // trigger -> commit, microseconds
};

// Runs `total` transactuations, `concurrency` outstanding, against a fresh database at `db`.
ThroughputResult run_throughput(const std::filesystem::path& db, int total, int concurrency, int conflict_percent,
                                bool batched);

struct FlushCost {
  Time p50 = 0, p99 = 0;  // microseconds
};
// One durable intent-log commit (append an intent and the previous outcome, then sync): the
// floor for any design that makes an intent durable before its command leaves.
FlushCost durable_flush_cost(const std::filesystem::path& db, int rounds);

// Removes the database and its WAL/SHM files.
void remove_database(const std::filesystem::path& db);

}  // namespace homestead::transactuation::bench
