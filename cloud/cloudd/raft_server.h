// The Raft adapter: drives the pure core (replication/raft/node.h) on one loop thread.
//
// Everything that touches the Node runs on that thread: ticks on a timer, messages from
// peers, proposals and reads from the HTTP threads (posted as tasks). Each turn drains every
// queued input first and then handles the Ready, so under load many proposals share one
// fsync (group commit) and one frame per peer (batching). Ready order (types.h): persist +
// fsync, then send, then apply and serve reads, then advance.
//
// The KV state machine is written only on the loop thread (under the writer lock); HTTP
// threads read it under the reader lock once the loop says their read point is applied.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "cloud/cloudd/cloudd_config.h"
#include "cloud/cloudd/kv_state_machine.h"
#include "cloud/cloudd/log_store.h"
#include "cloud/cloudd/peer_transport.h"
#include "replication/raft/node.h"

namespace homestead::cloudd {

struct WriteOutcome {
  enum class Status {
    ok,          // committed and applied; `result` is the state machine's answer
    not_leader,  // not proposed; `leader` is who might be (0: nobody known)
    unknown,     // proposed but the outcome is not known (leader change, timeout): may apply
    refused,     // the core refused (conf change pending, transfer in progress, ...)
  };
  Status status = Status::unknown;
  std::string result;
  raft::NodeId leader = raft::kNoNode;
  std::string reason;
};

struct ReadOutcome {
  bool ok = false;  // the read point is applied locally: read now
  raft::NodeId leader = raft::kNoNode;
  std::string reason;
};

// Completions of the asynchronous calls: run exactly once, on the Raft loop thread, so they
// must not block (the epoll front end writes the answer with a non-blocking send).
using WriteDone = std::function<void(WriteOutcome)>;
using ReadDone = std::function<void(ReadOutcome)>;

struct PeerStatus {
  raft::NodeId id = 0;
  bool voter = false;
  std::string peer_address;
  std::string http_address;
  std::optional<raft::Index> match;  // known on the leader only
};

inline constexpr std::int64_t kSlowLoopMs = 20;

// What the Raft loop spent its time on (issue 7: stalls at 64 clients were traced with
// these). A "slow" persist or turn is one over kSlowLoopMs; each is also logged.
struct LoopStats {
  std::uint64_t turns = 0;
  std::uint64_t persists = 0;       // Readys written (each one fdatasync when it must sync)
  std::uint64_t slow_persists = 0;  // write + fdatasync over kSlowLoopMs
  std::uint64_t max_persist_us = 0;
  std::uint64_t slow_turns = 0;  // a whole loop turn over kSlowLoopMs
  std::uint64_t max_turn_us = 0;
  std::uint64_t snapshots = 0;
  std::uint64_t last_snapshot_us = 0;  // loop time the last snapshot took (freeze, slices, compaction)
  std::uint64_t leader_changes = 0;
  std::uint64_t entries_persisted = 0;  // entries / persists = group commit batch size
  std::uint64_t marker_frames = 0;      // explicit live-snapshot marker frames the peer links wrote
};

struct ClusterStatus {
  raft::NodeId id = 0;
  raft::Role role = raft::Role::follower;
  raft::Term term = 0;
  raft::NodeId leader = 0;
  raft::Index commit_index = 0;
  raft::Index applied_index = 0;
  raft::Index last_index = 0;
  raft::Index snapshot_index = 0;
  std::uint64_t revision = 0;
  std::uint64_t state_hash = 0;
  std::uint64_t keys = 0;
  std::vector<PeerStatus> members;
  LoopStats loop;
};

class RaftServer {
 public:
  RaftServer(CloudConfig config, std::string cluster_secret, std::unique_ptr<LogStore> store);
  ~RaftServer();
  RaftServer(const RaftServer&) = delete;
  RaftServer& operator=(const RaftServer&) = delete;

  // Serves another method on the peer listener (e.g. "Dht/Step"); call before start().
  void add_peer_method(std::string path, rpc::RawHandler handler);
  // Loads storage, starts the peer listener and the loop. Throws StorageError.
  void start();
  void stop();

  WriteOutcome write(Command command, std::chrono::milliseconds timeout);
  // Like write(), but a follower hands the command to the leader over the Raft peer link and
  // answers once it has applied the entry itself (no second HTTP request, no HTTP worker on
  // the leader). not_leader only when no leader is known or the leader refused as one.
  WriteOutcome write_via_leader(Command command, std::chrono::milliseconds timeout);
  // write_via_leader() without a waiting thread: `done` gets the outcome on the loop thread
  // by the deadline at the latest (never if the server stops before the loop takes it).
  void write_via_leader_async(Command command, std::chrono::milliseconds timeout, WriteDone done);
  // ReadIndex: returns ok once the local state machine reflects every write acknowledged
  // before the call (works on followers too: they ask the leader for the index).
  ReadOutcome linearizable_read_barrier(std::chrono::milliseconds timeout);
  void linearizable_read_barrier_async(std::chrono::milliseconds timeout, ReadDone done);

  // Runs `reader` against the state machine under the reader lock.
  template <class F>
  auto read(F&& reader) const {
    std::shared_lock lock(state_mutex_);
    return reader(state_);
  }
  // The last log entry the state machine reflects (snapshots record it: issue 10).
  struct AppliedPosition {
    raft::Index index = 0;
    raft::Term term = 0;
  };
  // Like read(), with the applied position taken under the same lock: exactly the entry
  // the state `reader` sees was applied through (the loop updates both under the writer lock).
  template <class F>
  auto read_applied(F&& reader) const {
    std::shared_lock lock(state_mutex_);
    return reader(state_, applied_);
  }

  ClusterStatus status(std::chrono::milliseconds timeout);
  // Adds a learner (promoted to voter by the leader once caught up). Leader only.
  WriteOutcome add_member(raft::NodeId id, const std::string& peer_address, const std::string& http_address,
                          std::chrono::milliseconds timeout);
  WriteOutcome remove_member(raft::NodeId id, std::chrono::milliseconds timeout);
  // target 0: the most caught-up voter. Waits for the new leader to take over.
  WriteOutcome transfer_leader(raft::NodeId target, std::chrono::milliseconds timeout);

  raft::NodeId id() const { return config_.id; }
  raft::NodeId leader_hint() const { return leader_.load(); }
  // The http address of a member, from the replicated directory or the config.
  std::optional<std::string> http_address(raft::NodeId id) const;
  int peer_port() const { return transport_->port(); }

 private:
  struct Waiter {
    WriteDone done;
    raft::Term term = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  // A write handed to the leader, waiting for its answer (then it becomes a Waiter).
  struct Forward {
    WriteDone done;
    raft::NodeId leader = raft::kNoNode;
    std::chrono::steady_clock::time_point deadline;
  };
  struct ReadWaiter {
    ReadDone done;
    raft::Index index = 0;  // 0 until the ReadState arrives
    std::chrono::steady_clock::time_point deadline;
  };

  void post(std::function<void()> task);
  void post_messages(std::vector<raft::Message> messages);
  void loop();
  void handle_ready();
  void apply_committed(const std::vector<raft::Entry>& committed);
  void serve_reads();
  void propose_forwarded(raft::NodeId from, std::vector<ForwardedProposal> proposals);
  void take_answers(std::vector<ForwardAnswer> answers);
  void fail_forwards(const char* reason, bool all);
  void expire_waiters();
  void fail_writes(const std::string& reason);
  void maybe_snapshot();
  // One slice of the snapshot in progress (loop thread, no lock: the loop is the only
  // writer); once every key is in, a background thread writes the file.
  void continue_snapshot();
  void write_snapshot_in_background(raft::SnapshotMeta meta, std::string data);
  void finish_snapshot(raft::SnapshotMeta meta, std::string data);
  // Time spent in the current turn's phases, for the slow-turn log line.
  struct TurnTimes {
    std::int64_t persist_us = 0;
    std::int64_t send_us = 0;
    std::int64_t apply_us = 0;
    std::int64_t snapshot_us = 0;
    std::size_t entries = 0;
    std::size_t committed = 0;
  };
  void promote_learners();
  void sync_peer_addresses();
  // Loop thread: answers a refused proposal at once, else waits for its entry to apply.
  void await_commit(const raft::ProposeResult& proposed, std::chrono::steady_clock::time_point deadline, WriteDone done);
  WriteOutcome propose_and_wait(std::function<raft::ProposeResult(raft::Node&)> propose,
                                std::chrono::milliseconds timeout);

  CloudConfig config_;
  std::string secret_;
  std::unique_ptr<LogStore> store_;
  std::unique_ptr<PeerTransport> transport_;
  std::vector<std::pair<std::string, rpc::RawHandler>> extra_peer_methods_;
  std::unique_ptr<raft::Node> node_;  // loop thread only

  mutable std::shared_mutex state_mutex_;
  KvStateMachine state_;
  AppliedPosition applied_;  // guarded by state_mutex_, with state_
  std::map<std::uint64_t, MemberInfo> directory_;  // copy of state_.members() for other threads
  mutable std::mutex directory_mutex_;

  std::mutex inbox_mutex_;
  std::condition_variable inbox_cv_;
  std::vector<std::function<void()>> tasks_;
  std::vector<raft::Message> inbound_;
  bool stopping_ = false;
  std::thread thread_;

  // loop thread only
  std::map<raft::Index, Waiter> writes_;
  std::map<std::uint64_t, Forward> forwards_;
  std::uint64_t next_forward_id_ = 1;
  std::map<std::uint64_t, ReadWaiter> reads_;
  std::uint64_t next_read_id_ = 1;
  bool was_leader_ = false;
  LoopStats stats_;  // loop thread writes; status() copies it on the loop thread
  // A snapshot runs in three steps, none holding the loop for long (issue 7: a snapshot
  // taken in one go held every member's loop 50-200 ms at 64 clients): freeze (loop),
  // encode a slice per loop turn (loop), write + fsync the file (snapshot_thread_), then
  // compact (loop).
  struct SnapshotJob {
    KvStateMachine::FrozenSnapshot frozen;
    raft::SnapshotMeta meta;
    std::chrono::steady_clock::time_point started;
    std::int64_t loop_us = 0;  // loop time spent on it
  };
  std::optional<SnapshotJob> snapshot_job_;  // encoding
  static constexpr std::uint64_t kSnapshotRatioFloorBytes = 1 << 20;
  std::uint64_t last_snapshot_bytes_ = 0;           // size of the last snapshot this member encoded
  std::uint64_t applied_bytes_since_snapshot_ = 0;  // entry bytes applied since its freeze
  bool snapshot_running_ = false;            // from freeze until compaction
  std::thread snapshot_thread_;              // started and joined by the loop thread (stop() joins the last)
  TurnTimes turn_;
  bool logged_snapshot_chunk_ = false;

  std::atomic<raft::NodeId> leader_{raft::kNoNode};
};

}  // namespace homestead::cloudd
