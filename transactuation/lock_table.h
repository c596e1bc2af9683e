// Concurrency control: conservative, FIFO-ordered two-phase locking.
//
// A transactuation declares up front every resource it may touch: the sensor devices it
// reads (shared), the actuators it may command (exclusive) and the app-state keys it reads
// (shared) or writes (exclusive). It enqueues all its requests at once, in one atomic step,
// at admission; a request is granted when it is compatible with every request queued
// before it on that resource. Locks are held until the transactuation finishes (strict).
//
// Why this scheme:
// - No deadlock: a transactuation only ever waits for transactuations admitted before it,
//   so the waits-for graph follows admission order and cannot have a cycle. No detection,
//   no victim aborts (a victim could not be rolled back physically anyway).
// - Serial order = admission order for conflicting transactuations, and because an
//   actuator stays locked until every command to it is resolved, commands reach each
//   device in that same order (the per-device seq makes late duplicates harmless).
// - Non-conflicting transactuations share nothing in the queues and run in parallel.
// - Declaring the lock set up front costs little here: apps name their devices and keys
//   anyway (JSON apps: derived from the definition), and logic that touches an undeclared
//   resource is aborted with reason `logic` instead of silently breaking isolation.
// The price is that a long-running transactuation holds its devices for its whole run;
// timeouts bound that (lock wait -> abort `conflict`).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "transactuation/model.h"

namespace homestead::transactuation {

enum class LockMode { shared, exclusive };

struct LockRequest {
  std::string resource;  // "device:<id>" or "state:<key>"
  LockMode mode = LockMode::shared;
  bool operator==(const LockRequest&) const = default;
};

// Merges duplicates (exclusive wins) and sorts by resource name.
std::vector<LockRequest> normalize_locks(std::vector<LockRequest> requests);
std::string device_resource(const std::string& device);
std::string state_resource(const std::string& key);

class LockTable {
 public:
  // Queues every request of txn behind everything already queued. Call once per txn.
  void enqueue(TxnId txn, const std::vector<LockRequest>& requests);
  // True when every request of txn is compatible with all requests queued before it.
  bool granted(TxnId txn) const;
  // Drops all of txn's requests (held or waiting).
  void release(TxnId txn);
  // Transactuations queued before txn on some shared resource with a conflicting mode.
  std::vector<TxnId> blockers(TxnId txn) const;
  std::size_t queued_resources() const { return queues_.size(); }

 private:
  struct Entry {
    TxnId txn;
    LockMode mode;
  };
  std::map<std::string, std::deque<Entry>> queues_;
  std::map<TxnId, std::vector<LockRequest>> requests_;
};

}  // namespace homestead::transactuation
