// The replicated key-value state machine: keys with values and revisions (etcd-style: one
// global revision, bumped by every mutating command), compare-and-swap transactions, range
// by prefix, the member directory (peer/http addresses of every member), and the
// exactly-once session filter. Deterministic: applying the same entries in the same order
// gives the same state and the same answers on every replica.
//
// Not thread-safe by itself; RaftServer applies under a writer lock and readers take a
// reader lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cloud/cloudd/kv_command.h"
#include "cloud/rpc/duplicate_filter.h"
#include "cloud/services/services_state.h"

namespace homestead::cloudd {

struct KeyValue {
  std::string value;
  std::uint64_t create_revision = 0;
  std::uint64_t mod_revision = 0;
  bool operator==(const KeyValue&) const = default;
};

struct MemberInfo {
  std::string peer_address;
  std::string http_address;
  bool operator==(const MemberInfo&) const = default;
};

// The answer to a command, as JSON text (what the HTTP API returns and what the session
// filter replays for a duplicate).
using CommandResult = std::string;

class KvStateMachine {
 public:
  KvStateMachine();

  // Applies one committed command and returns its answer. A repeat of a session's command
  // gets the saved answer without changing anything.
  CommandResult apply(const Command& command);

  std::optional<KeyValue> get(const std::string& key) const;
  // Keys starting with `prefix`, in order, at most `limit` (0: all).
  std::vector<std::pair<std::string, KeyValue>> range(const std::string& prefix, std::size_t limit) const;
  std::uint64_t revision() const { return revision_; }
  const std::map<std::uint64_t, MemberInfo>& members() const { return members_; }
  std::size_t size() const { return data_.size(); }
  // The cloud services (issue 8): their own state, applied from `service` commands, kept in
  // this machine's snapshot and state hash.
  const services::ServicesState& services() const { return services_; }
  // Hash over keys, values, revisions, members, services and sessions: equal on replicas
  // that applied the same entries. O(members), not O(keys): the key-value part is a digest
  // kept up to date on every write (a sum of per-entry hashes, so order-independent), and
  // the session part a chain over the session decisions applied (carried in snapshots).
  // Live snapshots record it on every member while Raft waits (cloud/snapshot/README.md).
  std::uint64_t state_hash() const;

  std::string snapshot() const;
  // Throws raft::CodecError on a malformed snapshot.
  void restore(std::string_view data);

 private:
  CommandResult execute(const Command& command);
  bool compare_holds(const Compare& compare) const;
  void put(const std::string& key, const std::string& value);
  bool remove(const std::string& key);
  // Every write to data_ goes through these two, which keep data_digest_ in step.
  void set_value(const std::string& key, const std::string& value);  // at revision_
  void erase_entry(std::map<std::string, KeyValue>::iterator it);
  static std::uint64_t entry_hash(const std::string& key, const KeyValue& kv);

  std::map<std::string, KeyValue> data_;
  std::uint64_t revision_ = 0;
  std::map<std::uint64_t, MemberInfo> members_;
  rpc::DuplicateFilter sessions_;
  services::ServicesState services_;
  std::uint64_t data_digest_ = 0;     // sum (mod 2^64) of entry_hash over data_
  std::uint64_t sessions_chain_ = 0;  // chain over (client, seq, ack, time, verdict) applied
};

}  // namespace homestead::cloudd
