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
  // Throws raft::CodecError on a malformed snapshot. Cancels a frozen snapshot in progress.
  void restore(std::string_view data);

  // A snapshot of the state as it is now, encoded later (on another thread) while writes go
  // on: encoding a few MB on the Raft loop held every member's loop 50-200 ms (issue 7).
  // freeze() records the small parts and starts keeping the pre-image of every key changed
  // afterwards (first change only); encode_frozen() walks the live keys in order and takes
  // the pre-image where there is one, so the result is exactly what snapshot() would have
  // returned at freeze time. Threading: freeze/thaw/apply/restore under the writer lock,
  // encode_frozen under the reader lock (a chunk at a time, so writes wait at most one chunk).
  struct FrozenSnapshot {
    std::uint64_t generation = 0;
    std::uint64_t key_count = 0;  // keys at freeze time
    std::string head;             // revision, key count
    std::string tail;             // members, sessions, services, session chain
    std::string keys;             // encoded so far
    std::uint64_t keys_done = 0;
    std::optional<std::string> last_key;  // the cursor
    bool finished = false;
    // head + keys + tail; throws std::logic_error when the walk did not see key_count keys.
    std::string take();
  };
  FrozenSnapshot freeze();
  // Encodes up to `max_keys` more keys. False when the snapshot was cancelled (a restore
  // replaced the state) or thawed; `job.finished` once every key is in.
  bool encode_frozen(FrozenSnapshot& job, std::size_t max_keys) const;
  // Stops keeping pre-images (call once encode_frozen finished or gave up).
  void thaw();
  std::size_t frozen_preimages() const { return undo_.size(); }

 private:
  CommandResult execute(const Command& command);
  bool compare_holds(const Compare& compare) const;
  void put(const std::string& key, const std::string& value);
  bool remove(const std::string& key);
  // Every write to data_ goes through these two, which keep data_digest_ in step.
  void set_value(const std::string& key, const std::string& value);  // at revision_
  void erase_entry(std::map<std::string, KeyValue>::iterator it);
  static std::uint64_t entry_hash(const std::string& key, const KeyValue& kv);
  // Before data_[key] changes while frozen: keep what it held at freeze time (nullopt:
  // absent then). Only the first change of a key counts.
  void remember_preimage(const std::string& key, const KeyValue* before);
  std::string encode_head() const;
  std::string encode_tail() const;

  std::map<std::string, KeyValue> data_;
  std::uint64_t revision_ = 0;
  std::map<std::uint64_t, MemberInfo> members_;
  rpc::DuplicateFilter sessions_;
  services::ServicesState services_;
  std::uint64_t data_digest_ = 0;     // sum (mod 2^64) of entry_hash over data_
  std::uint64_t sessions_chain_ = 0;  // chain over (client, seq, ack, time, verdict) applied
  bool frozen_ = false;
  std::uint64_t freeze_generation_ = 0;
  std::map<std::string, std::optional<KeyValue>> undo_;  // pre-images while frozen
};

}  // namespace homestead::cloudd
