// Membership and periodic maintenance of a ChordNode: create, join, leave, stabilize,
// notify, fix_fingers, check_predecessor, key handover and replication.
#include "cloud/dht/chord_node.h"

#include <algorithm>
#include <stdexcept>
#include <type_traits>

namespace homestead::dht {

ChordNode::ChordNode(const ChordConfig& config, NodeRef self)
    : config_(config), space_(config.bits), self_(self), fingers_(config.bits) {
  if (!space_.contains(self.id)) throw std::invalid_argument("node id " + std::to_string(self.id) + " outside the ring");
  if (config_.successor_list_length == 0) throw std::invalid_argument("successor_list_length: must be at least 1");
  if (config_.replication_factor == 0) throw std::invalid_argument("replication_factor: must be at least 1");
  if (config_.request_timeout_ticks == 0) throw std::invalid_argument("request_timeout_ticks: must be at least 1");
}

unsigned ChordNode::max_hops() const { return config_.max_hops ? config_.max_hops : 2 * config_.bits + 8; }

void ChordNode::create() {
  joined_ = true;
  predecessor_.reset();
  successors_ = {self_};
  std::fill(fingers_.begin(), fingers_.end(), self_);
}

void ChordNode::join(NodeRef bootstrap) {
  Operation op;
  op.purpose = Purpose::join;
  op.key = self_.id;
  op.path = {self_};
  op.targets = {bootstrap};
  const RequestId id = next_request_id();
  operations_.emplace(id, std::move(op));
  ask_next(id);
}

void ChordNode::install(std::optional<NodeRef> predecessor, std::vector<NodeRef> successors,
                        const std::vector<NodeRef>& fingers) {
  if (fingers.size() != fingers_.size()) throw std::invalid_argument("install: need one finger per bit");
  joined_ = true;
  predecessor_ = predecessor;
  successors_ = successors.empty() ? std::vector<NodeRef>{self_} : std::move(successors);
  fingers_.assign(fingers.begin(), fingers.end());
}

void ChordNode::leave() {
  if (!joined_) return;
  const NodeRef successor = this->successor();
  if (successor != self_) {
    std::vector<KeyValue> items;
    for (const auto& [key, value] : store_) items.push_back({key, value});
    if (!items.empty()) send(successor, StoreKeys{std::move(items)});
    send(successor, Leaving{predecessor_, successors_});
    if (predecessor_ && *predecessor_ != self_ && *predecessor_ != successor) {
      send(*predecessor_, Leaving{predecessor_, successors_});
    }
  }
  joined_ = false;
  predecessor_.reset();
  successors_.clear();
  std::fill(fingers_.begin(), fingers_.end(), std::nullopt);
  store_.clear();
  for (auto& [id, op] : operations_) {
    if (op.purpose == Purpose::client) {
      OperationResult result{id, op.kind, op.key, false, op.owner, op.path, op.timeouts, std::nullopt, "node left"};
      ready_.completed.push_back(std::move(result));
    }
  }
  operations_.clear();
  probes_.clear();
}

void ChordNode::tick(bool maintain) {
  ++tick_;
  // Collect first: handling a timeout may send to ourselves, which re-enters step().
  std::vector<RequestId> expired;
  for (const auto& [id, op] : operations_) {
    if (op.deadline <= tick_) expired.push_back(id);
  }
  for (RequestId id : expired) on_timeout(id);
  std::vector<RequestId> dead_probes;
  for (const auto& [id, probe] : probes_) {
    if (probe.deadline <= tick_) dead_probes.push_back(id);
  }
  for (RequestId id : dead_probes) {
    const Probe probe = probes_.at(id);
    probes_.erase(id);
    forget(probe.target);
  }
  if (!joined_ || !maintain) return;
  stabilize();
  check_predecessor();
  fix_fingers();
  if (tick_ % config_.replicate_every_ticks == 0) replicate();
}

Ready ChordNode::take_ready() {
  Ready out = std::move(ready_);
  ready_ = Ready{};
  return out;
}

void ChordNode::send(const NodeRef& to, Body body) {
  Envelope envelope{self_, to, std::move(body)};
  if (to == self_) {
    step(envelope);  // local delivery keeps the protocol uniform; depth is bounded by max_hops
  } else {
    ready_.messages.push_back(std::move(envelope));
  }
}

void ChordNode::step(const Envelope& e) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, NextHopRequest>) {
          on_next_hop_request(e, m);
        } else if constexpr (std::is_same_v<T, NextHopReply>) {
          on_next_hop_reply(e, m);
        } else if constexpr (std::is_same_v<T, FindSuccessor>) {
          on_find_successor(m);
        } else if constexpr (std::is_same_v<T, FoundSuccessor>) {
          on_found_successor(m);
        } else if constexpr (std::is_same_v<T, GetNeighbours>) {
          if (joined_) send(e.from, Neighbours{m.request, predecessor_, successors_});
        } else if constexpr (std::is_same_v<T, Neighbours>) {
          on_neighbours(e, m);
        } else if constexpr (std::is_same_v<T, Notify>) {
          on_notify(e.from);
        } else if constexpr (std::is_same_v<T, Ping>) {
          if (joined_) send(e.from, Pong{m.request});
        } else if constexpr (std::is_same_v<T, Pong>) {
          probes_.erase(m.request);
        } else if constexpr (std::is_same_v<T, StoreKeys>) {
          if (joined_) store(m.items);
        } else if constexpr (std::is_same_v<T, Put>) {
          if (!joined_) return;
          store({m.item});
          for (const NodeRef& replica : replica_targets()) send(replica, StoreKeys{{m.item}});
          send(e.from, PutAck{m.request});
        } else if constexpr (std::is_same_v<T, PutAck>) {
          on_put_ack(e, m);
        } else if constexpr (std::is_same_v<T, Fetch>) {
          if (!joined_) return;
          const auto it = store_.find(m.key);
          send(e.from, FetchReply{m.request, it == store_.end() ? std::nullopt : std::optional(it->second)});
        } else if constexpr (std::is_same_v<T, FetchReply>) {
          on_fetch_reply(e, m);
        } else if constexpr (std::is_same_v<T, Leaving>) {
          on_leaving(e.from, m);
        }
      },
      e.body);
}

// ---- stabilize / notify ----

void ChordNode::stabilize() {
  const NodeRef successor = this->successor();
  if (successor == self_) {
    // Alone (or everyone else gone): a node that notified us is our successor too.
    if (predecessor_ && *predecessor_ != self_) adopt_successors({*predecessor_});
    else return;
  }
  for (const auto& [id, probe] : probes_) {
    if (probe.kind == ProbeKind::stabilize) return;  // previous round still waiting
  }
  const RequestId id = next_request_id();
  probes_.emplace(id, Probe{ProbeKind::stabilize, this->successor(), tick_ + config_.request_timeout_ticks});
  send(this->successor(), GetNeighbours{id});
}

void ChordNode::on_neighbours(const Envelope& e, const Neighbours& m) {
  const auto it = probes_.find(m.request);
  if (it == probes_.end() || it->second.target != e.from) return;
  probes_.erase(it);
  if (!joined_) return;
  std::vector<NodeRef> list;
  if (m.predecessor && *m.predecessor != self_ && space_.in_open(m.predecessor->id, self_.id, e.from.id)) {
    list.push_back(*m.predecessor);  // someone joined between us and our successor
  }
  list.push_back(e.from);
  list.insert(list.end(), m.successors.begin(), m.successors.end());
  adopt_successors(std::move(list));
  send(successor(), Notify{});
}

// Takes nearest-first candidates, stops at ourselves (the list wrapped round the ring),
// drops repeats and keeps r of them.
void ChordNode::adopt_successors(std::vector<NodeRef> list) {
  std::vector<NodeRef> kept;
  for (const NodeRef& node : list) {
    if (node == self_) break;
    if (std::find(kept.begin(), kept.end(), node) != kept.end()) continue;
    kept.push_back(node);
    if (kept.size() == config_.successor_list_length) break;
  }
  successors_ = kept.empty() ? std::vector<NodeRef>{self_} : std::move(kept);
  fingers_[0] = successors_.front();
}

void ChordNode::on_notify(const NodeRef& candidate) {
  if (!joined_ || candidate == self_) return;
  if (predecessor_ && !space_.in_open(candidate.id, predecessor_->id, self_.id)) return;
  predecessor_ = candidate;
  // Hand over what the new predecessor now owns or should replicate: every key outside
  // (candidate, self]. We keep our copies; as its successor we are one of its replicas.
  std::vector<KeyValue> items;
  for (const auto& [key, value] : store_) {
    if (!space_.in_half_open(key, candidate.id, self_.id)) items.push_back({key, value});
  }
  if (!items.empty()) send(candidate, StoreKeys{std::move(items)});
  if (successor() == self_) adopt_successors({candidate});  // second node of a ring
}

void ChordNode::on_leaving(const NodeRef& leaver, const Leaving& m) {
  if (!joined_) return;
  if (predecessor_ == leaver) {
    predecessor_ = (m.predecessor && *m.predecessor != self_) ? m.predecessor : std::nullopt;
  }
  const auto it = std::find(successors_.begin(), successors_.end(), leaver);
  if (it != successors_.end()) {
    std::vector<NodeRef> list(successors_.begin(), it);
    for (const NodeRef& node : m.successors) {
      if (node != leaver) list.push_back(node);
    }
    list.insert(list.end(), it + 1, successors_.end());
    adopt_successors(std::move(list));
  }
  // A finger on the leaver pointed at successor(start) with start in (pred(leaver), leaver];
  // that successor is now the leaver's successor.
  const std::optional<NodeRef> heir =
      m.successors.empty() ? std::nullopt : std::optional<NodeRef>(m.successors.front());
  for (auto& finger : fingers_) {
    if (finger == leaver) finger = heir;
  }
}

// A peer did not answer in time: presume it failed and stop routing through it.
void ChordNode::forget(const NodeRef& node) {
  if (node == self_) return;
  if (predecessor_ == node) predecessor_.reset();
  const auto it = std::find(successors_.begin(), successors_.end(), node);
  if (it != successors_.end()) {
    successors_.erase(it);
    if (successors_.empty()) {
      // Every known successor failed: fall back on the nearest finger we still have.
      for (const auto& finger : fingers_) {
        if (finger && *finger != node && *finger != self_) {
          successors_.push_back(*finger);
          break;
        }
      }
      if (successors_.empty()) successors_.push_back(self_);
    }
  }
  for (auto& finger : fingers_) {
    if (finger == node) finger.reset();
  }
  if (joined_) fingers_[0] = successor();
}

// ---- check_predecessor / fix_fingers ----

void ChordNode::check_predecessor() {
  if (!predecessor_ || *predecessor_ == self_) return;
  for (const auto& [id, probe] : probes_) {
    if (probe.kind == ProbeKind::check_predecessor) return;
  }
  const RequestId id = next_request_id();
  probes_.emplace(id, Probe{ProbeKind::check_predecessor, *predecessor_, tick_ + config_.request_timeout_ticks});
  send(*predecessor_, Ping{id});
}

void ChordNode::fix_fingers() {
  for (unsigned n = 0; n < config_.fingers_per_tick; ++n) {
    const unsigned i = next_finger_;
    next_finger_ = (next_finger_ + 1) % config_.bits;
    const Id finger_start = space_.finger_start(self_.id, i);
    if (space_.in_half_open(finger_start, self_.id, successor().id)) {
      fingers_[i] = successor();  // no messages needed: the successor owns the start
      continue;
    }
    const bool pending = std::any_of(operations_.begin(), operations_.end(), [&](const auto& entry) {
      return entry.second.purpose == Purpose::fix_finger && entry.second.finger == i;
    });
    if (pending) continue;
    Operation op;
    op.purpose = Purpose::fix_finger;
    op.finger = i;
    op.key = finger_start;
    start(std::move(op));
  }
}

// ---- keys ----

std::vector<NodeRef> ChordNode::replica_targets() const {
  std::vector<NodeRef> targets;
  std::vector<HostId> hosts{self_.host};
  for (const NodeRef& node : successors_) {
    if (targets.size() + 1 >= config_.replication_factor) break;
    if (std::find(hosts.begin(), hosts.end(), node.host) != hosts.end()) continue;  // same machine: no safety
    hosts.push_back(node.host);
    targets.push_back(node);
  }
  return targets;
}

void ChordNode::replicate() {
  if (!predecessor_) return;  // we cannot tell which keys are ours yet
  std::vector<KeyValue> owned;
  for (const auto& [key, value] : store_) {
    if (space_.in_half_open(key, predecessor_->id, self_.id)) owned.push_back({key, value});
  }
  if (owned.empty()) return;
  for (const NodeRef& replica : replica_targets()) send(replica, StoreKeys{owned});
}

void ChordNode::store(std::vector<KeyValue> items) {
  for (auto& item : items) store_.insert_or_assign(item.key, std::move(item.value));
}

std::size_t ChordNode::memory_bytes() const {
  std::size_t bytes = sizeof(*this);
  bytes += fingers_.capacity() * sizeof(fingers_[0]) + successors_.capacity() * sizeof(NodeRef);
  constexpr std::size_t kMapNode = 4 * sizeof(void*);  // red-black tree node overhead
  for (const auto& [key, value] : store_) bytes += kMapNode + sizeof(key) + sizeof(value) + value.capacity();
  for (const auto& [id, op] : operations_) {
    bytes += kMapNode + sizeof(id) + sizeof(op) + (op.path.capacity() + op.targets.capacity()) * sizeof(NodeRef);
  }
  bytes += probes_.size() * (kMapNode + sizeof(RequestId) + sizeof(Probe));
  return bytes;
}

}  // namespace homestead::dht
