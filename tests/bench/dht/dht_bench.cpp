// Chord benchmark: lookups per second on a 1,000-node simulated ring (wall clock, the
// whole simulator included), per-node memory of the core, and the path-length table
// against the paper's 1/2 log2 N.
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <string>

#include "cloud/dht/experiment_report.h"
#include "cloud/dht/experiments.h"
#include "cloud/dht/sim_ring.h"

using namespace homestead::dht;
namespace sim = homestead::sim;

int main(int argc, char** argv) {
  std::size_t nodes = 1000, lookups = 200000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") {
      std::cout << "Usage: dht_bench [--nodes N] [--lookups L]\n"
                   "Lookups/s on an N-node simulated Chord ring, bytes per node, path length vs 1/2 log2 N.\n";
      return 0;
    }
    if ((arg == "--nodes" || arg == "--lookups") && i + 1 < argc) {
      (arg == "--nodes" ? nodes : lookups) = std::stoul(argv[++i]);
    } else {
      std::cerr << "dht_bench: unknown argument '" << arg << "' (see --help)\n";
      return 2;
    }
  }
  SimRingOptions options;
  options.chord.bits = 32;
  options.chord.successor_list_length = 20;
  SimRing ring(options);
  std::vector<std::vector<Id>> hosts;
  for (Id id : hashed_ids(ring.space(), "node", 1, nodes)) hosts.push_back({id});
  ring.install_converged(hosts);
  const std::vector<NodeRef> live = ring.live_positions();
  sim::Rng rng(42);
  ring.run_for(sim::kSecond);  // warm up: stabilization traffic in the background

  const auto begin = std::chrono::steady_clock::now();
  std::vector<SimRing::Ticket> tickets;
  tickets.reserve(lookups);
  for (std::size_t i = 0; i < lookups; ++i) {
    const auto from = live[static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(live.size()) - 1))];
    tickets.push_back(ring.start_lookup(from.id, ring.space().wrap(rng.next())));
  }
  const bool all = ring.wait_all(tickets, 3600 * sim::kSecond);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  double hops = 0;
  std::size_t ok = 0;
  for (auto t : tickets) {
    const OperationResult* r = ring.result(t);
    if (r && r->ok) ++ok, hops += static_cast<double>(r->path.size() - 1);
  }
  std::size_t bytes = 0;
  for (const NodeRef& n : live) bytes += ring.node(n.id).memory_bytes();
  std::cout << std::fixed << std::setprecision(0) << "== dht bench: " << nodes << "-node simulated ring, m = 32, r = 20 ==\n"
            << "lookups/s (simulated, wall clock): " << static_cast<double>(lookups) / seconds << "  (" << lookups
            << " lookups in " << std::setprecision(2) << seconds << " s, " << ok << " ok" << (all ? "" : ", some unfinished")
            << ", mean hops " << hops / static_cast<double>(ok) << ")\n"
            << "per-node memory of the core: " << std::setprecision(0) << static_cast<double>(bytes) / static_cast<double>(live.size())
            << " bytes (fingers m=32, successor list 20, no keys)\n"
            << "peer: the Chord paper reports hops, not lookups/s; path length vs its 1/2 log2 N below\n\n";
  ExperimentOptions experiment;
  run_experiment("path", experiment, std::cout);
  return 0;
}
