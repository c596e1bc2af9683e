#include "cloud/dht/sim_ring.h"

#include <algorithm>
#include <stdexcept>

namespace homestead::dht {

// One simulated machine: its ring positions, ticked together on one timer.
class SimRing::Host : public sim::Process<SimMessage> {
 public:
  Host(SimRing* ring, HostId id, const std::vector<Id>& positions) : ring_(ring), id_(id) {
    for (Id position : positions) nodes_.emplace(position, ChordNode(ring->options_.chord, NodeRef{position, id}));
  }
  ~Host() override {
    if (ring_->hosts_.at(id_) == this) ring_->hosts_.at(id_) = nullptr;
  }

  void start(sim::Context<SimMessage>& ctx) override {
    // Spread the hosts' ticks over the period so stabilization is not in lock step.
    ctx.set_timer(ctx.rng().uniform(1, ring_->options_.tick_interval));
  }

  void receive(sim::Context<SimMessage>& ctx, sim::NodeId, const SimMessage& message) override {
    if (const auto* envelope = std::get_if<Envelope>(&message)) {
      const auto it = nodes_.find(envelope->to.id);
      if (it == nodes_.end()) return;  // that position has left
      it->second.step(*envelope);
      flush(ctx, it->second);
      return;
    }
    const auto& command = std::get<HarnessCommand>(message);
    const auto it = nodes_.find(command.target);
    if (it == nodes_.end()) return;
    const RequestId request = command.apply(it->second);
    if (command.ticket != 0) ring_->ticket_of_[{command.target, request}] = command.ticket;
    flush(ctx, it->second);
  }

  void timer(sim::Context<SimMessage>& ctx, sim::TimerId, std::uint64_t) override {
    for (auto& [position, node] : nodes_) {
      node.tick(ring_->maintenance_);
      flush(ctx, node);
    }
    ctx.set_timer(ring_->options_.tick_interval);
  }

  ChordNode* find(Id position) {
    const auto it = nodes_.find(position);
    return it == nodes_.end() ? nullptr : &it->second;
  }

 private:
  void flush(sim::Context<SimMessage>& ctx, ChordNode& node) {
    Ready ready = node.take_ready();
    for (auto& result : ready.completed) ring_->record(node.self().id, std::move(result));
    for (auto& envelope : ready.messages) {
      const HostId to = envelope.to.host;
      ctx.send(to, SimMessage{std::move(envelope)});
    }
  }

  SimRing* ring_;
  HostId id_;
  std::map<Id, ChordNode> nodes_;
};

SimRing::SimRing(SimRingOptions options)
    : options_(options), space_(options.chord.bits), sim_(std::make_unique<sim::Simulator<SimMessage>>(options.seed)) {
  sim_->set_default_link(options_.link);
}

SimRing::~SimRing() { sim_.reset(); }

HostId SimRing::add_host(const std::vector<Id>& positions) {
  for (Id position : positions) {
    if (!space_.contains(position)) throw std::invalid_argument("node id " + std::to_string(position) + " outside the ring");
    if (host_of_.count(position)) throw std::invalid_argument("node id " + std::to_string(position) + " already used");
  }
  const HostId id = static_cast<HostId>(sim_->size());
  for (Id position : positions) host_of_[position] = id;
  hosts_.push_back(nullptr);
  sim_->add_node([this, positions](sim::NodeId node) {
    auto host = std::make_unique<Host>(this, node, positions);
    hosts_.at(node) = host.get();
    return host;
  });
  return id;
}

ChordNode* SimRing::find_node(Id position) const {
  const auto it = host_of_.find(position);
  if (it == host_of_.end()) return nullptr;
  Host* host = hosts_.at(it->second);
  return host ? host->find(position) : nullptr;
}

const ChordNode& SimRing::node(Id position) const {
  const ChordNode* found = find_node(position);
  if (!found) throw std::out_of_range("no live ring position " + std::to_string(position));
  return *found;
}

bool SimRing::is_live(Id position) const {
  const ChordNode* found = find_node(position);
  return found && found->joined();
}

std::vector<NodeRef> SimRing::live_positions() const {
  std::vector<NodeRef> live;
  for (const auto& [position, host] : host_of_) {
    if (is_live(position)) live.push_back(NodeRef{position, host});
  }
  return live;  // host_of_ is ordered by id
}

void SimRing::command(Id position, std::function<RequestId(ChordNode&)> apply, Ticket ticket) {
  if (!host_of_.count(position)) throw std::invalid_argument("no ring position " + std::to_string(position));
  sim_->inject(host_of_.at(position), SimMessage{HarnessCommand{position, ticket, std::move(apply)}});
}

bool SimRing::build_by_joining(const std::vector<Id>& positions, sim::Time budget) {
  if (positions.empty()) throw std::invalid_argument("nodes: need at least one node id");
  add_host({positions.front()});
  command(positions.front(), [](ChordNode& n) { n.create(); return RequestId{0}; });
  sim_->run_for(sim::kMillisecond);
  for (std::size_t i = 1; i < positions.size(); ++i) {
    join(positions[i], positions.front());
    // Let each join find its successor before the next starts, as nodes arriving one by one.
    sim_->run_until([&] { return is_live(positions[i]); }, sim_->now() + budget);
  }
  return run_until_converged(budget);
}

void SimRing::install_converged(const std::vector<std::vector<Id>>& hosts) {
  for (const auto& positions : hosts) add_host(positions);
  std::vector<NodeRef> all;
  for (const auto& [position, host] : host_of_) all.push_back(NodeRef{position, host});
  for (const NodeRef& ref : all) {
    ChordNode* node = find_node(ref.id);
    if (!node) continue;
    const auto at = std::lower_bound(all.begin(), all.end(), ref.id, [](const NodeRef& a, Id id) { return a.id < id; });
    const std::size_t index = static_cast<std::size_t>(at - all.begin());
    std::optional<NodeRef> predecessor;
    std::vector<NodeRef> successors;
    if (all.size() > 1) {
      predecessor = all[(index + all.size() - 1) % all.size()];
      for (std::size_t k = 1; k < all.size() && successors.size() < options_.chord.successor_list_length; ++k) {
        successors.push_back(all[(index + k) % all.size()]);
      }
    }
    std::vector<NodeRef> fingers;
    for (unsigned i = 0; i < space_.bits(); ++i) fingers.push_back(successor_in(all, space_.finger_start(ref.id, i)));
    node->install(predecessor, std::move(successors), fingers);
  }
}

HostId SimRing::join(Id position, Id via) {
  const HostId host = add_host({position});
  const NodeRef bootstrap{via, host_of_.at(via)};
  command(position, [bootstrap](ChordNode& n) { n.join(bootstrap); return RequestId{0}; });
  return host;
}

void SimRing::leave(Id position) {
  command(position, [](ChordNode& n) { n.leave(); return RequestId{0}; });
  // From now on the position is not a member: the oracle leaves it out at once, and the
  // left core stays inert on its host (it ignores every message).
  host_of_.erase(position);
}

void SimRing::fail_host(HostId host) { sim_->crash(host); }

bool SimRing::converged() const {
  // Every position on a running host must have joined (a join still in progress is not stable).
  for (const auto& [position, host] : host_of_) {
    if (sim_->is_up(host) && !is_live(position)) return false;
  }
  const std::vector<NodeRef> live = live_positions();
  for (const NodeRef& ref : live) {
    const ChordNode& n = node(ref.id);
    if (live.size() > 1 && n.predecessor() != ideal_predecessor_in(live, ref.id)) return false;
    const std::vector<NodeRef> expected = ideal_successor_list_in(live, ref.id, options_.chord.successor_list_length);
    if (n.successors() != (expected.empty() ? std::vector<NodeRef>{ref} : expected)) return false;
    for (unsigned i = 0; i < space_.bits(); ++i) {
      if (n.fingers()[i] != successor_in(live, space_.finger_start(ref.id, i))) return false;
    }
  }
  return true;
}

bool SimRing::run_until_converged(sim::Time budget) {
  // Checking the whole ring after every event is quadratic; check once per tick instead.
  const sim::Time deadline = sim_->now() + budget;
  while (sim_->now() < deadline) {
    if (converged()) return true;
    sim_->run_for(std::min(options_.tick_interval, deadline - sim_->now()));
  }
  return converged();
}

SimRing::Ticket SimRing::start(Id from, std::function<RequestId(ChordNode&)> request) {
  const Ticket ticket = ++ticket_seq_;
  command(from, std::move(request), ticket);
  return ticket;
}
SimRing::Ticket SimRing::start_lookup(Id from, Id key) {
  return start(from, [key](ChordNode& n) { return n.lookup(key); });
}
SimRing::Ticket SimRing::start_get(Id from, Id key) {
  return start(from, [key](ChordNode& n) { return n.get(key); });
}
SimRing::Ticket SimRing::start_put(Id from, Id key, std::string value) {
  return start(from, [key, value](ChordNode& n) { return n.put(key, value); });
}

void SimRing::record(Id position, OperationResult result) {
  const auto it = ticket_of_.find({position, result.request});
  if (it == ticket_of_.end()) return;
  results_[it->second] = std::move(result);
  ticket_of_.erase(it);
}

const OperationResult* SimRing::result(const Ticket& ticket) const {
  const auto it = results_.find(ticket);
  return it == results_.end() ? nullptr : &it->second;
}

bool SimRing::wait_all(const std::vector<Ticket>& tickets, sim::Time budget) {
  std::size_t done = 0;  // tickets finish in any order; count from the front of the unfinished
  return sim_->run_until(
      [&] {
        while (done < tickets.size() && results_.count(tickets[done])) ++done;
        return done == tickets.size();
      },
      sim_->now() + budget);
}

OperationResult SimRing::lookup(Id from, Id key, sim::Time budget) {
  const Ticket ticket = start_lookup(from, key);
  if (!wait_all({ticket}, budget)) throw std::runtime_error("lookup of " + std::to_string(key) + " did not finish");
  return *result(ticket);
}

NodeRef successor_in(const std::vector<NodeRef>& sorted, Id key) {
  if (sorted.empty()) throw std::logic_error("successor on an empty ring");
  const auto it = std::lower_bound(sorted.begin(), sorted.end(), key, [](const NodeRef& a, Id id) { return a.id < id; });
  return it == sorted.end() ? sorted.front() : *it;
}

NodeRef SimRing::ideal_successor(Id key) const { return successor_in(live_positions(), key); }

std::optional<NodeRef> ideal_predecessor_in(const std::vector<NodeRef>& live, Id position) {
  if (live.size() < 2) return std::nullopt;
  const auto it = std::lower_bound(live.begin(), live.end(), position, [](const NodeRef& a, Id id) { return a.id < id; });
  return it == live.begin() ? live.back() : *(it - 1);
}

std::vector<NodeRef> ideal_successor_list_in(const std::vector<NodeRef>& live, Id position, std::size_t length) {
  std::vector<NodeRef> list;
  const auto it = std::upper_bound(live.begin(), live.end(), position, [](Id id, const NodeRef& a) { return id < a.id; });
  const std::size_t index = static_cast<std::size_t>(it - live.begin());
  for (std::size_t k = 0; k < live.size() && list.size() < length; ++k) {
    const NodeRef& next = live[(index + k) % live.size()];
    if (next.id == position) break;
    list.push_back(next);
  }
  return list;
}

std::optional<NodeRef> SimRing::ideal_predecessor(Id position) const {
  return ideal_predecessor_in(live_positions(), position);
}

std::vector<NodeRef> SimRing::ideal_successor_list(Id position) const {
  return ideal_successor_list_in(live_positions(), position, options_.chord.successor_list_length);
}

std::vector<NodeRef> SimRing::ideal_fingers(Id position) const {
  const std::vector<NodeRef> live = live_positions();
  std::vector<NodeRef> fingers;
  for (unsigned i = 0; i < space_.bits(); ++i) fingers.push_back(successor_in(live, space_.finger_start(position, i)));
  return fingers;
}

}  // namespace homestead::dht
