// The pure Raft core. No sockets, threads, clocks or files: the adapter calls tick() at a
// fixed rate, step() for each message from a peer and propose()/read_index()/... for client
// requests, then drains ready() and calls advance() (see Ready in types.h for the order).
//
// Implements: randomized elections with PreVote and CheckQuorum, log replication with
// fast conflict backtracking, pipelining and batching, commit by counting current-term
// entries only, a no-op on election, snapshots streamed in chunks, single-server membership
// changes with learners, leader transfer, ReadIndex and opt-in lease reads.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "replication/raft/progress.h"
#include "replication/raft/raft_log.h"
#include "replication/raft/types.h"

namespace homestead::raft {

enum class ProposeStatus : std::uint8_t {
  ok,
  not_leader,           // leader_hint says who might be
  transferring,         // leadership transfer in progress; retry shortly
  conf_change_pending,  // one membership change at a time
  invalid_conf_change,  // e.g. removing an unknown node or the last voter
  learner_behind,       // promotion refused until the learner caught up
};
const char* to_string(ProposeStatus status);

struct ProposeResult {
  ProposeStatus status = ProposeStatus::ok;
  Index index = 0;  // where the entry will commit, if it does, with this term
  Term term = 0;
  NodeId leader_hint = kNoNode;
  bool ok() const { return status == ProposeStatus::ok; }
};

class Node {
 public:
  Node(Config config, Bootstrap boot);

  // ---- inputs ----
  void tick();
  void step(const Message& message);
  ProposeResult propose(std::string data);
  ProposeResult propose_conf_change(const ConfChange& change);
  // Start moving leadership to `target`; false when this node cannot (not leader, unknown
  // target). Proposals are refused until it completes or an election timeout passes.
  bool transfer_leadership(NodeId target);
  // Ask for a linearizable read point. The answer, if leadership holds, comes back as a
  // ReadState with this request id in a later Ready; false when no leader is known.
  bool read_index(std::uint64_t request_id);
  // The state machine has a snapshot covering everything up to `index` (<= applied) and it
  // is on stable storage: drop the log before it. `data` is kept to send to lagging peers.
  void compact(Index index, std::string data);
  // What compact(index, ...) would record as the snapshot's metadata (term of `index`, the
  // configuration in force there), so an adapter can write the snapshot file before it
  // compacts (e.g. on another thread). Empty when `index` is not in the log.
  std::optional<SnapshotMeta> snapshot_meta_at(Index index) const;
  // Campaign now (tests and single-node bootstrap); respects PreVote.
  void campaign();
  // The transport saw its connection to `peer` end: the peer's process is gone (a crashed
  // or killed process has its sockets closed by the kernel at once). If `peer` is our
  // leader, we stop treating it as one and campaign after a short random delay (1 to 2
  // heartbeat intervals) instead of the full election timeout. A machine that dies or a
  // partition gives no such signal; the election timeout still covers those. A false alarm
  // (the connection dropped, the leader lives) costs nothing: PreVote asks first, and the
  // other followers, still hearing the leader, refuse. Ignored with lease_reads, whose
  // safety rests on every follower honouring the full election timeout.
  void peer_connection_lost(NodeId peer);

  // ---- outputs ----
  bool has_ready() const;
  Ready ready();
  void advance(const Ready& ready);

  // ---- observation ----
  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return lead_; }
  Index commit_index() const { return commit_; }
  Index applied_index() const { return applied_; }
  Index last_index() const { return log_.last_index(); }
  const RaftLog& log() const { return log_; }
  const ConfState& conf() const { return conf_; }
  HardState hard_state() const { return {term_, vote_, commit_}; }
  const Progress* progress(NodeId peer) const;
  std::optional<SnapshotMeta> snapshot_meta() const;
  NodeId transfer_target() const { return transferee_; }
  const Config& config() const { return config_; }

 private:
  struct PendingRead {
    std::uint64_t request_id;
    Index index;
    std::uint64_t seq;
    NodeId requester;
  };
  enum class CampaignKind { pre_vote, election, transfer };

  // node.cpp: roles, elections, follower side
  void become_follower(Term term, NodeId lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void start_campaign(CampaignKind kind);
  std::uint64_t next_random();
  void reset_election_timer();
  void handle_vote_request(const Message& m);
  void handle_vote_response(const Message& m);
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot_chunk(const Message& m);
  bool restore(const Snapshot& snapshot);
  void commit_to(Index index);
  void apply_conf_change(Index index, const ConfChange& change);
  void send(Message m);
  bool promotable() const { return conf_.is_voter(config_.id); }
  std::size_t quorum() const { return conf_.voters.size() / 2 + 1; }
  bool committed_in_current_term() const { return log_.term(commit_) == term_; }
  int next_random_timeout();

  // node_leader.cpp: replication, commit, snapshots, reads, transfer
  void tick_leader();
  void step_leader(const Message& m);
  void handle_append_response(const Message& m, Progress& pr);
  void handle_heartbeat_response(const Message& m, Progress& pr);
  void handle_snapshot_response(const Message& m, Progress& pr);
  void broadcast_append();
  void broadcast_heartbeat();
  // Sends what the follower is missing; with send_empty it sends an empty append so the
  // follower learns the new commit index.
  void send_append(NodeId to, bool send_empty);
  void send_snapshot_chunk(NodeId to, Progress& pr);
  bool maybe_commit();
  bool quorum_active() const;
  void reset_progress();
  void handle_read_request(std::uint64_t request_id, NodeId requester);
  void deliver_read(std::uint64_t request_id, Index index, NodeId requester);
  void release_confirmed_reads();
  bool lease_valid() const;
  Index stable_last() const;

  Config config_;
  Role role_ = Role::follower;
  Term term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId lead_ = kNoNode;
  Index commit_ = 0;
  Index applied_ = 0;
  RaftLog log_;
  ConfState conf_;
  std::vector<std::pair<Index, ConfState>> conf_history_;  // config in force from each index on
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;
  // Set by peer_connection_lost until a leader is heard again: election timers use the
  // short spread, so a split vote among the survivors is retried quickly, not after the
  // full timeout.
  bool fast_election_ = false;
  int tick_count_ = 0;
  int lease_blocked_until_ = 0;
  std::uint64_t rng_state_;
  Index pending_conf_index_ = 0;
  NodeId transferee_ = kNoNode;

  std::optional<Snapshot> snapshot_;           // latest snapshot, sent to lagging peers
  std::optional<Snapshot> snapshot_to_save_;  // received from the leader, for the next Ready
  SnapshotMeta incoming_meta_;                 // snapshot being received in chunks
  std::string incoming_data_;
  bool receiving_snapshot_ = false;

  std::uint64_t read_seq_ = 0;
  std::deque<PendingRead> pending_reads_;
  std::vector<std::pair<std::uint64_t, NodeId>> reads_before_commit_;
  std::vector<ReadState> ready_reads_;
  bool read_heartbeat_due_ = false;
  bool append_due_ = false;      // proposals since the last Ready: one batched append per follower
  bool commit_changed_ = false;  // tell followers the new commit index

  std::vector<Message> messages_;
  HardState saved_hard_state_;
};

}  // namespace homestead::raft
