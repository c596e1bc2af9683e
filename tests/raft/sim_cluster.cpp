#include "tests/raft/sim_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "common/sim/seeds.h"
#include "replication/raft/codec.h"

namespace homestead::raft::testing {
namespace {

constexpr const char* kHardStateKey = "raft/hs";
constexpr const char* kSnapshotKey = "raft/snap";
constexpr const char* kLogPrefix = "raft/log/";

std::string log_key(Index index) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "raft/log/%020llu", static_cast<unsigned long long>(index));
  return buf;
}

std::string applied_value(const Entry& entry) {
  switch (entry.type) {
    case EntryType::normal: return entry.data;
    case EntryType::noop: return "<noop>";
    case EntryType::conf_change: return "<conf>";
  }
  return "?";
}

}  // namespace

std::string to_string(const Envelope& envelope) {
  if (const auto* m = std::get_if<raft::Message>(&envelope)) return to_string(*m);
  if (const auto* r = std::get_if<ClientRequest>(&envelope)) return "client_request #" + std::to_string(r->request_id);
  if (const auto* r = std::get_if<ClientReply>(&envelope)) return "client_reply #" + std::to_string(r->request_id);
  return "flush";
}

// ---------------------------------------------------------------- CountingStateMachine

std::string CountingStateMachine::apply(const Entry& entry) {
  ++count_;
  for (char c : entry.data) hash_ = (hash_ ^ static_cast<std::uint8_t>(c)) * 1099511628211ULL;
  return std::to_string(count_);
}

std::string CountingStateMachine::snapshot() const {
  ByteWriter out;
  out.varint(count_);
  out.varint(hash_);
  return out.take();
}

void CountingStateMachine::restore(const std::string& data) {
  ByteReader in(data, "counting snapshot");
  count_ = in.varint();
  hash_ = in.varint();
}

std::string ListStateMachine::apply(const Entry& entry) {
  items_.push_back(entry.data);
  return std::to_string(items_.size());
}

std::string ListStateMachine::snapshot() const {
  ByteWriter out;
  out.varint(items_.size());
  for (const auto& item : items_) out.bytes(item);
  return out.take();
}

void ListStateMachine::restore(const std::string& data) {
  ByteReader in(data, "list snapshot");
  items_.clear();
  for (std::uint64_t n = in.varint(); n > 0; --n) items_.push_back(in.bytes());
}

ClusterOptions cluster_options(int servers) {
  ClusterOptions o;
  o.servers = servers;
  return o;
}

sim::LinkConfig unreliable_link() {
  sim::LinkConfig link;
  link.drop = 0.1;
  link.min_delay = 1 * sim::kMillisecond;
  link.max_delay = 27 * sim::kMillisecond;
  link.fifo = false;
  return link;
}

std::string random_command(sim::Rng& rng) { return "v" + std::to_string(rng.uniform(0, 1'000'000'000)); }

// ---------------------------------------------------------------- ApplyChecker

void ApplyChecker::on_apply(NodeId server, const Entry& entry) {
  const std::string value = applied_value(entry);
  Index& last = last_applied_[server];
  if (entry.index != last + 1) {
    errors_.push_back("server " + std::to_string(server) + " applied index " + std::to_string(entry.index) +
                      " after " + std::to_string(last) + " (out of order)");
  }
  last = entry.index;
  auto [it, inserted] = applied_.try_emplace(entry.index, value, std::set<NodeId>{});
  if (!inserted && it->second.first != value) {
    errors_.push_back("apply error: server " + std::to_string(server) + " applied '" + value + "' at index " +
                      std::to_string(entry.index) + " where others applied '" + it->second.first + "'");
  }
  it->second.second.insert(server);
}

void ApplyChecker::on_snapshot(NodeId server, Index index) { last_applied_[server] = index; }

int ApplyChecker::count(Index i, std::string* value) const {
  auto it = applied_.find(i);
  if (it == applied_.end()) return 0;
  if (value) *value = it->second.first;
  return static_cast<int>(it->second.second.size());
}

Index ApplyChecker::max_applied(NodeId server) const {
  auto it = last_applied_.find(server);
  return it == last_applied_.end() ? 0 : it->second;
}

// ---------------------------------------------------------------- RaftServer

RaftServer::RaftServer(sim::NodeId sim_id, const ClusterOptions& options, ApplyChecker* checker, std::uint64_t seed)
    : sim_id_(sim_id), raft_id_(raft_id_of(sim_id)), options_(options), checker_(checker), seed_(seed) {}

void RaftServer::start(sim::Context<Envelope>& ctx) {
  sim::Disk& disk = ctx.disk();
  Bootstrap boot;
  if (auto hs = disk.get(kHardStateKey)) {
    ByteReader in(*hs, "hard state");
    boot.hard_state = decode_hard_state(in);
  }
  Index snapshot_index = 0;
  state_machine_ = options_.make_state_machine ? options_.make_state_machine() : std::make_unique<CountingStateMachine>();
  if (auto snap = disk.get(kSnapshotKey)) {
    boot.snapshot = decode_snapshot(*snap);
    snapshot_index = boot.snapshot->meta.index;
    state_machine_->restore(boot.snapshot->data);
  }
  for (const std::string& key : disk.keys(kLogPrefix)) {
    const std::string bytes = *disk.get(key);
    ByteReader in(bytes, "log entry");
    Entry e = decode_entry(in);
    if (e.index > snapshot_index) boot.entries.push_back(std::move(e));
  }
  persisted_last_ = boot.entries.empty() ? snapshot_index : boot.entries.back().index;
  for (int i = 0; i < options_.servers; ++i) {
    const NodeId id = raft_id_of(static_cast<sim::NodeId>(i));
    if (std::count(options_.joiners.begin(), options_.joiners.end(), id)) continue;
    if (std::count(options_.learners.begin(), options_.learners.end(), id)) {
      boot.initial_conf.learners.push_back(id);
    } else {
      boot.initial_conf.voters.push_back(id);
    }
  }
  boot.applied = snapshot_index;
  checker_->on_snapshot(raft_id_, snapshot_index);
  Config config = options_.raft;
  config.id = raft_id_;
  config.seed = seed_;
  node_ = std::make_unique<Node>(config, std::move(boot));
  pending_writes_.clear();
  pending_reads_.clear();
  ctx.set_timer(options_.tick, 0);
}

void RaftServer::receive(sim::Context<Envelope>& ctx, sim::NodeId from, const Envelope& envelope) {
  if (const auto* m = std::get_if<raft::Message>(&envelope)) {
    node_->step(*m);
  } else if (const auto* request = std::get_if<ClientRequest>(&envelope)) {
    handle_client(ctx, from, *request);
  }
  drain(ctx);
}

void RaftServer::timer(sim::Context<Envelope>& ctx, sim::TimerId, std::uint64_t) {
  node_->tick();
  drain(ctx);
  ctx.set_timer(options_.tick, 0);
}

void RaftServer::reply(sim::Context<Envelope>& ctx, sim::NodeId to, ClientReply reply) {
  ctx.send(to, Envelope{std::move(reply)});
}

void RaftServer::handle_client(sim::Context<Envelope>& ctx, sim::NodeId from, const ClientRequest& request) {
  switch (request.kind) {
    case ClientRequest::Kind::write: {
      const ProposeResult result = node_->propose(request.command);
      if (!result.ok()) {
        reply(ctx, from, {request.request_id, ClientReply::Status::not_leader, "", result.leader_hint});
        return;
      }
      pending_writes_[result.index] = {from, request.request_id, result.term};
      return;
    }
    case ClientRequest::Kind::linearizable_read: {
      const std::uint64_t id = next_read_id_++;
      if (!node_->read_index(id)) {
        reply(ctx, from, {request.request_id, ClientReply::Status::not_leader, "", node_->leader()});
        return;
      }
      pending_reads_[id] = {from, request.request_id, request.command, 0};
      return;
    }
    case ClientRequest::Kind::serializable_read:
      reply(ctx, from, {request.request_id, ClientReply::Status::ok, state_machine_->read(request.command), node_->leader()});
      return;
  }
}

void RaftServer::drain(sim::Context<Envelope>& ctx) {
  while (node_->has_ready()) {
    Ready rd = node_->ready();
    persist(ctx, rd);
    for (auto& m : rd.messages) {
      if (m.type == MessageType::append_resp && m.reject) ++rejects_sent_;
      ctx.send(sim_id_of(m.to), Envelope{std::move(m)});
    }
    apply(ctx, rd);
    node_->advance(rd);
    serve_reads(ctx);
  }
  maybe_snapshot(ctx);
}

void RaftServer::persist(sim::Context<Envelope>& ctx, const Ready& rd) {
  sim::Disk& disk = ctx.disk();
  if (rd.snapshot) {
    disk.put(kSnapshotKey, encode_snapshot(*rd.snapshot));
    for (const std::string& key : disk.keys(kLogPrefix)) disk.erase(key);
    persisted_last_ = rd.snapshot->meta.index;
  }
  if (!rd.entries.empty()) {
    // The batch replaces the stored log from its first index on.
    for (Index i = rd.entries.front().index; i <= persisted_last_; ++i) disk.erase(log_key(i));
    for (const Entry& e : rd.entries) {
      ByteWriter out;
      encode(out, e);
      disk.put(log_key(e.index), out.take());
    }
    persisted_last_ = rd.entries.back().index;
  }
  if (rd.hard_state) {
    ByteWriter out;
    encode(out, *rd.hard_state);
    disk.put(kHardStateKey, out.take());
  }
  // Durable before any message of this batch leaves: votes and acks are promises.
  if (rd.must_sync) disk.sync();
}

void RaftServer::apply(sim::Context<Envelope>& ctx, const Ready& rd) {
  if (rd.snapshot) {
    ++snapshots_installed_;
    state_machine_->restore(rd.snapshot->data);
    checker_->on_snapshot(raft_id_, rd.snapshot->meta.index);
  }
  for (const Entry& e : rd.committed) {
    const std::string result = e.type == EntryType::normal ? state_machine_->apply(e) : std::string();
    checker_->on_apply(raft_id_, e);
    for (auto it = pending_writes_.begin(); it != pending_writes_.end() && it->first <= e.index;) {
      const bool ours = it->first == e.index && it->second.term == e.term;
      // A different entry at our index means our proposal was overwritten: it never commits.
      reply(ctx, it->second.client,
            {it->second.request_id, ours ? ClientReply::Status::ok : ClientReply::Status::failed, ours ? result : "",
             node_->leader()});
      it = pending_writes_.erase(it);
    }
  }
  for (const ReadState& rs : rd.reads) {
    auto it = pending_reads_.find(rs.request_id);
    if (it != pending_reads_.end()) it->second.index = std::max<Index>(rs.index, 1);
  }
}

void RaftServer::serve_reads(sim::Context<Envelope>& ctx) {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.index != 0 && it->second.index <= node_->applied_index()) {
      reply(ctx, it->second.client,
            {it->second.request_id, ClientReply::Status::ok, state_machine_->read(it->second.command), node_->leader()});
      it = pending_reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftServer::maybe_snapshot(sim::Context<Envelope>& ctx) {
  if (options_.snapshot_every == 0) return;
  const Index applied = node_->applied_index();
  if (applied < node_->log().snapshot_index() + options_.snapshot_every) return;
  std::string data = state_machine_->snapshot();
  node_->compact(applied, data);
  sim::Disk& disk = ctx.disk();
  disk.put(kSnapshotKey, encode_snapshot(Snapshot{*node_->snapshot_meta(), std::move(data)}));
  disk.sync();  // the snapshot is durable before the entries it replaces go
  for (const std::string& key : disk.keys(kLogPrefix)) {
    if (key > log_key(applied)) break;
    disk.erase(key);
  }
  ++snapshots_taken_;
}

// ---------------------------------------------------------------- Cluster

Cluster::Cluster(std::uint64_t seed, ClusterOptions options) : sim_(seed), options_(std::move(options)) {
  sim_.set_message_size([](const Envelope& envelope) -> std::size_t {
    if (const auto* m = std::get_if<raft::Message>(&envelope)) {
      std::size_t size = 40 + m->chunk.size();
      for (const Entry& e : m->entries) size += 16 + e.data.size();
      return size;
    }
    if (const auto* r = std::get_if<ClientRequest>(&envelope)) return 16 + r->command.size();
    if (const auto* r = std::get_if<ClientReply>(&envelope)) return 16 + r->result.size();
    return 0;
  });
  sim_.keep_trace(sim::trace_requested());
  connected_.assign(static_cast<std::size_t>(options_.servers), true);
  group_.assign(static_cast<std::size_t>(options_.servers), 0);
  for (int i = 0; i < options_.servers; ++i) {
    sim_.add_node([this, seed](sim::NodeId id) { return std::make_unique<RaftServer>(id, options_, &checker_, seed); });
  }
  apply_links();
}

sim::NodeId Cluster::add_process(sim::Simulator<Envelope>::Factory factory) {
  const sim::NodeId id = sim_.add_node(std::move(factory));
  apply_links();
  return id;
}

void Cluster::apply_links() {
  sim_.set_default_link(network_);
  const auto all = sim_.node_ids();
  const auto servers = static_cast<sim::NodeId>(options_.servers);
  for (sim::NodeId a : all) {
    for (sim::NodeId b : all) {
      if (a == b || (a >= servers && b >= servers)) continue;
      bool ok = true;
      if (a < servers && !connected_[a]) ok = false;
      if (b < servers && !connected_[b]) ok = false;
      if (a < servers && b < servers && group_[a] != group_[b]) ok = false;
      sim::LinkConfig link = network_;
      auto it = retuned_.find({static_cast<int>(a), static_cast<int>(b)});
      if (it != retuned_.end()) link = it->second;
      if (!ok) link.drop = 1.0;
      sim_.set_link(a, b, link);
    }
  }
}

void Cluster::disconnect(int i) {
  connected_.at(static_cast<std::size_t>(i)) = false;
  apply_links();
}

void Cluster::connect(int i) {
  connected_.at(static_cast<std::size_t>(i)) = true;
  apply_links();
}

void Cluster::partition(const std::vector<std::vector<int>>& groups) {
  std::fill(group_.begin(), group_.end(), -1);
  int next = 0;
  for (const auto& group : groups) {
    for (int i : group) group_.at(static_cast<std::size_t>(i)) = next;
    ++next;
  }
  for (auto& g : group_) {
    if (g == -1) g = next++;
  }
  apply_links();
}

void Cluster::heal() {
  std::fill(group_.begin(), group_.end(), 0);
  std::fill(connected_.begin(), connected_.end(), true);
  apply_links();
}

void Cluster::crash(int i) { sim_.crash(static_cast<sim::NodeId>(i)); }
void Cluster::restart(int i) { sim_.restart(static_cast<sim::NodeId>(i)); }

void Cluster::set_network(sim::LinkConfig link) {
  network_ = link;
  retuned_.clear();
  apply_links();
}

void Cluster::retune_link(int from, int to, sim::LinkConfig link) {
  retuned_[{from, to}] = link;
  apply_links();
}

std::optional<int> Cluster::leader() {
  std::optional<int> best;
  Term best_term = 0;
  for (int i = 0; i < options_.servers; ++i) {
    if (!up(i) || !connected(i)) continue;
    Node& n = node(i);
    if (n.role() == Role::leader && n.term() >= best_term) {
      best = i;
      best_term = n.term();
    }
  }
  return best;
}

std::optional<int> Cluster::check_one_leader() {
  for (int iteration = 0; iteration < 10; ++iteration) {
    sim_.run_for(500 * sim::kMillisecond);
    std::map<Term, std::vector<int>> leaders;
    for (int i = 0; i < options_.servers; ++i) {
      if (up(i) && connected(i) && node(i).role() == Role::leader) leaders[node(i).term()].push_back(i);
    }
    for (const auto& [term, ids] : leaders) {
      if (ids.size() > 1) ADD_FAILURE() << "term " << term << " has " << ids.size() << " leaders";
    }
    if (!leaders.empty()) return leaders.rbegin()->second.front();
  }
  ADD_FAILURE() << "expected one leader, got none";
  return std::nullopt;
}

bool Cluster::check_no_leader() {
  for (int i = 0; i < options_.servers; ++i) {
    if (up(i) && connected(i) && node(i).role() == Role::leader) return false;
  }
  return true;
}

ProposeResult Cluster::start(int i, const std::string& command) {
  ProposeResult result = node(i).propose(command);
  flush(i);
  return result;
}

void Cluster::flush(int i) { sim_.inject(static_cast<sim::NodeId>(i), Envelope{Flush{}}); }

Index Cluster::one(const std::string& command, int expected, bool retry) {
  const sim::Time deadline = sim_.now() + 10 * sim::kSecond;
  int next = 0;
  while (sim_.now() < deadline) {
    Index index = 0;
    for (int tries = 0; tries < options_.servers; ++tries) {
      next = (next + 1) % options_.servers;
      if (!up(next) || !connected(next)) continue;
      const ProposeResult result = start(next, command);
      if (result.ok()) {
        index = result.index;
        break;
      }
    }
    if (index != 0) {
      const bool done = sim_.run_until(
          [&] {
            std::string value;
            return n_committed(index, &value) >= expected && value == command;
          },
          sim_.now() + 2 * sim::kSecond);
      if (done) return index;
      if (!retry) {
        ADD_FAILURE() << "one(" << command << ") failed to reach agreement at index " << index;
        return 0;
      }
    } else {
      sim_.run_for(50 * sim::kMillisecond);
    }
  }
  ADD_FAILURE() << "one(" << command << ") failed to reach agreement in 10 s";
  return 0;
}

std::string Cluster::failure_summary() const {
  std::string out;
  for (const auto& e : checker_.errors()) out += e + "\n";
  return out;
}

}  // namespace homestead::raft::testing
