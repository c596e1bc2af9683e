// Test harness: a Raft cluster in the deterministic simulator. Each server wraps the pure
// core in a sim::Process that persists to the simulated disk (fsync before it answers),
// applies committed entries to a pluggable state machine and reports every applied entry
// to a shared ApplyChecker, which flags two servers applying different commands at one
// index (the MIT 6.824 "apply error" check). The helpers mirror the 6.824 test config:
// check_one_leader, n_committed, one(), disconnect/connect, crash/restart.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "common/sim/simulator.h"
#include "replication/raft/node.h"

namespace homestead::raft::testing {

// A client request to a server, and the answer. `command` is opaque to the harness; the
// server's state machine interprets it.
struct ClientRequest {
  std::uint64_t request_id = 0;
  std::string command;
  enum class Kind : std::uint8_t { write, linearizable_read, serializable_read } kind = Kind::write;
  sim::NodeId forward_to = 0;  // only for a ProbeClient: the server to pass the request on to
};
struct ClientReply {
  std::uint64_t request_id = 0;
  enum class Status : std::uint8_t { ok, not_leader, failed } status = Status::failed;
  std::string result;
  NodeId leader_hint = kNoNode;  // raft id, 0 when unknown
};
struct Flush {};  // wakes a server so it drains its Ready after the test called into the core
using Envelope = std::variant<raft::Message, ClientRequest, ClientReply, Flush>;
std::string to_string(const Envelope& envelope);

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies a normal entry; returns the answer for the client that proposed it.
  virtual std::string apply(const Entry& entry) = 0;
  // Answers a read without changing state.
  virtual std::string read(const std::string& command) const = 0;
  virtual std::string snapshot() const = 0;
  virtual void restore(const std::string& data) = 0;
};

// Remembers only how many entries it applied and a hash chain over them: enough for
// snapshots in tests that check values through the ApplyChecker.
class CountingStateMachine : public StateMachine {
 public:
  std::string apply(const Entry& entry) override;
  std::string read(const std::string&) const override { return std::to_string(count_); }
  std::string snapshot() const override;
  void restore(const std::string& data) override;

 private:
  std::uint64_t count_ = 0;
  std::uint64_t hash_ = 0;
};

// Keeps every applied command: a snapshot as large as the history, so snapshots need many
// chunks, and replicas can be compared byte for byte.
class ListStateMachine : public StateMachine {
 public:
  std::string apply(const Entry& entry) override;
  std::string read(const std::string&) const override { return std::to_string(items_.size()); }
  std::string snapshot() const override;
  void restore(const std::string& data) override;
  const std::vector<std::string>& items() const { return items_; }

 private:
  std::vector<std::string> items_;
};

class ApplyChecker {
 public:
  void on_apply(NodeId server, const Entry& entry);
  void on_snapshot(NodeId server, Index index);
  // Servers that applied index i, and the value they applied.
  int count(Index i, std::string* value) const;
  const std::vector<std::string>& errors() const { return errors_; }
  Index max_applied(NodeId server) const;

 private:
  std::map<Index, std::pair<std::string, std::set<NodeId>>> applied_;
  std::map<NodeId, Index> last_applied_;
  std::vector<std::string> errors_;
};

struct ClusterOptions {
  int servers = 3;
  sim::Time tick = 50 * sim::kMillisecond;
  Config raft;                  // id and seed are filled in per server
  Index snapshot_every = 0;     // a server snapshots when its log holds this many entries (0: never)
  std::vector<NodeId> learners; // raft ids starting as learners (others are voters)
  std::vector<NodeId> joiners;  // raft ids that start outside the configuration (added later)
  std::function<std::unique_ptr<StateMachine>()> make_state_machine;
};

class RaftServer : public sim::Process<Envelope> {
 public:
  RaftServer(sim::NodeId sim_id, const ClusterOptions& options, ApplyChecker* checker, std::uint64_t seed);
  void start(sim::Context<Envelope>& ctx) override;
  void receive(sim::Context<Envelope>& ctx, sim::NodeId from, const Envelope& envelope) override;
  void timer(sim::Context<Envelope>& ctx, sim::TimerId, std::uint64_t tag) override;

  Node& node() { return *node_; }
  StateMachine& state_machine() { return *state_machine_; }
  NodeId raft_id() const { return raft_id_; }
  std::uint64_t snapshots_taken() const { return snapshots_taken_; }
  std::uint64_t rejects_sent() const { return rejects_sent_; }  // rejected appends (backtracking cost)
  std::uint64_t snapshots_installed() const { return snapshots_installed_; }  // received from a leader

 private:
  struct PendingWrite {
    sim::NodeId client;
    std::uint64_t request_id;
    Term term;
  };
  struct PendingRead {
    sim::NodeId client;
    std::uint64_t request_id;
    std::string command;
    Index index = 0;  // 0 until the read index arrives
  };
  void handle_client(sim::Context<Envelope>& ctx, sim::NodeId from, const ClientRequest& request);
  void drain(sim::Context<Envelope>& ctx);
  void persist(sim::Context<Envelope>& ctx, const Ready& rd);
  void apply(sim::Context<Envelope>& ctx, const Ready& rd);
  void serve_reads(sim::Context<Envelope>& ctx);
  void maybe_snapshot(sim::Context<Envelope>& ctx);
  void reply(sim::Context<Envelope>& ctx, sim::NodeId to, ClientReply reply);

  sim::NodeId sim_id_;
  NodeId raft_id_;
  const ClusterOptions& options_;
  ApplyChecker* checker_;
  std::uint64_t seed_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<StateMachine> state_machine_;
  Index persisted_last_ = 0;
  std::map<Index, PendingWrite> pending_writes_;
  std::map<std::uint64_t, PendingRead> pending_reads_;
  std::uint64_t next_read_id_ = 1;
  std::uint64_t snapshots_taken_ = 0;
  std::uint64_t rejects_sent_ = 0;
  std::uint64_t snapshots_installed_ = 0;
};

// Shared test settings.
ClusterOptions cluster_options(int servers);
sim::LinkConfig unreliable_link();  // 6.824's unreliable net: 10% loss, reordering, up to 27 ms
std::string random_command(sim::Rng& rng);

inline NodeId raft_id_of(sim::NodeId sim_id) { return sim_id + 1; }
inline sim::NodeId sim_id_of(NodeId raft_id) { return static_cast<sim::NodeId>(raft_id - 1); }

class Cluster {
 public:
  Cluster(std::uint64_t seed, ClusterOptions options);
  sim::Simulator<Envelope>& sim() { return sim_; }
  const ApplyChecker& checker() const { return checker_; }
  int size() const { return options_.servers; }
  bool up(int i) const { return sim_.is_up(static_cast<sim::NodeId>(i)); }
  RaftServer& server(int i) { return sim_.process_as<RaftServer>(static_cast<sim::NodeId>(i)); }
  Node& node(int i) { return server(i).node(); }
  // Adds a client process (or any other process) after the servers; returns its sim id.
  sim::NodeId add_process(sim::Simulator<Envelope>::Factory factory);

  // ---- faults (links among servers and clients; a crashed server keeps its synced disk) ----
  void disconnect(int i);
  void connect(int i);
  bool connected(int i) const { return connected_.at(static_cast<std::size_t>(i)); }
  // Servers in different groups cannot talk; clients reach everyone.
  void partition(const std::vector<std::vector<int>>& groups);
  void heal();
  void crash(int i);
  void restart(int i);
  void set_network(sim::LinkConfig link);  // the config of every working link
  void retune_link(int from, int to, sim::LinkConfig link);  // one link (e.g. a long-delay one)

  // ---- 6.824-style checks ----
  void run_for(sim::Time duration) { sim_.run_for(duration); }
  // Waits up to 5 s for exactly one leader among connected up servers in the newest term.
  std::optional<int> check_one_leader();
  std::optional<int> leader() ;  // the connected leader with the highest term right now, if any
  bool check_no_leader();        // no connected server believes it is leader
  // Servers that applied index i, and (if value) the value they applied.
  int n_committed(Index i, std::string* value = nullptr) const { return checker_.count(i, value); }
  // Proposes `command` (retrying on leaders for up to 10 s when retry) and waits until
  // `expected` servers applied it; returns its index or 0 on failure.
  Index one(const std::string& command, int expected, bool retry);
  // Proposes on server i directly; returns the core's answer.
  ProposeResult start(int i, const std::string& command);
  void flush(int i);
  std::string failure_summary() const;

 private:
  void apply_links();
  sim::Simulator<Envelope> sim_;
  ClusterOptions options_;
  ApplyChecker checker_;
  std::vector<bool> connected_;
  std::vector<int> group_;  // partition group per server
  sim::LinkConfig network_;
  std::map<std::pair<int, int>, sim::LinkConfig> retuned_;
};

}  // namespace homestead::raft::testing
