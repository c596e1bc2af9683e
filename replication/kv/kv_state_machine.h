// The replicated key-value state machine: pure and deterministic (no clocks; time comes in
// with each command), applied in log order on every replica. Keys carry etcd-style
// revisions (create, mod, version); one store-wide revision counts every write.
//
// Exactly-once: each client session remembers the answers to its recent commands, so a
// command retried after a timeout or leader change (and so committed twice in the log) is
// executed once and answered from the cache the second time. Sessions expire after
// `session_ttl_ms` without commands (by command timestamps) and are capped in number.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "replication/kv/kv_command.h"

namespace homestead::kv {

struct SessionLimits {
  std::int64_t session_ttl_ms = 10 * 60 * 1000;
  std::size_t max_sessions = 10000;
  std::size_t max_cached_answers = 1024;  // per session; older ones are dropped first
};

class KvStateMachine {
 public:
  explicit KvStateMachine(SessionLimits limits = {}) : limits_(limits) {}

  // Applies a committed command (writes, and reads that went through the log).
  Result apply(const Command& command);
  // Answers get/range from the current state without changing it (ReadIndex, lease and
  // serializable reads). Writes are refused with not_found.
  Result read(const Command& command) const;

  std::string snapshot() const;
  void restore(std::string_view bytes);

  std::uint64_t revision() const { return revision_; }
  std::size_t size() const { return data_.size(); }
  std::size_t session_count() const { return sessions_.size(); }
  // Times a session command was executed rather than answered from the cache.
  std::uint64_t executed_session_commands() const { return executed_session_commands_; }
  bool operator==(const KvStateMachine& other) const {
    return revision_ == other.revision_ && data_ == other.data_ && now_ms_ == other.now_ms_;
  }

 private:
  struct Session {
    std::int64_t last_active_ms = 0;
    std::uint64_t acked_below = 0;
    std::map<std::uint64_t, Result> answers;  // by sequence
  };

  Result execute(const Command& command);
  void expire_sessions();

  SessionLimits limits_;
  std::map<std::string, KeyValue> data_;
  std::uint64_t revision_ = 0;
  std::int64_t now_ms_ = 0;
  std::map<std::uint64_t, Session> sessions_;
  std::uint64_t executed_session_commands_ = 0;
};

}  // namespace homestead::kv
