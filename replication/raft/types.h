// Value types of the pure Raft core: log entries, persistent state, configuration,
// messages between peers and the Ready batch the core hands to its adapter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace homestead::raft {

using NodeId = std::uint64_t;  // 0 means "nobody"
using Term = std::uint64_t;
using Index = std::uint64_t;
inline constexpr NodeId kNoNode = 0;

enum class EntryType : std::uint8_t {
  normal = 0,
  noop = 1,         // appended by every new leader so it can commit by counting (Raft 5.4.2)
  conf_change = 2,  // data is an encoded ConfChange
};

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::normal;
  std::string data;
  bool operator==(const Entry&) const = default;
};

// The part of the state that must be on stable storage before the node answers anyone.
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;
  bool operator==(const HardState&) const = default;
};

struct ConfState {
  std::vector<NodeId> voters;    // sorted
  std::vector<NodeId> learners;  // sorted; receive the log but neither vote nor count for commit
  bool operator==(const ConfState&) const = default;
  bool is_voter(NodeId id) const;
  bool is_learner(NodeId id) const;
  bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
};

// New servers always join as learners and are promoted once caught up, so an empty new
// server never counts toward a quorum it could stall.
enum class ConfChangeType : std::uint8_t { add_learner = 0, promote = 1, remove = 2 };

// One server at a time (Raft dissertation 4.1): old and new majorities always overlap.
struct ConfChange {
  ConfChangeType type = ConfChangeType::add_learner;
  NodeId node = kNoNode;
  bool operator==(const ConfChange&) const = default;
};

struct SnapshotMeta {
  Index index = 0;
  Term term = 0;
  ConfState conf;
  bool operator==(const SnapshotMeta&) const = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // the state machine's serialized state at meta.index
};

enum class MessageType : std::uint8_t {
  pre_vote,
  pre_vote_resp,
  vote,
  vote_resp,
  append,
  append_resp,
  heartbeat,
  heartbeat_resp,
  install_snapshot,       // one chunk of a snapshot
  install_snapshot_resp,  // acknowledges the bytes received so far
  timeout_now,            // leader transfer: campaign at once
  read_index,             // follower asks the leader for a read index
  read_index_resp,
};
const char* to_string(MessageType type);

struct Message {
  MessageType type = MessageType::append;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  // append: index/log_term of the entry before `entries`; vote: the candidate's last entry;
  // append_resp: the last index matched (or the rejected probe index).
  Index index = 0;
  Term log_term = 0;
  std::vector<Entry> entries;
  Index commit = 0;
  bool reject = false;
  // Fast backtracking (append_resp reject): the follower's best guess of the last index
  // whose term is <= log_term of the probe, and that index's term.
  Index reject_hint = 0;
  Term hint_term = 0;
  // heartbeat/read_index: correlates read requests; vote: true for leader transfer.
  std::uint64_t context = 0;
  bool force = false;
  // install_snapshot: which snapshot, where this chunk starts, its bytes, last chunk?
  SnapshotMeta snapshot;
  std::uint64_t chunk_offset = 0;
  std::string chunk;
  bool chunk_last = false;
};
std::string to_string(const Message& message);

// A linearizable read may be served once the local state machine has applied `index`.
struct ReadState {
  std::uint64_t request_id = 0;
  Index index = 0;
};

// Everything the adapter must do after step/tick/propose, in this order:
//   1. persist `snapshot` (if any), `entries` (they replace the log from entries.front().index
//      on) and `hard_state` (if any), and fsync when must_sync;
//   2. send `messages`;
//   3. apply `snapshot` to the state machine, then `committed` entries, then serve `reads`
//      whose index is applied;
//   4. call advance(ready).
// No step/tick/propose may run between ready() and advance().
struct Ready {
  std::optional<HardState> hard_state;
  std::vector<Entry> entries;
  std::optional<Snapshot> snapshot;
  std::vector<Entry> committed;
  std::vector<Message> messages;
  std::vector<ReadState> reads;
  bool must_sync = false;
  bool empty() const {
    return !hard_state && entries.empty() && !snapshot && committed.empty() && messages.empty() && reads.empty();
  }
};

enum class Role : std::uint8_t { follower, pre_candidate, candidate, leader };
const char* to_string(Role role);

struct Config {
  NodeId id = kNoNode;
  int election_ticks = 10;  // followers campaign after a random [election, 2*election) ticks
  int heartbeat_ticks = 2;
  bool pre_vote = true;
  bool check_quorum = true;
  // Lease reads answer without a heartbeat round. They assume no node's tick runs slower
  // than (1 - lease_margin_ticks / election_ticks) of another's; see replication/README.md.
  bool lease_reads = false;
  int lease_margin_ticks = 2;
  std::size_t max_entries_per_message = 64;
  std::size_t max_bytes_per_message = 1 << 20;
  std::size_t max_inflight_messages = 64;  // pipelining window per follower
  std::size_t snapshot_chunk_bytes = 64 * 1024;
  Index learner_catchup_gap = 16;  // a learner may be promoted once this close to the leader
  std::uint64_t seed = 1;          // randomised election timeouts without a global RNG
};

// Storage contents handed to a (re)starting core.
struct Bootstrap {
  HardState hard_state;
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;  // after the snapshot, contiguous
  ConfState initial_conf;      // used when there is no snapshot (a fresh cluster)
  Index applied = 0;           // what the state machine already reflects (>= snapshot index)
};

}  // namespace homestead::raft
