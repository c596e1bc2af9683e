// Lookups of a ChordNode: the routing decision, iterative and recursive find_successor,
// and the get/put phases that follow a lookup (owner first, then its replicas).
#include <algorithm>

#include "cloud/dht/chord_node.h"

namespace homestead::dht {

ChordNode::Decision ChordNode::route(Id key) const {
  const NodeRef successor = this->successor();
  if (successor == self_) return {true, self_, {}};
  if (predecessor_ && space_.in_half_open(key, predecessor_->id, self_.id)) return {true, self_, successors_};
  if (space_.in_half_open(key, self_.id, successor.id)) {
    return {true, successor, std::vector<NodeRef>(successors_.begin() + 1, successors_.end())};
  }
  // closest_preceding_node: highest finger in (self, key); then the others and the
  // successor list, closest to the key first, as fallbacks.
  std::vector<NodeRef> candidates;
  const auto consider = [&](const NodeRef& node) {
    if (space_.in_open(node.id, self_.id, key) && std::find(candidates.begin(), candidates.end(), node) == candidates.end()) {
      candidates.push_back(node);
    }
  };
  for (auto it = fingers_.rbegin(); it != fingers_.rend(); ++it) {
    if (*it) consider(**it);
  }
  for (auto it = successors_.rbegin(); it != successors_.rend(); ++it) consider(*it);
  // Fingers are visited top-down, successors afterwards; order all fallbacks by closeness.
  std::stable_sort(candidates.begin() + (candidates.empty() ? 0 : 1), candidates.end(),
                   [&](const NodeRef& a, const NodeRef& b) {
                     return space_.distance(a.id, key) < space_.distance(b.id, key);
                   });
  if (candidates.empty()) candidates.push_back(successor);
  // Last resort, used only when every node before the key is silent: our successors past
  // the key. The first live one of them owns the key if the nodes in between have failed.
  std::size_t keep = std::min<std::size_t>(candidates.size(), config_.successor_list_length + 1);
  candidates.resize(keep);
  for (const NodeRef& node : successors_) {
    if (std::find(candidates.begin(), candidates.end(), node) == candidates.end()) candidates.push_back(node);
  }
  keep = candidates.size();
  return {false, candidates.front(), std::vector<NodeRef>(candidates.begin() + 1, candidates.begin() + keep)};
}

RequestId ChordNode::lookup(Id key) {
  Operation op;
  op.kind = OperationKind::lookup;
  op.key = space_.wrap(key);
  return start(std::move(op));
}

RequestId ChordNode::get(Id key) {
  Operation op;
  op.kind = OperationKind::get;
  op.key = space_.wrap(key);
  return start(std::move(op));
}

RequestId ChordNode::put(Id key, std::string value) {
  Operation op;
  op.kind = OperationKind::put;
  op.key = space_.wrap(key);
  op.value = std::move(value);
  return start(std::move(op));
}

RequestId ChordNode::start(Operation operation) {
  const RequestId id = next_request_id();
  operation.path = {self_};
  operations_.emplace(id, std::move(operation));
  if (!joined_) {
    complete(id, false, "not a ring member");
    return id;
  }
  Decision decision = route(operations_.at(id).key);
  if (decision.done || config_.lookup_mode == LookupMode::iterative) {
    apply_decision(id, self_, std::move(decision));
    return id;
  }
  Operation& op = operations_.at(id);
  op.waiting_on = decision.node;
  // The whole forwarded chain must answer within this many ticks.
  op.deadline = tick_ + config_.request_timeout_ticks * 3;
  send(decision.node, FindSuccessor{id, op.key, self_, {self_}});
  return id;
}

void ChordNode::apply_decision(RequestId id, const NodeRef& responder, Decision decision) {
  Operation& op = operations_.at(id);
  if (decision.done) {
    if (decision.node != responder) op.path.push_back(decision.node);
    finish_routing(id, decision.node, std::move(decision.alternatives));
    return;
  }
  op.targets = {decision.node};
  op.targets.insert(op.targets.end(), decision.alternatives.begin(), decision.alternatives.end());
  ask_next(id);
}

// Iterative: asks the best remaining candidate of the last node that answered.
void ChordNode::ask_next(RequestId id) {
  Operation& op = operations_.at(id);
  if (op.targets.empty()) return complete(id, false, "no live route to the key");
  if (op.path.size() > max_hops()) return complete(id, false, "too many hops");
  const NodeRef next = op.targets.front();
  op.targets.erase(op.targets.begin());
  op.waiting_on = next;
  op.deadline = tick_ + config_.request_timeout_ticks;
  send(next, NextHopRequest{id, op.key});
}

void ChordNode::on_next_hop_request(const Envelope& e, const NextHopRequest& m) {
  if (!joined_) return;  // a leaving or joining node stays silent; the asker falls back
  Decision decision = route(m.key);
  send(e.from, NextHopReply{m.request, m.key, decision.done, decision.node, std::move(decision.alternatives)});
}

void ChordNode::on_next_hop_reply(const Envelope& e, const NextHopReply& m) {
  const auto it = operations_.find(m.request);
  if (it == operations_.end() || it->second.phase != Phase::routing || it->second.waiting_on != e.from) return;
  it->second.waiting_on.reset();
  it->second.path.push_back(e.from);
  apply_decision(m.request, e.from, Decision{m.done, m.node, m.alternatives});
}

void ChordNode::on_find_successor(const FindSuccessor& m) {
  if (!joined_) return;
  std::vector<NodeRef> path = m.path;
  path.push_back(self_);
  Decision decision = route(m.key);
  if (decision.done) {
    if (decision.node != self_) path.push_back(decision.node);
    send(m.origin, FoundSuccessor{m.request, m.key, decision.node, std::move(path), std::move(decision.alternatives)});
  } else if (path.size() <= max_hops()) {
    send(decision.node, FindSuccessor{m.request, m.key, m.origin, std::move(path)});
  }
}

void ChordNode::on_found_successor(const FoundSuccessor& m) {
  const auto it = operations_.find(m.request);
  if (it == operations_.end() || it->second.phase != Phase::routing) return;
  it->second.path = m.path;
  finish_routing(m.request, m.owner, m.replicas);
}

void ChordNode::finish_routing(RequestId id, const NodeRef& owner, std::vector<NodeRef> replicas) {
  Operation& op = operations_.at(id);
  op.owner = owner;
  op.waiting_on.reset();
  switch (op.purpose) {
    case Purpose::fix_finger:
      if (joined_) fingers_[op.finger] = owner;
      operations_.erase(id);
      return;
    case Purpose::join:
      if (owner.id == self_.id) {
        operations_.erase(id);
        return;  // identifier already taken: stay out (the caller sees joined() == false)
      }
      joined_ = true;
      predecessor_.reset();
      successors_.clear();
      adopt_successors([&] {
        std::vector<NodeRef> list{owner};
        list.insert(list.end(), replicas.begin(), replicas.end());
        return list;
      }());
      operations_.erase(id);
      return;
    case Purpose::client:
      break;
  }
  if (op.kind == OperationKind::lookup) return complete(id, true);
  op.targets = {owner};
  op.targets.insert(op.targets.end(), replicas.begin(), replicas.end());
  op.phase = op.kind == OperationKind::put ? Phase::storing : Phase::fetching;
  contact_next_target(id);
}

// get/put: the owner first; if it is silent (or, for get, lacks the key) its replicas.
void ChordNode::contact_next_target(RequestId id) {
  Operation& op = operations_.at(id);
  if (op.targets.empty()) {
    return complete(id, false, op.kind == OperationKind::get ? "key not found" : "no replica answered");
  }
  const NodeRef next = op.targets.front();
  op.targets.erase(op.targets.begin());
  op.waiting_on = next;
  op.deadline = tick_ + config_.request_timeout_ticks;
  if (op.kind == OperationKind::put) {
    send(next, Put{id, {op.key, op.value}});
  } else {
    send(next, Fetch{id, op.key});
  }
}

void ChordNode::on_put_ack(const Envelope& e, const PutAck& m) {
  const auto it = operations_.find(m.request);
  if (it == operations_.end() || it->second.phase != Phase::storing || it->second.waiting_on != e.from) return;
  it->second.owner = e.from;
  complete(m.request, true);
}

void ChordNode::on_fetch_reply(const Envelope& e, const FetchReply& m) {
  const auto it = operations_.find(m.request);
  if (it == operations_.end() || it->second.phase != Phase::fetching || it->second.waiting_on != e.from) return;
  if (!m.value) return contact_next_target(m.request);
  it->second.value = *m.value;
  complete(m.request, true);
}

void ChordNode::on_timeout(RequestId id) {
  const auto it = operations_.find(id);
  if (it == operations_.end()) return;
  Operation& op = it->second;
  ++op.timeouts;
  if (op.phase == Phase::routing && config_.lookup_mode == LookupMode::recursive && op.purpose != Purpose::join) {
    return complete(id, false, "recursive lookup timed out");
  }
  if (op.waiting_on) forget(*op.waiting_on);
  op.waiting_on.reset();
  if (op.phase == Phase::routing) return ask_next(id);
  contact_next_target(id);
}

void ChordNode::complete(RequestId id, bool ok, std::string error) {
  const auto it = operations_.find(id);
  if (it == operations_.end()) return;
  Operation op = std::move(it->second);
  operations_.erase(it);
  if (op.purpose != Purpose::client) return;  // internal lookups (fingers, join) just end
  std::optional<std::string> value;
  if (op.kind == OperationKind::get && ok) value = std::move(op.value);
  ready_.completed.push_back(
      OperationResult{id, op.kind, op.key, ok, op.owner, std::move(op.path), op.timeouts, std::move(value),
                      std::move(error)});
}

}  // namespace homestead::dht
