// Retry decisions shared by the sync and async call paths, and the client's at-most-once
// session (client id, next sequence, acknowledged-through).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>

#include "cloud/rpc/error.h"
#include "cloud/rpc/service.h"

namespace homestead::rpc {

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{5};
  std::chrono::milliseconds max_backoff{500};
  double multiplier = 2.0;
  double jitter = 0.2;  // each backoff is scaled by a random factor in [1 - jitter, 1 + jitter]

  static RetryPolicy none() { return RetryPolicy{1, {}, {}, 1.0, 0.0}; }
  // Backoff before attempt `attempt` (2, 3, ...), with jitter.
  std::chrono::microseconds backoff(int attempt) const;
};

// Whether a failed attempt may be retried under `semantics`: anything the server certainly
// did not execute (except refusals that would repeat: auth, schema, size, stale); and, for
// methods whose repeats are harmless (at-least-once) or filtered (at-most/exactly-once),
// timeouts and lost connections too.
bool retryable(ErrorKind kind, Semantics semantics);

// The final error when attempts ran out: if any earlier attempt may have executed, a later
// "not executed" must not be reported as such - it becomes unknown_outcome.
RpcError final_error(RpcError last, bool maybe_executed);

class ClientSession {
 public:
  // A random non-zero id unless one is given.
  explicit ClientSession(std::uint64_t client_id = 0);
  std::uint64_t client_id() const { return client_id_; }
  std::uint64_t begin();  // a new sequence number
  void finish(std::uint64_t seq);
  // Highest sequence below which every call has finished; the server may drop those replies.
  std::uint64_t ack() const;

 private:
  std::uint64_t client_id_;
  mutable std::mutex mutex_;
  std::uint64_t next_seq_ = 1;
  std::set<std::uint64_t> outstanding_;
};

}  // namespace homestead::rpc
