// Seeded topologies and random runs for the token-network simulation tests.
#pragma once

#include <cstdint>
#include <string>

#include "cloud/snapshot/token_network.h"
#include "common/sim/rng.h"

namespace homestead::snapshot::testing {

enum class Shape { ring, bidirectional_ring, mesh, directed_graph };
const char* to_string(Shape shape);

// `nodes` nodes named p1..pN (so string order differs from numeric order past 9), each with
// 0..9 tokens. directed_graph is a directed ring plus random extra links: strongly
// connected, so a snapshot from any node reaches everyone.
Topology make_topology(Shape shape, std::size_t nodes, sim::Rng& rng);

enum class SnapshotPlan { single, sequential, concurrent };
const char* to_string(SnapshotPlan plan);

struct RunPlan {
  std::size_t sends = 10;      // application sends (random node, random link, random amount)
  std::size_t snapshots = 1;   // how many snapshots
  SnapshotPlan plan = SnapshotPlan::single;
};

// Drives `network` with random sends and ticks, starting snapshots as planned:
// single: one at a random moment; sequential: each starts after the previous completed;
// concurrent: all start within a few ticks of each other, from different initiators where
// possible. Then runs until every snapshot is complete and every message delivered.
void run_random(TokenNetwork& network, const RunPlan& plan, sim::Rng& rng);

}  // namespace homestead::snapshot::testing
