// KV on the simulated Raft cluster: the state machine adapter, a closed-loop randomized
// client that records a history for the linearizability checker (retrying with its
// exactly-once session on timeouts and leader changes), and a scripted probe client.
#pragma once

#include <vector>

#include "replication/kv/kv_state_machine.h"
#include "tests/raft/sim_cluster.h"
#include "tests/support/linearizability.h"

namespace homestead::raft::testing {

class KvSimStateMachine : public StateMachine {
 public:
  std::string apply(const Entry& entry) override;
  std::string read(const std::string& command) const override;
  std::string snapshot() const override { return kv_.snapshot(); }
  void restore(const std::string& data) override { kv_.restore(data); }
  const kv::KvStateMachine& kv() const { return kv_; }

 private:
  kv::KvStateMachine kv_;
};

ClusterOptions kv_cluster_options(int servers);

struct KvClientOptions {
  int servers = 3;
  int operations = 25;
  std::vector<std::string> keys{"a", "b", "c"};
  sim::Time attempt_timeout = 300 * sim::kMillisecond;
  // Then the outcome is recorded as unknown. Long enough to outlast the nemesis, so unknown
  // outcomes stay rare: each one pending at once doubles the checker's search.
  sim::Time give_up_after = 20 * sim::kSecond;
  double read_fraction = 0.4;
  double cas_fraction = 0.25;
  double delete_fraction = 0.05;
};

class KvClient : public sim::Process<Envelope> {
 public:
  KvClient(int index, KvClientOptions options, std::vector<homestead::testing::KvOperation>* history);
  void start(sim::Context<Envelope>& ctx) override;
  void receive(sim::Context<Envelope>& ctx, sim::NodeId from, const Envelope& envelope) override;
  void timer(sim::Context<Envelope>& ctx, sim::TimerId, std::uint64_t tag) override;
  bool done() const { return completed_ >= options_.operations && !in_flight_; }
  int unknown_outcomes() const { return unknown_; }

 private:
  void begin_next(sim::Context<Envelope>& ctx);
  void send_attempt(sim::Context<Envelope>& ctx);
  void finish(sim::Context<Envelope>& ctx, const ClientReply* reply);

  int index_;
  KvClientOptions options_;
  std::vector<homestead::testing::KvOperation>* history_;
  int completed_ = 0;
  int unknown_ = 0;
  bool in_flight_ = false;
  std::uint64_t sequence_ = 0;
  std::uint64_t acked_below_ = 1;
  std::uint32_t attempt_ = 0;
  sim::NodeId target_ = 0;
  ClientRequest request_;
  homestead::testing::KvOperation op_;
  std::string last_value_;
};

// Forwards requests injected by the test (ClientRequest::forward_to) and keeps the replies.
class ProbeClient : public sim::Process<Envelope> {
 public:
  struct Answer {
    sim::Time time;
    ClientReply reply;
  };
  void receive(sim::Context<Envelope>& ctx, sim::NodeId from, const Envelope& envelope) override;
  const std::vector<Answer>& answers() const { return answers_; }

 private:
  std::vector<Answer> answers_;
};

kv::Command kv_put(std::string key, std::string value);
kv::Command kv_get(std::string key);

}  // namespace homestead::raft::testing
