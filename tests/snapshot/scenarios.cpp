#include "tests/snapshot/scenarios.h"

#include <vector>

namespace homestead::snapshot::testing {
namespace {

std::string name(std::size_t i) { return "p" + std::to_string(i + 1); }

template <class T>
const T& pick(const std::vector<T>& items, sim::Rng& rng) {
  return items.at(static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(items.size()) - 1)));
}

// One random send from a node that holds tokens and has a link; false if nobody can.
bool random_send(TokenNetwork& network, sim::Rng& rng) {
  std::vector<ProcessId> able;
  for (const auto& node : network.topology().nodes()) {
    if (network.tokens(node) > 0 && !network.topology().outgoing(node).empty()) able.push_back(node);
  }
  if (able.empty()) return false;
  const ProcessId from = pick(able, rng);
  const ProcessId to = pick(network.topology().outgoing(from), rng);
  network.send_tokens(from, to, rng.uniform(1, std::min<std::int64_t>(network.tokens(from), 5)));
  return true;
}

void drain(TokenNetwork& network) {
  network.run_until_snapshots_complete();
  while (network.messages_in_flight() > 0) network.tick();
}

}  // namespace

const char* to_string(Shape shape) {
  switch (shape) {
    case Shape::ring: return "ring";
    case Shape::bidirectional_ring: return "bidirectional_ring";
    case Shape::mesh: return "mesh";
    case Shape::directed_graph: return "directed_graph";
  }
  return "?";
}

const char* to_string(SnapshotPlan plan) {
  switch (plan) {
    case SnapshotPlan::single: return "single";
    case SnapshotPlan::sequential: return "sequential";
    case SnapshotPlan::concurrent: return "concurrent";
  }
  return "?";
}

Topology make_topology(Shape shape, std::size_t nodes, sim::Rng& rng) {
  Topology topology;
  for (std::size_t i = 0; i < nodes; ++i) topology.initial_tokens[name(i)] = rng.uniform(0, 9);
  topology.initial_tokens[name(0)] += 5;  // something to move even when the draws are all 0
  for (std::size_t i = 0; i < nodes; ++i) {
    const std::size_t next = (i + 1) % nodes;
    switch (shape) {
      case Shape::ring:
      case Shape::directed_graph:
        topology.links.emplace(name(i), name(next));
        break;
      case Shape::bidirectional_ring:
        topology.links.emplace(name(i), name(next));
        topology.links.emplace(name(next), name(i));
        break;
      case Shape::mesh:
        for (std::size_t j = 0; j < nodes; ++j) {
          if (j != i) topology.links.emplace(name(i), name(j));
        }
        break;
    }
  }
  if (shape == Shape::directed_graph) {
    for (std::size_t extra = 0; extra < nodes; ++extra) {
      const auto from = static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(nodes) - 1));
      const auto to = static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(nodes) - 1));
      if (from != to) topology.links.emplace(name(from), name(to));
    }
  }
  return topology;
}

void run_random(TokenNetwork& network, const RunPlan& plan, sim::Rng& rng) {
  const auto nodes = network.topology().nodes();
  std::size_t sends_left = plan.sends;
  std::size_t snapshots_left = plan.snapshots;
  // single / concurrent: the step at which (the first) snapshot starts.
  std::size_t start_at = static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(plan.sends)));
  std::size_t next_initiator = static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(nodes.size()) - 1));
  for (std::size_t step = 0; sends_left > 0 || snapshots_left > 0; ++step) {
    const bool time_to_snapshot =
        snapshots_left > 0 &&
        (plan.plan == SnapshotPlan::sequential ? (network.all_snapshots_complete() && rng.chance(0.3))
                                               : step >= start_at);
    if (time_to_snapshot) {
      network.start_snapshot(nodes[next_initiator % nodes.size()]);
      ++next_initiator;
      --snapshots_left;
      // concurrent: the next one starts 0..2 steps later, so they overlap.
      if (plan.plan == SnapshotPlan::concurrent) start_at = step + static_cast<std::size_t>(rng.uniform(0, 2));
      if (plan.plan == SnapshotPlan::single || rng.chance(0.5)) continue;  // same instant as the next action
    }
    if (sends_left > 0 && rng.chance(0.6)) {
      if (random_send(network, rng)) --sends_left;
      if (rng.chance(0.5)) continue;  // several sends at the same time
    }
    const auto ticks = rng.uniform(1, 2);
    for (std::int64_t t = 0; t < ticks; ++t) network.tick();
  }
  drain(network);
}

}  // namespace homestead::snapshot::testing
