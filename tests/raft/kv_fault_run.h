// Randomized fault runs of the replicated KV store: closed-loop clients write (put, cas,
// delete with exactly-once sessions) and read (ReadIndex or leases) while a nemesis
// partitions, isolates the leader, crashes and restarts servers, drops and delays messages,
// skews clocks and moves leadership. Afterwards the client history must be linearizable
// (per key, Wing-Gong/Lowe search) and all replicas' state machines identical.
#pragma once

#include <cstdint>

namespace homestead::raft::testing {

struct FaultRun {
  int servers = 5;
  int clients = 4;
  int operations = 25;
  bool lease_reads = false;
  bool clock_drift = false;  // skew and drift within the lease assumption
};

// One seeded run with gtest assertions; use inside for_each_seed.
void kv_fault_run(std::uint64_t seed, const FaultRun& run);

}  // namespace homestead::raft::testing
