// The leader side of the Raft core: replication with pipelining and fast backtracking,
// commit by counting, snapshots in chunks, CheckQuorum, ReadIndex/lease reads, leader
// transfer and membership proposals.
#include "replication/raft/node.h"

#include <algorithm>

#include "replication/raft/codec.h"

namespace homestead::raft {

void Node::become_leader() {
  role_ = Role::leader;
  lead_ = config_.id;
  fast_election_ = false;
  transferee_ = kNoNode;
  votes_.clear();
  reset_election_timer();
  reset_progress();
  // Any membership change already in the log must commit before a new one may start.
  pending_conf_index_ = log_.last_index();
  // Raft 5.4.2 / 8: commit something of our own term at once, so earlier entries commit
  // and ReadIndex has a valid commit point.
  log_.append(Entry{term_, log_.last_index() + 1, EntryType::noop, {}});
  append_due_ = true;
}

void Node::reset_progress() {
  progress_.clear();
  auto add = [&](NodeId id) {
    Progress pr;
    pr.next = log_.last_index() + 1;
    pr.recent_active = true;
    if (id == config_.id) pr.match = stable_last();
    progress_[id] = pr;
  };
  for (NodeId id : conf_.voters) add(id);
  for (NodeId id : conf_.learners) add(id);
  if (!progress_.count(config_.id)) add(config_.id);
}

ProposeResult Node::propose(std::string data) {
  if (role_ != Role::leader) return {ProposeStatus::not_leader, 0, 0, lead_};
  if (transferee_ != kNoNode) return {ProposeStatus::transferring, 0, 0, lead_};
  const Index index = log_.last_index() + 1;
  log_.append(Entry{term_, index, EntryType::normal, std::move(data)});
  append_due_ = true;  // batched: one append per follower at the next ready()
  return {ProposeStatus::ok, index, term_, lead_};
}

ProposeResult Node::propose_conf_change(const ConfChange& change) {
  if (role_ != Role::leader) return {ProposeStatus::not_leader, 0, 0, lead_};
  if (transferee_ != kNoNode) return {ProposeStatus::transferring, 0, 0, lead_};
  if (pending_conf_index_ > commit_) return {ProposeStatus::conf_change_pending, 0, 0, lead_};
  switch (change.type) {
    case ConfChangeType::add_learner:
      if (change.node == kNoNode || conf_.contains(change.node)) return {ProposeStatus::invalid_conf_change, 0, 0, lead_};
      break;
    case ConfChangeType::promote: {
      if (!conf_.is_learner(change.node)) return {ProposeStatus::invalid_conf_change, 0, 0, lead_};
      const Progress* pr = progress(change.node);
      if (!pr || pr->match + config_.learner_catchup_gap < log_.last_index()) {
        return {ProposeStatus::learner_behind, 0, 0, lead_};
      }
      break;
    }
    case ConfChangeType::remove:
      if (!conf_.contains(change.node) || (conf_.voters.size() == 1 && conf_.is_voter(change.node))) {
        return {ProposeStatus::invalid_conf_change, 0, 0, lead_};
      }
      break;
  }
  const Index index = log_.last_index() + 1;
  log_.append(Entry{term_, index, EntryType::conf_change, encode_conf_change(change)});
  pending_conf_index_ = index;
  append_due_ = true;
  return {ProposeStatus::ok, index, term_, lead_};
}

bool Node::transfer_leadership(NodeId target) {
  if (role_ != Role::leader || target == config_.id || !conf_.is_voter(target)) return false;
  if (transferee_ == target) return true;
  transferee_ = target;
  election_elapsed_ = 0;  // the transfer is abandoned after one election timeout
  const Progress& pr = progress_[target];
  if (pr.match == log_.last_index()) {
    Message m;
    m.type = MessageType::timeout_now;
    m.to = target;
    send(std::move(m));
    lease_blocked_until_ = tick_count_ + 2 * config_.election_ticks;
  } else {
    send_append(target, false);
  }
  return true;
}

std::optional<SnapshotMeta> Node::snapshot_meta_at(Index index) const {
  const auto term = log_.term(index);
  if (!term || index <= log_.snapshot_index()) return std::nullopt;
  SnapshotMeta meta;
  meta.index = index;
  meta.term = *term;
  for (const auto& [from, conf] : conf_history_) {
    if (from <= index) meta.conf = conf;
  }
  return meta;
}

void Node::compact(Index index, std::string data) {
  if (index > applied_ || index <= log_.snapshot_index()) return;
  const SnapshotMeta meta = *snapshot_meta_at(index);
  log_.compact(index);
  // Keep the config in force at the snapshot and every later change.
  std::vector<std::pair<Index, ConfState>> kept{{index, meta.conf}};
  for (const auto& entry : conf_history_) {
    if (entry.first > index) kept.push_back(entry);
  }
  conf_history_ = std::move(kept);
  snapshot_ = Snapshot{meta, std::move(data)};
}

// ---------------------------------------------------------------- ticking

void Node::tick_leader() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      // CheckQuorum: a leader that has not heard from a majority for an election timeout
      // steps down instead of serving stale reads or blocking clients forever.
      if (!quorum_active()) {
        become_follower(term_, kNoNode);
        return;
      }
      for (auto& [id, pr] : progress_) pr.recent_active = id == config_.id;
    }
    transferee_ = kNoNode;
  }
  for (auto& [id, pr] : progress_) {
    if (pr.state != Progress::State::snapshot) continue;
    if (++pr.snapshot_idle_ticks >= 2 * config_.heartbeat_ticks) send_snapshot_chunk(id, pr);  // lost chunk
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

bool Node::quorum_active() const {
  std::size_t active = 0;
  for (NodeId id : conf_.voters) {
    auto it = progress_.find(id);
    if (id == config_.id || (it != progress_.end() && it->second.recent_active)) ++active;
  }
  return active >= quorum();
}

// ---------------------------------------------------------------- sending

void Node::broadcast_append() {
  for (auto& [id, pr] : progress_) {
    if (id != config_.id) send_append(id, true);
  }
}

void Node::broadcast_heartbeat() {
  const std::uint64_t context = pending_reads_.empty() ? 0 : read_seq_;
  for (auto& [id, pr] : progress_) {
    if (id == config_.id) continue;
    Message m;
    m.type = MessageType::heartbeat;
    m.to = id;
    m.commit = std::min(pr.match, commit_);
    m.context = context;
    m.index = static_cast<Index>(tick_count_);
    send(std::move(m));
  }
}

void Node::send_append(NodeId to, bool send_empty) {
  Progress& pr = progress_[to];
  bool sent_any = false;
  while (!pr.paused(config_.max_inflight_messages)) {
    const Index prev = pr.next - 1;
    const auto prev_term = log_.term(prev);
    if (!prev_term) {
      // The follower needs entries we compacted: stream the snapshot instead.
      if (!snapshot_) return;
      pr.become_snapshot(snapshot_->meta.index);
      send_snapshot_chunk(to, pr);
      return;
    }
    std::vector<Entry> entries =
        log_.slice(pr.next, log_.last_index(), config_.max_bytes_per_message, config_.max_entries_per_message);
    if (entries.empty() && (sent_any || !send_empty)) return;
    Message m;
    m.type = MessageType::append;
    m.to = to;
    m.index = prev;
    m.log_term = *prev_term;
    m.commit = commit_;
    const Index last_sent = entries.empty() ? prev : entries.back().index;
    m.entries = std::move(entries);
    send(std::move(m));
    sent_any = true;
    if (pr.state == Progress::State::replicate) {
      // Pipelining: assume success and keep streaming up to the inflight window.
      if (last_sent > prev) {
        pr.next = last_sent + 1;
        pr.inflight.push_back(last_sent);
      } else {
        return;
      }
    } else {
      pr.probe_sent = true;
    }
  }
}

void Node::send_snapshot_chunk(NodeId to, Progress& pr) {
  if (!snapshot_) return;
  if (pr.snapshot_index != snapshot_->meta.index) pr.become_snapshot(snapshot_->meta.index);  // a newer one replaced it
  const std::string& data = snapshot_->data;
  const std::uint64_t offset = std::min<std::uint64_t>(pr.snapshot_acked, data.size());
  Message m;
  m.type = MessageType::install_snapshot;
  m.to = to;
  m.snapshot = snapshot_->meta;
  m.chunk_offset = offset;
  m.chunk = data.substr(offset, config_.snapshot_chunk_bytes);
  m.chunk_last = offset + m.chunk.size() == data.size();
  pr.snapshot_idle_ticks = 0;
  send(std::move(m));
}

// ---------------------------------------------------------------- receiving

void Node::step_leader(const Message& m) {
  if (m.type == MessageType::read_index) {
    if (!conf_.contains(m.from)) return;
    if (!committed_in_current_term()) {
      reads_before_commit_.push_back({m.context, m.from});
    } else {
      handle_read_request(m.context, m.from);
    }
    return;
  }
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;  // a removed or unknown node
  Progress& pr = it->second;
  pr.recent_active = true;
  switch (m.type) {
    case MessageType::append_resp: handle_append_response(m, pr); break;
    case MessageType::heartbeat_resp: handle_heartbeat_response(m, pr); break;
    case MessageType::install_snapshot_resp: handle_snapshot_response(m, pr); break;
    default: break;
  }
}

void Node::handle_append_response(const Message& m, Progress& pr) {
  if (m.reject) {
    if (pr.state == Progress::State::replicate) {
      if (m.index <= pr.match) return;  // stale
    } else if (pr.state == Progress::State::probe) {
      if (m.index != pr.next - 1) return;  // answer to an older probe
    } else {
      return;
    }
    // Skip a whole term of conflicting entries per round trip (dissertation 5.3 note).
    Index next_probe = m.reject_hint;
    if (m.hint_term > 0) next_probe = log_.find_conflict_by_term(m.reject_hint, m.hint_term);
    pr.become_probe();
    pr.next = std::max(std::min(m.index, next_probe + 1), pr.match + 1);
    send_append(m.from, false);
    return;
  }
  const bool was_paused = pr.paused(config_.max_inflight_messages);
  if (pr.maybe_update(m.index)) {
    if (pr.state == Progress::State::probe) pr.become_replicate();
    if (pr.state == Progress::State::snapshot && pr.match >= pr.snapshot_index) pr.become_replicate();
    if (maybe_commit()) commit_changed_ = true;
    if (role_ != Role::leader) return;  // committing our own removal stepped us down
    if (m.from == transferee_ && pr.match == log_.last_index()) {
      Message now;
      now.type = MessageType::timeout_now;
      now.to = m.from;
      send(std::move(now));
      lease_blocked_until_ = tick_count_ + 2 * config_.election_ticks;
    }
    send_append(m.from, false);
  } else if (was_paused) {
    send_append(m.from, false);
  }
}

void Node::handle_heartbeat_response(const Message& m, Progress& pr) {
  pr.lease_acked_tick = std::max(pr.lease_acked_tick, static_cast<int>(m.index));
  if (m.context > pr.read_acked) pr.read_acked = m.context;
  if (pr.state == Progress::State::probe) pr.probe_sent = false;  // the probe may have been lost
  if (pr.state == Progress::State::replicate && !pr.inflight.empty()) {
    // Appends may have been dropped (the follower only notices a gap when a later one
    // arrives): after two heartbeat rounds without progress, fall back to probing.
    pr.stalled_heartbeats = pr.match == pr.match_at_heartbeat ? pr.stalled_heartbeats + 1 : 0;
    pr.match_at_heartbeat = pr.match;
    if (pr.stalled_heartbeats >= 2) pr.become_probe();
  }
  if (pr.match < log_.last_index()) send_append(m.from, false);
  release_confirmed_reads();
}

void Node::handle_snapshot_response(const Message& m, Progress& pr) {
  if (pr.state != Progress::State::snapshot || m.index != pr.snapshot_index) return;
  pr.snapshot_acked = m.chunk_offset;
  send_snapshot_chunk(m.from, pr);
}

bool Node::maybe_commit() {
  std::vector<Index> matches;
  for (NodeId id : conf_.voters) {
    auto it = progress_.find(id);
    matches.push_back(it == progress_.end() ? 0 : it->second.match);
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const Index candidate = matches[quorum() - 1];
  // Raft 5.4.2 (figure 8): only an entry of our own term commits by counting replicas.
  if (candidate <= commit_ || log_.term(candidate) != term_) return false;
  const bool had_term_commit = committed_in_current_term();
  commit_to(candidate);
  if (role_ == Role::leader && !had_term_commit) {
    auto waiting = std::move(reads_before_commit_);
    reads_before_commit_.clear();
    for (const auto& [request_id, requester] : waiting) handle_read_request(request_id, requester);
  }
  return true;
}

// ---------------------------------------------------------------- reads

bool Node::read_index(std::uint64_t request_id) {
  if (role_ == Role::leader) {
    if (!committed_in_current_term()) {
      reads_before_commit_.push_back({request_id, config_.id});
    } else {
      handle_read_request(request_id, config_.id);
    }
    return true;
  }
  if (lead_ == kNoNode) return false;
  Message m;
  m.type = MessageType::read_index;
  m.to = lead_;
  m.context = request_id;
  send(std::move(m));
  return true;
}

void Node::handle_read_request(std::uint64_t request_id, NodeId requester) {
  if (quorum() == 1 && conf_.is_voter(config_.id)) {
    deliver_read(request_id, commit_, requester);
    return;
  }
  if (config_.lease_reads && lease_valid()) {
    deliver_read(request_id, commit_, requester);
    return;
  }
  // ReadIndex (dissertation 6.4): remember the commit index, then confirm with one
  // heartbeat round that we are still the leader; reads batch into the next round.
  pending_reads_.push_back({request_id, commit_, ++read_seq_, requester});
  read_heartbeat_due_ = true;
}

void Node::deliver_read(std::uint64_t request_id, Index index, NodeId requester) {
  if (requester == config_.id) {
    ready_reads_.push_back({request_id, index});
    return;
  }
  Message m;
  m.type = MessageType::read_index_resp;
  m.to = requester;
  m.context = request_id;
  m.index = index;
  send(std::move(m));
}

void Node::release_confirmed_reads() {
  while (!pending_reads_.empty()) {
    const PendingRead& read = pending_reads_.front();
    std::size_t acks = 0;
    for (NodeId id : conf_.voters) {
      auto it = progress_.find(id);
      if (id == config_.id || (it != progress_.end() && it->second.read_acked >= read.seq)) ++acks;
    }
    if (acks < quorum()) return;
    deliver_read(read.request_id, read.index, read.requester);
    pending_reads_.pop_front();
  }
}

bool Node::lease_valid() const {
  // Followers refuse votes for election_ticks after hearing from us, so a quorum that
  // answered a heartbeat sent at tick t keeps us the only leader until t + election_ticks
  // on their clocks; the margin absorbs bounded tick-rate differences.
  if (tick_count_ < lease_blocked_until_ || transferee_ != kNoNode) return false;
  std::vector<int> acked;
  for (NodeId id : conf_.voters) {
    auto it = progress_.find(id);
    acked.push_back(id == config_.id ? tick_count_ : (it == progress_.end() ? -1 : it->second.lease_acked_tick));
  }
  std::sort(acked.begin(), acked.end(), std::greater<>());
  const int lease_start = acked[quorum() - 1];
  return lease_start >= 0 && tick_count_ < lease_start + config_.election_ticks - config_.lease_margin_ticks;
}

}  // namespace homestead::raft
