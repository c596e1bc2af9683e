// Roles, elections and the follower side of the Raft core. The leader side lives in
// node_leader.cpp.
#include "replication/raft/node.h"

#include <algorithm>
#include <stdexcept>

#include "replication/raft/codec.h"

namespace homestead::raft {

bool ConfState::is_voter(NodeId id) const { return std::binary_search(voters.begin(), voters.end(), id); }
bool ConfState::is_learner(NodeId id) const { return std::binary_search(learners.begin(), learners.end(), id); }

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::pre_vote: return "pre_vote";
    case MessageType::pre_vote_resp: return "pre_vote_resp";
    case MessageType::vote: return "vote";
    case MessageType::vote_resp: return "vote_resp";
    case MessageType::append: return "append";
    case MessageType::append_resp: return "append_resp";
    case MessageType::heartbeat: return "heartbeat";
    case MessageType::heartbeat_resp: return "heartbeat_resp";
    case MessageType::install_snapshot: return "install_snapshot";
    case MessageType::install_snapshot_resp: return "install_snapshot_resp";
    case MessageType::timeout_now: return "timeout_now";
    case MessageType::read_index: return "read_index";
    case MessageType::read_index_resp: return "read_index_resp";
  }
  return "?";
}

std::string to_string(const Message& m) {
  std::string out = std::string(to_string(m.type)) + " t" + std::to_string(m.term) + " i" + std::to_string(m.index) +
                    " lt" + std::to_string(m.log_term) + " c" + std::to_string(m.commit);
  if (!m.entries.empty()) out += " n" + std::to_string(m.entries.size());
  if (m.reject) out += " reject hint" + std::to_string(m.reject_hint);
  return out;
}

const char* to_string(Role role) {
  switch (role) {
    case Role::follower: return "follower";
    case Role::pre_candidate: return "pre_candidate";
    case Role::candidate: return "candidate";
    case Role::leader: return "leader";
  }
  return "?";
}

const char* to_string(ProposeStatus status) {
  switch (status) {
    case ProposeStatus::ok: return "ok";
    case ProposeStatus::not_leader: return "not_leader";
    case ProposeStatus::transferring: return "transferring";
    case ProposeStatus::conf_change_pending: return "conf_change_pending";
    case ProposeStatus::invalid_conf_change: return "invalid_conf_change";
    case ProposeStatus::learner_behind: return "learner_behind";
  }
  return "?";
}

Node::Node(Config config, Bootstrap boot) : config_(config), rng_state_(config.seed * 0x9E3779B97F4A7C15ULL + config.id) {
  if (config_.id == kNoNode) throw std::invalid_argument("raft: node id 0 is reserved");
  if (config_.election_ticks <= config_.heartbeat_ticks) {
    throw std::invalid_argument("raft: election_ticks must exceed heartbeat_ticks");
  }
  if (config_.lease_reads && !config_.check_quorum) throw std::invalid_argument("raft: lease_reads needs check_quorum");
  term_ = boot.hard_state.term;
  vote_ = boot.hard_state.vote;
  Index snapshot_index = 0;
  Term snapshot_term = 0;
  if (boot.snapshot) {
    snapshot_index = boot.snapshot->meta.index;
    snapshot_term = boot.snapshot->meta.term;
    conf_ = boot.snapshot->meta.conf;
    snapshot_ = std::move(boot.snapshot);
  } else {
    conf_ = boot.initial_conf;
    std::sort(conf_.voters.begin(), conf_.voters.end());
    std::sort(conf_.learners.begin(), conf_.learners.end());
  }
  conf_history_.push_back({snapshot_index, conf_});
  log_.reset(snapshot_index, snapshot_term, std::move(boot.entries));
  applied_ = std::max(boot.applied, snapshot_index);
  commit_ = snapshot_index;
  // Membership takes effect at commit; replay the committed changes after the snapshot.
  commit_to(std::min(std::max(boot.hard_state.commit, snapshot_index), log_.last_index()));
  saved_hard_state_ = hard_state();
  reset_election_timer();
}

std::uint64_t Node::next_random() {
  // splitmix64: deterministic per (seed, id), no global RNG inside the core.
  std::uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int Node::next_random_timeout() {
  return config_.election_ticks + static_cast<int>(next_random() % static_cast<std::uint64_t>(config_.election_ticks));
}

void Node::reset_election_timer() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_timeout_ = fast_election_ ? 1 + static_cast<int>(next_random() % static_cast<std::uint64_t>(2 * config_.heartbeat_ticks))
                                       : next_random_timeout();
}

const Progress* Node::progress(NodeId peer) const {
  auto it = progress_.find(peer);
  return it == progress_.end() ? nullptr : &it->second;
}

std::optional<SnapshotMeta> Node::snapshot_meta() const {
  if (!snapshot_) return std::nullopt;
  return snapshot_->meta;
}

void Node::send(Message m) {
  m.from = config_.id;
  if (m.term == 0) m.term = term_;
  messages_.push_back(std::move(m));
}

// ---------------------------------------------------------------- roles and elections

void Node::become_follower(Term term, NodeId lead) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  role_ = Role::follower;
  lead_ = lead;
  if (lead != kNoNode) fast_election_ = false;
  transferee_ = kNoNode;
  votes_.clear();
  pending_reads_.clear();
  reads_before_commit_.clear();
  reset_election_timer();
}

void Node::become_pre_candidate() {
  // PreVote (dissertation 9.6): ask first, without touching term or vote, so a node that
  // cannot win (partitioned, stale log) never forces the cluster into a new term.
  role_ = Role::pre_candidate;
  lead_ = kNoNode;
  votes_.clear();
  reset_election_timer();
}

void Node::become_candidate() {
  role_ = Role::candidate;
  term_ += 1;
  vote_ = config_.id;
  lead_ = kNoNode;
  votes_.clear();
  reset_election_timer();
}

void Node::campaign() {
  if (role_ == Role::leader || !promotable()) return;
  start_campaign(config_.pre_vote ? CampaignKind::pre_vote : CampaignKind::election);
}

void Node::peer_connection_lost(NodeId peer) {
  if (role_ != Role::follower || peer == kNoNode || peer != lead_ || config_.lease_reads) return;
  lead_ = kNoNode;  // no lease any more: we grant the other survivors' pre-votes too
  fast_election_ = true;
  // Spread over two heartbeat intervals so the survivors rarely campaign in the same tick
  // (a split vote would cost a full election timeout).
  const auto spread = static_cast<std::uint64_t>(2 * config_.heartbeat_ticks);
  const int delay = 1 + static_cast<int>(next_random() % spread);
  election_elapsed_ = std::max(election_elapsed_, randomized_timeout_ - delay);
}

void Node::start_campaign(CampaignKind kind) {
  const bool pre = kind == CampaignKind::pre_vote;
  if (pre) {
    become_pre_candidate();
  } else {
    become_candidate();
  }
  votes_[config_.id] = true;
  if (votes_.size() >= quorum()) {  // a single voter wins alone
    if (pre) {
      start_campaign(CampaignKind::election);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId peer : conf_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = pre ? MessageType::pre_vote : MessageType::vote;
    m.to = peer;
    m.term = pre ? term_ + 1 : term_;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.force = kind == CampaignKind::transfer;
    send(std::move(m));
  }
}

void Node::handle_vote_request(const Message& m) {
  const bool pre = m.type == MessageType::pre_vote;
  const bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) || (pre && m.term > term_);
  Message resp;
  resp.type = pre ? MessageType::pre_vote_resp : MessageType::vote_resp;
  resp.to = m.from;
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    // A granted pre-vote answers in the term the candidate would use.
    resp.term = m.term;
    if (!pre) {
      vote_ = m.from;
      election_elapsed_ = 0;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  send(std::move(resp));
}

void Node::handle_vote_response(const Message& m) {
  const bool pre = m.type == MessageType::pre_vote_resp;
  if (pre != (role_ == Role::pre_candidate)) return;  // an answer to an earlier campaign
  if (!conf_.is_voter(m.from)) return;
  votes_.emplace(m.from, !m.reject);
  std::size_t granted = 0;
  for (const auto& [id, yes] : votes_) granted += yes ? 1 : 0;
  const std::size_t rejected = votes_.size() - granted;
  if (granted >= quorum()) {
    if (pre) {
      start_campaign(CampaignKind::election);
    } else {
      become_leader();
    }
  } else if (rejected >= quorum()) {
    become_follower(term_, kNoNode);
  }
}

// ---------------------------------------------------------------- stepping

void Node::step(const Message& m) {
  if (m.term > term_) {
    if (m.type == MessageType::vote || m.type == MessageType::pre_vote) {
      // CheckQuorum's other half: while we hear from a leader, ignore would-be candidates,
      // so a partitioned node that rejoins cannot depose a healthy leader.
      const bool in_lease = config_.check_quorum && lead_ != kNoNode && election_elapsed_ < config_.election_ticks;
      if (in_lease && !m.force) return;
    }
    if (m.type == MessageType::pre_vote || (m.type == MessageType::pre_vote_resp && !m.reject)) {
      // Pre-votes never change terms.
    } else {
      const bool from_leader = m.type == MessageType::append || m.type == MessageType::heartbeat ||
                               m.type == MessageType::install_snapshot;
      become_follower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::append || m.type == MessageType::heartbeat)) {
      // A stale leader that a PreVote cluster never disturbed must still learn the new term.
      Message resp;
      resp.type = MessageType::append_resp;
      resp.to = m.from;
      send(std::move(resp));
    } else if (m.type == MessageType::pre_vote) {
      Message resp;
      resp.type = MessageType::pre_vote_resp;
      resp.to = m.from;
      resp.reject = true;
      send(std::move(resp));
    }
    return;
  }

  if (m.type == MessageType::vote || m.type == MessageType::pre_vote) {
    handle_vote_request(m);
    return;
  }
  if (role_ == Role::leader) {
    step_leader(m);
    return;
  }
  switch (m.type) {
    case MessageType::append:
    case MessageType::heartbeat:
    case MessageType::install_snapshot:
      if (role_ != Role::follower) become_follower(m.term, m.from);
      lead_ = m.from;
      fast_election_ = false;
      election_elapsed_ = 0;
      if (m.type == MessageType::append) handle_append(m);
      if (m.type == MessageType::heartbeat) handle_heartbeat(m);
      if (m.type == MessageType::install_snapshot) handle_snapshot_chunk(m);
      return;
    case MessageType::pre_vote_resp:
    case MessageType::vote_resp:
      handle_vote_response(m);
      return;
    case MessageType::timeout_now:
      if (role_ == Role::follower && promotable() && m.from == lead_) start_campaign(CampaignKind::transfer);
      return;
    case MessageType::read_index_resp:
      if (role_ == Role::follower) ready_reads_.push_back({m.context, m.index});
      return;
    default:
      return;  // responses meant for a leader we no longer are
  }
}

void Node::tick() {
  ++tick_count_;
  if (role_ == Role::leader) {
    tick_leader();
    return;
  }
  ++election_elapsed_;
  if (election_elapsed_ >= randomized_timeout_ && promotable()) campaign();
}

// ---------------------------------------------------------------- follower side

void Node::handle_append(const Message& m) {
  Message resp;
  resp.type = MessageType::append_resp;
  resp.to = m.from;
  if (m.index < commit_) {
    resp.index = commit_;  // everything up to our commit matches by the Log Matching property
    send(std::move(resp));
    return;
  }
  if (auto last_new = log_.maybe_append(m.index, m.log_term, m.entries)) {
    commit_to(std::min(m.commit, *last_new));
    resp.index = *last_new;
  } else {
    // Fast backtracking: point the leader at the last entry that could still match.
    const Index hint = log_.find_conflict_by_term(std::min(m.index, log_.last_index()), m.log_term);
    resp.reject = true;
    resp.index = m.index;
    resp.reject_hint = hint;
    resp.hint_term = log_.term(hint).value_or(0);
  }
  send(std::move(resp));
}

void Node::handle_heartbeat(const Message& m) {
  // The leader sends min(our match, its commit), so this never points past what we hold.
  commit_to(std::min(m.commit, log_.last_index()));
  Message resp;
  resp.type = MessageType::heartbeat_resp;
  resp.to = m.from;
  resp.context = m.context;
  resp.index = m.index;  // echoes the leader's tick for its lease
  send(std::move(resp));
}

void Node::handle_snapshot_chunk(const Message& m) {
  const SnapshotMeta& meta = m.snapshot;
  Message resp;
  resp.to = m.from;
  if (meta.index <= commit_) {
    resp.type = MessageType::append_resp;
    resp.index = commit_;
    send(std::move(resp));
    return;
  }
  if (!receiving_snapshot_ || !(incoming_meta_ == meta)) {
    receiving_snapshot_ = m.chunk_offset == 0;
    incoming_meta_ = meta;
    incoming_data_.clear();
  }
  if (receiving_snapshot_ && m.chunk_offset == incoming_data_.size()) incoming_data_ += m.chunk;
  if (receiving_snapshot_ && m.chunk_last && m.chunk_offset + m.chunk.size() == incoming_data_.size()) {
    receiving_snapshot_ = false;
    restore(Snapshot{meta, std::move(incoming_data_)});
    incoming_data_.clear();
    resp.type = MessageType::append_resp;
    resp.index = log_.last_index();
    send(std::move(resp));
    return;
  }
  resp.type = MessageType::install_snapshot_resp;
  resp.index = meta.index;
  resp.chunk_offset = receiving_snapshot_ ? incoming_data_.size() : 0;
  send(std::move(resp));
}

bool Node::restore(const Snapshot& snapshot) {
  const SnapshotMeta& meta = snapshot.meta;
  if (meta.index <= commit_) return false;
  if (log_.match_term(meta.index, meta.term)) {
    // We already hold the snapshot's last entry: just commit up to it, keep the log.
    commit_to(meta.index);
    return false;
  }
  log_.reset(meta.index, meta.term, {});
  commit_ = meta.index;
  applied_ = meta.index;  // the adapter applies the snapshot before any later entry
  conf_ = meta.conf;
  conf_history_.assign(1, {meta.index, conf_});
  snapshot_ = snapshot;
  snapshot_to_save_ = snapshot;
  return true;
}

void Node::commit_to(Index index) {
  if (index <= commit_) return;
  const Index from = commit_ + 1;
  commit_ = index;
  for (Index i = std::max(from, log_.first_index()); i <= index; ++i) {
    const Entry& e = log_.at(i);
    if (e.type == EntryType::conf_change) apply_conf_change(i, decode_conf_change(e.data));
  }
}

void Node::apply_conf_change(Index index, const ConfChange& change) {
  auto erase = [](std::vector<NodeId>& ids, NodeId id) { ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end()); };
  auto insert = [](std::vector<NodeId>& ids, NodeId id) {
    if (!std::binary_search(ids.begin(), ids.end(), id)) ids.insert(std::lower_bound(ids.begin(), ids.end(), id), id);
  };
  switch (change.type) {
    case ConfChangeType::add_learner:
      if (!conf_.is_voter(change.node)) insert(conf_.learners, change.node);
      break;
    case ConfChangeType::promote:
      erase(conf_.learners, change.node);
      insert(conf_.voters, change.node);
      break;
    case ConfChangeType::remove:
      erase(conf_.learners, change.node);
      erase(conf_.voters, change.node);
      break;
  }
  conf_history_.push_back({index, conf_});
  if (role_ != Role::leader) return;
  if (!conf_.contains(config_.id)) {
    // Dissertation 4.2.2: a leader that committed its own removal steps down.
    become_follower(term_, kNoNode);
    return;
  }
  if (conf_.contains(change.node) && change.node != config_.id && !progress_.count(change.node)) {
    Progress pr;
    pr.next = log_.last_index() + 1;
    pr.recent_active = true;
    progress_[change.node] = pr;
  } else if (!conf_.contains(change.node)) {
    progress_.erase(change.node);
    if (transferee_ == change.node) transferee_ = kNoNode;
  }
}

// ---------------------------------------------------------------- Ready

bool Node::has_ready() const {
  return !messages_.empty() || hard_state() != saved_hard_state_ || log_.has_unstable() || snapshot_to_save_ ||
         commit_ > applied_ || !ready_reads_.empty() || append_due_ || commit_changed_ || read_heartbeat_due_;
}

Ready Node::ready() {
  if (role_ == Role::leader) {
    if (append_due_ || commit_changed_) broadcast_append();
    if (read_heartbeat_due_) broadcast_heartbeat();
  }
  append_due_ = commit_changed_ = read_heartbeat_due_ = false;
  Ready rd;
  const HardState hs = hard_state();
  if (hs != saved_hard_state_) rd.hard_state = hs;
  rd.entries = log_.unstable_entries();
  rd.snapshot = snapshot_to_save_;
  if (commit_ > applied_) rd.committed = log_.slice(applied_ + 1, commit_, SIZE_MAX, SIZE_MAX);
  rd.messages = std::move(messages_);
  messages_.clear();
  rd.reads = std::move(ready_reads_);
  ready_reads_.clear();
  rd.must_sync = !rd.entries.empty() || rd.snapshot.has_value() ||
                 (rd.hard_state && (hs.term != saved_hard_state_.term || hs.vote != saved_hard_state_.vote));
  return rd;
}

void Node::advance(const Ready& rd) {
  if (rd.hard_state) saved_hard_state_ = *rd.hard_state;
  if (!rd.entries.empty()) log_.mark_stable();
  snapshot_to_save_.reset();
  if (!rd.committed.empty()) applied_ = std::max(applied_, rd.committed.back().index);
  if (role_ == Role::leader) {
    // The leader counts its own copy only once it is on disk.
    auto& self = progress_[config_.id];
    self.match = std::max(self.match, stable_last());
    if (maybe_commit()) commit_changed_ = true;
  }
}

Index Node::stable_last() const { return log_.stable_index(); }

}  // namespace homestead::raft
