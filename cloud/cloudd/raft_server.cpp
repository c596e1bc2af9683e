#include "cloud/cloudd/raft_server.h"

#include <algorithm>

#include "cloud/cloudd/raft_loop_util.h"
#include "replication/raft/codec.h"

namespace homestead::cloudd {
namespace {

const log::Logger& logger() { return raft_logger(); }

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <class T>
T wait_for(std::future<T>& future, std::chrono::milliseconds timeout, T on_timeout) {
  // The loop answers every waiter by its deadline; the grace covers a loop turn in progress.
  if (future.wait_for(timeout + std::chrono::milliseconds(500)) != std::future_status::ready) return on_timeout;
  return future.get();
}

// The blocking form of an asynchronous call: `start` gets the completion to hand on.
template <class T, class Start>
T wait_for_completion(std::chrono::milliseconds timeout, T on_timeout, Start start) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  start(std::function<void(T)>([promise](T out) { promise->set_value(std::move(out)); }));
  return wait_for(future, timeout, std::move(on_timeout));
}

}  // namespace

RaftServer::RaftServer(CloudConfig config, std::string cluster_secret, std::unique_ptr<LogStore> store)
    : config_(std::move(config)), secret_(std::move(cluster_secret)), store_(std::move(store)) {}

RaftServer::~RaftServer() { stop(); }

void RaftServer::start() {
  StoredState stored = store_->load();
  raft::Bootstrap boot;
  boot.hard_state = stored.hard_state;
  boot.entries = std::move(stored.entries);
  if (!config_.join) {
    for (const auto& m : config_.members) boot.initial_conf.voters.push_back(m.id);
    std::sort(boot.initial_conf.voters.begin(), boot.initial_conf.voters.end());
  }
  if (stored.snapshot) {
    state_.restore(stored.snapshot->data);
    applied_ = {stored.snapshot->meta.index, stored.snapshot->meta.term};
    last_snapshot_bytes_ = stored.snapshot->data.size();
    boot.applied = stored.snapshot->meta.index;
    boot.snapshot = std::move(stored.snapshot);
  }
  {
    std::lock_guard lock(directory_mutex_);
    directory_ = state_.members();
  }
  raft::Config raft_config;
  raft_config.id = config_.id;
  raft_config.election_ticks = config_.election_ticks;
  raft_config.heartbeat_ticks = config_.heartbeat_ticks;
  raft_config.lease_reads = config_.lease_reads;  // check_quorum, which leases need, is on by default
  raft_config.seed = config_.id * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(wall_us());
  raft_config.max_entries_per_message = 256;
  raft_config.max_inflight_messages = 256;
  node_ = std::make_unique<raft::Node>(raft_config, std::move(boot));
  logger().info("starting", {{"id", std::to_string(config_.id)},
                             {"term", std::to_string(node_->term())},
                             {"last_index", std::to_string(node_->last_index())},
                             {"commit", std::to_string(node_->commit_index())}});

  transport_ = std::make_unique<PeerTransport>(
      config_.peer_listen, secret_, [this](std::vector<raft::Message> messages) { post_messages(std::move(messages)); });
  for (auto& [path, handler] : extra_peer_methods_) transport_->add_method(path, std::move(handler));
  extra_peer_methods_.clear();
  // A killed or crashed member's sockets close at once: if it led, campaign now rather than
  // after the election timeout (the core ignores it for non-leaders and with lease reads).
  transport_->set_on_peer_lost([this](raft::NodeId id) {
    post([this, id] {
      // Forwarded writes it has not answered: their frames may be lost with the connection.
      for (auto it = forwards_.begin(); it != forwards_.end();) {
        if (it->second.leader != id) {
          ++it;
          continue;
        }
        it->second.done({WriteOutcome::Status::unknown, "", raft::kNoNode, "connection to the leader ended"});
        it = forwards_.erase(it);
      }
      if (node_->leader() != id || node_->role() != raft::Role::follower) return;
      logger().info("connection to the leader ended; campaigning early", {{"leader", std::to_string(id)}});
      node_->peer_connection_lost(id);
    });
  });
  transport_->set_forwarding(
      config_.id,
      [this](raft::NodeId from, std::vector<ForwardedProposal> proposals) {
        post([this, from, proposals = std::move(proposals)]() mutable { propose_forwarded(from, std::move(proposals)); });
      },
      [this](std::vector<ForwardAnswer> answers) {
        post([this, answers = std::move(answers)]() mutable { take_answers(std::move(answers)); });
      });
  // Snapshot markers ride on the next turn's frames; links without one get an explicit
  // marker at that turn's end (loop()).
  transport_->set_turn_requester([this] { post([] {}); });
  transport_->set_marker_linger(std::chrono::milliseconds(config_.snapshot_marker_linger_ms));
  sync_peer_addresses();
  transport_->start();
  thread_ = std::thread([this] { loop(); });
}

void RaftServer::add_peer_method(std::string path, rpc::RawHandler handler) {
  extra_peer_methods_.emplace_back(std::move(path), std::move(handler));
}

void RaftServer::stop() {
  {
    std::lock_guard lock(inbox_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  inbox_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  if (transport_) transport_->stop();
}

void RaftServer::post(std::function<void()> task) {
  {
    std::lock_guard lock(inbox_mutex_);
    tasks_.push_back(std::move(task));
  }
  inbox_cv_.notify_one();
}

void RaftServer::post_messages(std::vector<raft::Message> messages) {
  {
    std::lock_guard lock(inbox_mutex_);
    for (auto& m : messages) inbound_.push_back(std::move(m));
  }
  inbox_cv_.notify_one();
}

void RaftServer::loop() {
  const auto tick = std::chrono::milliseconds(config_.tick_ms);
  auto next_tick = SteadyClock::now() + tick;
  std::vector<std::function<void()>> tasks;
  std::vector<raft::Message> messages;
  while (true) {
    {
      std::unique_lock lock(inbox_mutex_);
      // A snapshot being encoded goes on even without input (one slice per turn).
      inbox_cv_.wait_until(lock, snapshot_job_ ? SteadyClock::now() : next_tick,
                           [&] { return stopping_ || !tasks_.empty() || !inbound_.empty(); });
      if (stopping_) break;
      tasks.swap(tasks_);
      messages.swap(inbound_);
    }
    const auto turn_start = SteadyClock::now();
    turn_ = TurnTimes{};
    const std::size_t inputs = messages.size() + tasks.size();
    for (const auto& m : messages) {
      if (m.type == raft::MessageType::install_snapshot && m.chunk_offset == 0) {
        logger().info("receiving snapshot", {{"index", std::to_string(m.snapshot.index)},
                                             {"from", std::to_string(m.from)}});
      }
      node_->step(m);
    }
    messages.clear();
    for (auto& task : tasks) task();
    tasks.clear();
    const auto now = SteadyClock::now();
    if (now >= next_tick) {
      node_->tick();
      next_tick += tick;
      if (next_tick < now) next_tick = now + tick;  // fell behind (e.g. a long fsync): do not burst
      promote_learners();
      expire_waiters();
    }
    try {
      handle_ready();
      transport_->send_owed_markers();
      continue_snapshot();
    } catch (const StorageError& e) {
      // Acknowledging anything after a failed write or fsync could lose acknowledged data.
      logger().error("storage failed; stopping", {{"error", e.what()}});
      std::_Exit(3);
    }
    const auto turn_us = static_cast<std::uint64_t>(micros_since(turn_start));
    ++stats_.turns;
    stats_.max_turn_us = std::max(stats_.max_turn_us, turn_us);
    if (turn_us > static_cast<std::uint64_t>(kSlowLoopMs) * 1000) {
      ++stats_.slow_turns;
      logger().warn("slow raft loop turn", {{"ms", std::to_string(turn_us / 1000)},
                                            {"persist_ms", std::to_string(turn_.persist_us / 1000)},
                                            {"send_ms", std::to_string(turn_.send_us / 1000)},
                                            {"apply_ms", std::to_string(turn_.apply_us / 1000)},
                                            {"snapshot_ms", std::to_string(turn_.snapshot_us / 1000)},
                                            {"entries", std::to_string(turn_.entries)},
                                            {"committed", std::to_string(turn_.committed)},
                                            {"inputs", std::to_string(inputs)}});
    }
  }
  fail_writes("server stopping");
  fail_forwards("server stopping", true);
  for (auto& [id, waiter] : reads_) waiter.done({false, leader_.load(), "server stopping"});
  reads_.clear();
}

void RaftServer::handle_ready() {
  while (node_->has_ready()) {
    raft::Ready rd = node_->ready();
    auto phase_start = SteadyClock::now();
    store_->save(rd.hard_state, rd.entries, rd.snapshot, rd.must_sync);
    {
      const std::int64_t us = micros_since(phase_start);
      turn_.persist_us += us;
      turn_.entries += rd.entries.size();
      ++stats_.persists;
      stats_.entries_persisted += rd.entries.size();
      stats_.max_persist_us = std::max(stats_.max_persist_us, static_cast<std::uint64_t>(us));
      if (us > kSlowLoopMs * 1000) {
        ++stats_.slow_persists;
        logger().warn("slow log write", {{"ms", std::to_string(us / 1000)},
                                         {"entries", std::to_string(rd.entries.size())},
                                         {"sync", rd.must_sync ? "1" : "0"},
                                         {"snapshot", rd.snapshot ? "1" : "0"}});
      }
    }
    phase_start = SteadyClock::now();
    if (!rd.messages.empty()) transport_->send(std::move(rd.messages));
    turn_.send_us += micros_since(phase_start);
    phase_start = SteadyClock::now();
    if (rd.snapshot) {
      logger().info("installing snapshot", {{"index", std::to_string(rd.snapshot->meta.index)}});
      {
        std::unique_lock lock(state_mutex_);
        state_.restore(rd.snapshot->data);
        applied_ = {rd.snapshot->meta.index, rd.snapshot->meta.term};
      }
      last_snapshot_bytes_ = rd.snapshot->data.size();
      applied_bytes_since_snapshot_ = 0;
      // Writes waiting at indexes the snapshot covers cannot be matched to their entries.
      for (auto it = writes_.begin(); it != writes_.end() && it->first <= rd.snapshot->meta.index;) {
        it->second.done({WriteOutcome::Status::unknown, "", leader_.load(), "replaced by a snapshot"});
        it = writes_.erase(it);
      }
      sync_peer_addresses();
    }
    apply_committed(rd.committed);
    for (const auto& rs : rd.reads) {
      auto it = reads_.find(rs.request_id);
      if (it != reads_.end()) it->second.index = std::max<raft::Index>(rs.index, 1);
    }
    turn_.committed += rd.committed.size();
    node_->advance(rd);
    serve_reads();
    turn_.apply_us += micros_since(phase_start);
  }
  if (node_->leader() != leader_.load() && !forwards_.empty()) {
    fail_forwards("leader changed before it answered; the write may still commit", false);
  }
  if (node_->leader() != leader_.load()) {
    ++stats_.leader_changes;
    logger().info("leader changed", {{"leader", std::to_string(node_->leader())},
                                     {"term", std::to_string(node_->term())},
                                     {"role", std::string(raft::to_string(node_->role()))}});
  }
  leader_ = node_->leader();
  const bool leader = node_->role() == raft::Role::leader;
  if (was_leader_ && !leader) fail_writes("leadership lost; the write may still commit");
  was_leader_ = leader;
  maybe_snapshot();
}

void RaftServer::apply_committed(const std::vector<raft::Entry>& committed) {
  if (committed.empty()) return;
  bool directory_changed = false;
  std::vector<std::pair<raft::Index, std::string>> results;
  {
    std::unique_lock lock(state_mutex_);
    for (const auto& e : committed) {
      std::string result;
      if (e.type == raft::EntryType::normal && !e.data.empty()) {
        try {
          const Command command = decode_command(e.data);
          directory_changed |= command.kind == CommandKind::set_member || command.kind == CommandKind::drop_member;
          result = state_.apply(command);
        } catch (const raft::CodecError& ex) {
          // Every replica skips the same bad entry, so they stay identical.
          logger().error("undecodable committed entry skipped", {{"index", std::to_string(e.index)}, {"error", ex.what()}});
          result = "{\"error\":\"undecodable command\"}";
        }
      }
      results.emplace_back(e.index, std::move(result));
      applied_ = {e.index, e.term};
      applied_bytes_since_snapshot_ += e.data.size();
    }
  }
  std::size_t next = 0;
  for (const auto& e : committed) {
    std::string& result = results[next++].second;
    for (auto it = writes_.begin(); it != writes_.end() && it->first <= e.index;) {
      if (it->first == e.index && it->second.term == e.term) {
        it->second.done({WriteOutcome::Status::ok, std::move(result), leader_.load(), ""});
      } else {
        // Another entry committed at our index: ours is gone for good and never applies.
        it->second.done(
            {WriteOutcome::Status::refused, "", node_->leader(), "lost leadership before commit; not applied"});
      }
      it = writes_.erase(it);
    }
  }
  if (directory_changed) {
    {
      std::lock_guard lock(directory_mutex_);
      directory_ = state_.members();
    }
    sync_peer_addresses();
  }
}

void RaftServer::serve_reads() {
  const raft::Index applied = node_->applied_index();
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.index != 0 && it->second.index <= applied) {
      it->second.done({true, leader_.load(), ""});
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftServer::expire_waiters() {
  const auto now = SteadyClock::now();
  if (!forwards_.empty()) fail_forwards("timed out waiting for the leader", false);
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (it->second.deadline <= now) {
      it->second.done({WriteOutcome::Status::unknown, "", leader_.load(), "timed out waiting for commit"});
      it = writes_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.deadline <= now) {
      it->second.done({false, leader_.load(), "timed out waiting for a read index"});
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftServer::propose_forwarded(raft::NodeId from, std::vector<ForwardedProposal> proposals) {
  std::vector<ForwardAnswer> answers;
  answers.reserve(proposals.size());
  for (auto& p : proposals) {
    const raft::ProposeResult r = node_->propose(std::move(p.data));
    answers.push_back({p.id, static_cast<std::uint8_t>(r.status), r.index, r.term, r.leader_hint});
  }
  transport_->answer_proposals(from, std::move(answers));
}

void RaftServer::take_answers(std::vector<ForwardAnswer> answers) {
  for (const auto& a : answers) {
    auto it = forwards_.find(a.id);
    if (it == forwards_.end()) continue;  // timed out or failed already
    Forward forward = std::move(it->second);
    forwards_.erase(it);
    const auto status = static_cast<raft::ProposeStatus>(a.status);
    if (status == raft::ProposeStatus::not_leader) {
      forward.done({WriteOutcome::Status::not_leader, "", a.leader, "forwarded to a member that does not lead"});
    } else if (status != raft::ProposeStatus::ok) {
      forward.done({WriteOutcome::Status::refused, "", a.leader, raft::to_string(status)});
    } else if (a.index <= node_->applied_index() || writes_.count(a.index) != 0) {
      // Cannot happen while answers travel ahead of the commit on the same link; if it did,
      // the result is gone but the entry may have applied.
      forward.done({WriteOutcome::Status::unknown, "", leader_.load(), "applied before the leader's answer"});
    } else {
      writes_[a.index] = Waiter{std::move(forward.done), a.term, forward.deadline};
    }
  }
}

void RaftServer::fail_forwards(const char* reason, bool all) {
  const auto now = SteadyClock::now();
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    if (all || it->second.leader != node_->leader() || it->second.deadline <= now) {
      it->second.done({WriteOutcome::Status::unknown, "", node_->leader(), reason});
      it = forwards_.erase(it);
    } else {
      ++it;
    }
  }
}

void RaftServer::fail_writes(const std::string& reason) {
  for (auto& [index, waiter] : writes_) waiter.done({WriteOutcome::Status::unknown, "", node_->leader(), reason});
  writes_.clear();
}

void RaftServer::promote_learners() {
  if (node_->role() != raft::Role::leader) return;
  for (const raft::NodeId learner : node_->conf().learners) {
    const raft::Progress* pr = node_->progress(learner);
    if (pr == nullptr || pr->match + node_->config().learner_catchup_gap < node_->last_index()) continue;
    const auto result = node_->propose_conf_change({raft::ConfChangeType::promote, learner});
    if (result.ok()) logger().info("promoting learner", {{"id", std::to_string(learner)}});
    return;  // one change at a time
  }
}

void RaftServer::sync_peer_addresses() {
  std::map<std::uint64_t, std::string> peers;
  for (const auto& m : config_.members) peers[m.id] = m.peer.text();
  {
    std::lock_guard lock(directory_mutex_);
    for (const auto& [id, info] : directory_) peers[id] = info.peer_address;
  }
  for (const auto& [id, address] : peers) {
    if (id == config_.id) continue;
    try {
      transport_->set_peer(id, parse_host_port(address, "member " + std::to_string(id)));
    } catch (const std::exception& e) {
      logger().warn("bad peer address in member directory", {{"id", std::to_string(id)}, {"error", e.what()}});
    }
  }
}

std::optional<std::string> RaftServer::http_address(raft::NodeId member_id) const {
  {
    std::lock_guard lock(directory_mutex_);
    auto it = directory_.find(member_id);
    if (it != directory_.end()) return it->second.http_address;
  }
  if (const auto* m = config_.member(member_id)) return m->http.text();
  return std::nullopt;
}

void RaftServer::await_commit(const raft::ProposeResult& proposed, std::chrono::steady_clock::time_point deadline,
                              WriteDone done) {
  if (!proposed.ok()) {
    const auto status = proposed.status == raft::ProposeStatus::not_leader ? WriteOutcome::Status::not_leader
                                                                          : WriteOutcome::Status::refused;
    done({status, "", proposed.leader_hint, raft::to_string(proposed.status)});
    return;
  }
  writes_[proposed.index] = Waiter{std::move(done), proposed.term, deadline};
}

WriteOutcome RaftServer::propose_and_wait(std::function<raft::ProposeResult(raft::Node&)> propose,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  return wait_for_completion(
      timeout, WriteOutcome{WriteOutcome::Status::unknown, "", leader_.load(), "timed out"}, [&](WriteDone done) {
        post([this, propose = std::move(propose), done = std::move(done), deadline]() mutable {
          await_commit(propose(*node_), deadline, std::move(done));
        });
      });
}

WriteOutcome RaftServer::write(Command command, std::chrono::milliseconds timeout) {
  command.time_us = wall_us();
  std::string data = encode_command(command);
  return propose_and_wait([data = std::move(data)](raft::Node& node) { return node.propose(data); }, timeout);
}

WriteOutcome RaftServer::write_via_leader(Command command, std::chrono::milliseconds timeout) {
  return wait_for_completion(timeout, WriteOutcome{WriteOutcome::Status::unknown, "", leader_.load(), "timed out"},
                             [&](WriteDone done) { write_via_leader_async(std::move(command), timeout, std::move(done)); });
}

void RaftServer::write_via_leader_async(Command command, std::chrono::milliseconds timeout, WriteDone done) {
  command.time_us = wall_us();
  std::string data = encode_command(command);
  const auto deadline = SteadyClock::now() + timeout;
  post([this, data = std::move(data), done = std::move(done), deadline]() mutable {
    const raft::NodeId leader = node_->leader();
    if (node_->role() == raft::Role::leader || leader == raft::kNoNode) {
      await_commit(node_->propose(std::move(data)), deadline, std::move(done));
      return;
    }
    const std::uint64_t id = next_forward_id_++;
    if (!transport_->forward_proposal(leader, {id, std::move(data)})) {
      done({WriteOutcome::Status::not_leader, "", leader, "cannot reach the leader over the peer link"});
      return;
    }
    forwards_[id] = Forward{std::move(done), leader, deadline};
  });
}

ReadOutcome RaftServer::linearizable_read_barrier(std::chrono::milliseconds timeout) {
  return wait_for_completion(timeout, ReadOutcome{false, leader_.load(), "timed out"},
                             [&](ReadDone done) { linearizable_read_barrier_async(timeout, std::move(done)); });
}

void RaftServer::linearizable_read_barrier_async(std::chrono::milliseconds timeout, ReadDone done) {
  const auto deadline = SteadyClock::now() + timeout;
  post([this, done = std::move(done), deadline]() mutable {
    const std::uint64_t id = next_read_id_++;
    if (!node_->read_index(id)) {
      done({false, node_->leader(), "no leader known"});
      return;
    }
    reads_[id] = ReadWaiter{std::move(done), 0, deadline};
  });
}

ClusterStatus RaftServer::status(std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<ClusterStatus>>();
  auto future = promise->get_future();
  post([this, promise] {
    ClusterStatus s;
    s.id = config_.id;
    s.role = node_->role();
    s.term = node_->term();
    s.leader = node_->leader();
    s.commit_index = node_->commit_index();
    // What the state machine holds (the same source as state_hash), not the core's applied
    // index: between stepping the last snapshot chunk and handling its Ready the core
    // already counts the snapshot as applied while state_ is still the old state.
    s.applied_index = applied_.index;
    s.last_index = node_->last_index();
    s.snapshot_index = node_->log().snapshot_index();
    s.revision = state_.revision();
    s.state_hash = state_.state_hash();
    s.keys = state_.size();
    s.loop = stats_;
    s.loop.marker_frames = transport_->marker_frames();
    auto add = [&](raft::NodeId id, bool voter) {
      PeerStatus p;
      p.id = id;
      p.voter = voter;
      if (auto http = http_address(id)) p.http_address = *http;
      {
        std::lock_guard lock(directory_mutex_);
        auto it = directory_.find(id);
        if (it != directory_.end()) p.peer_address = it->second.peer_address;
      }
      if (p.peer_address.empty()) {
        if (const auto* m = config_.member(id)) p.peer_address = m->peer.text();
      }
      if (node_->role() == raft::Role::leader) {
        if (const raft::Progress* pr = node_->progress(id)) p.match = pr->match;
      }
      s.members.push_back(std::move(p));
    };
    for (auto id : node_->conf().voters) add(id, true);
    for (auto id : node_->conf().learners) add(id, false);
    promise->set_value(std::move(s));
  });
  ClusterStatus fallback;
  fallback.id = config_.id;
  return wait_for(future, timeout, fallback);
}

WriteOutcome RaftServer::add_member(raft::NodeId id, const std::string& peer_address, const std::string& http_address,
                                    std::chrono::milliseconds timeout) {
  // The address goes into the replicated directory first, so every member can reach the
  // new one by the time it joins the configuration.
  Command directory;
  directory.kind = CommandKind::set_member;
  directory.member_id = id;
  directory.peer_address = peer_address;
  directory.http_address = http_address;
  WriteOutcome out = write(directory, timeout);
  if (out.status != WriteOutcome::Status::ok) return out;
  return propose_and_wait(
      [id](raft::Node& node) { return node.propose_conf_change({raft::ConfChangeType::add_learner, id}); }, timeout);
}

WriteOutcome RaftServer::remove_member(raft::NodeId id, std::chrono::milliseconds timeout) {
  return propose_and_wait([id](raft::Node& node) { return node.propose_conf_change({raft::ConfChangeType::remove, id}); },
                          timeout);
}

WriteOutcome RaftServer::transfer_leader(raft::NodeId target, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<WriteOutcome>>();
  auto future = promise->get_future();
  post([this, target, promise] {
    if (node_->role() != raft::Role::leader) {
      promise->set_value({WriteOutcome::Status::not_leader, "", node_->leader(), "not the leader"});
      return;
    }
    raft::NodeId to = target;
    if (to == raft::kNoNode) {
      raft::Index best = 0;
      for (auto id : node_->conf().voters) {
        const raft::Progress* pr = node_->progress(id);
        if (id != config_.id && pr && (to == raft::kNoNode || pr->match > best)) {
          to = id;
          best = pr->match;
        }
      }
    }
    if (to == raft::kNoNode || !node_->transfer_leadership(to)) {
      promise->set_value({WriteOutcome::Status::refused, "", node_->leader(), "cannot transfer to that member"});
      return;
    }
    promise->set_value({WriteOutcome::Status::ok, std::to_string(to), to, ""});
  });
  WriteOutcome started = wait_for(future, timeout, WriteOutcome{WriteOutcome::Status::unknown, "", 0, "timed out"});
  if (started.status != WriteOutcome::Status::ok) return started;
  const auto deadline = SteadyClock::now() + timeout;
  const raft::NodeId to = started.leader;
  while (SteadyClock::now() < deadline) {
    if (leader_.load() == to) return {WriteOutcome::Status::ok, "", to, ""};
    std::this_thread::sleep_for(std::chrono::milliseconds(config_.tick_ms));
  }
  return {WriteOutcome::Status::unknown, "", leader_.load(), "transfer did not complete in time"};
}

}  // namespace homestead::cloudd
