#include "cloud/snapshot/token_network.h"

#include <stdexcept>

namespace homestead::snapshot {

SeededDelays::SeededDelays(std::uint64_t seed, std::uint64_t max_delay) : rng_(seed), max_delay_(max_delay) {}

std::uint64_t SeededDelays::next() {
  return static_cast<std::uint64_t>(rng_.uniform(0, static_cast<std::int64_t>(max_delay_)));
}

ListedDelays::ListedDelays(std::vector<std::uint64_t> delays, std::string file_name)
    : delays_(std::move(delays)), file_name_(std::move(file_name)) {}

std::uint64_t ListedDelays::next() {
  if (used_ >= delays_.size()) {
    throw InputError(file_name_, 0,
                     "ran out of delays: message " + std::to_string(used_ + 1) + " needs one but the file holds " +
                         std::to_string(delays_.size()));
  }
  return delays_[used_++];
}

TokenNetwork::TokenNetwork(const Topology& topology, std::unique_ptr<DelaySource> delays)
    : topology_(topology), delays_(std::move(delays)) {
  for (const auto& [id, tokens] : topology_.initial_tokens) {
    Node node;
    node.tokens = tokens;
    for (const auto& dst : topology_.outgoing(id)) node.links[dst];
    node.participant = std::make_unique<TokenParticipant>(id, topology_.incoming(id), topology_.outgoing(id));
    nodes_.emplace(id, std::move(node));
  }
}

std::int64_t TokenNetwork::total_tokens() const {
  std::int64_t total = 0;
  for (const auto& [id, node] : nodes_) {
    total += node.tokens;
    for (const auto& [dst, queue] : node.links) {
      for (const auto& message : queue) total += message.marker ? 0 : message.transfer.tokens;
    }
  }
  return total;
}

std::map<std::pair<ProcessId, ProcessId>, std::vector<TokenTransfer>> TokenNetwork::tokens_in_flight() const {
  std::map<std::pair<ProcessId, ProcessId>, std::vector<TokenTransfer>> in_flight;
  for (const auto& [id, node] : nodes_) {
    for (const auto& [dst, queue] : node.links) {
      auto& messages = in_flight[{id, dst}];
      for (const auto& message : queue) {
        if (!message.marker) messages.push_back(message.transfer);
      }
    }
  }
  return in_flight;
}

std::size_t TokenNetwork::messages_in_flight() const {
  std::size_t count = 0;
  for (const auto& [id, node] : nodes_) {
    for (const auto& [dst, queue] : node.links) count += queue.size();
  }
  return count;
}

void TokenNetwork::enqueue(const ProcessId& from, const ProcessId& to, Message message) {
  message.due = now_ + 1 + static_cast<std::int64_t>(delays_->next());
  nodes_.at(from).links.at(to).push_back(std::move(message));
}

void TokenNetwork::send_tokens(const ProcessId& from, const ProcessId& to, std::int64_t amount) {
  Node& node = nodes_.at(from);
  if (!node.links.count(to)) throw std::logic_error("no link " + from + " -> " + to);
  if (amount <= 0) throw std::logic_error("send of " + std::to_string(amount) + " tokens");
  if (node.tokens < amount) {
    throw std::runtime_error("node " + from + " holds " + std::to_string(node.tokens) + " tokens, cannot send " +
                             std::to_string(amount));
  }
  Message message;
  message.transfer = TokenTransfer{next_transfer_id_++, amount};
  node.tokens -= amount;
  node.history.push_back(AppEvent{AppEvent::Kind::send, to, message.transfer});
  enqueue(from, to, std::move(message));
  if (observer_) observer_(*this);
}

void TokenNetwork::send_markers(const ProcessId& from, const std::vector<MarkerSend>& markers) {
  for (const auto& marker : markers) {  // the core returns them in ascending destination order
    Message message;
    message.marker = true;
    message.snapshot = marker.id;
    enqueue(from, marker.to, std::move(message));
  }
}

SnapshotId TokenNetwork::start_snapshot(const ProcessId& initiator) {
  Node& node = nodes_.at(initiator);
  const SnapshotId id = next_snapshot_++;
  cuts_[id][initiator] = node.history.size();
  send_markers(initiator, node.participant->initiate(id, node.tokens));
  return id;
}

void TokenNetwork::deliver(const ProcessId& from, const ProcessId& to, const Message& message) {
  Node& node = nodes_.at(to);
  if (message.marker) {
    const bool first = !node.participant->recorded(message.snapshot);
    if (first) cuts_[message.snapshot][to] = node.history.size();
    send_markers(to, node.participant->on_marker(message.snapshot, from, node.tokens));
    return;
  }
  node.participant->on_message(from, message.transfer);
  node.tokens += message.transfer.tokens;
  node.history.push_back(AppEvent{AppEvent::Kind::receive, from, message.transfer});
  if (observer_) observer_(*this);
}

void TokenNetwork::tick() {
  ++now_;
  for (auto& [id, node] : nodes_) {
    for (auto& [dst, queue] : node.links) {
      if (queue.empty() || queue.front().due > now_) continue;
      Message message = std::move(queue.front());
      queue.pop_front();
      deliver(id, dst, message);
      break;  // at most one delivery per sending node per tick
    }
  }
}

void TokenNetwork::run_until_snapshots_complete() {
  while (!all_snapshots_complete()) {
    if (messages_in_flight() == 0) {
      throw std::logic_error("snapshots cannot complete: nothing left in flight");
    }
    tick();
  }
}

bool TokenNetwork::snapshot_complete(SnapshotId id) const {
  if (id >= next_snapshot_) return false;
  for (const auto& [node_id, node] : nodes_) {
    if (!node.participant->complete(id)) return false;
  }
  return true;
}

bool TokenNetwork::all_snapshots_complete() const {
  for (SnapshotId id = 0; id < next_snapshot_; ++id) {
    if (!snapshot_complete(id)) return false;
  }
  return true;
}

TokenSnapshot TokenNetwork::snapshot(SnapshotId id) const {
  SnapshotAssembler<std::int64_t, TokenTransfer> assembler(id, topology_.nodes());
  for (const auto& [node_id, node] : nodes_) {
    auto local = node.participant->local(id);
    if (!local) throw std::logic_error("snapshot " + std::to_string(id) + " not complete at " + node_id);
    assembler.add(*local);
  }
  return assembler.result();
}

}  // namespace homestead::snapshot
