// The Chord paper's simulation experiments (SIGCOMM 2001, section 6), run on SimRing:
// path length vs N, load balance with and without virtual nodes, lookups after
// simultaneous failures (before and after stabilization), and lookups under churn.
// Every experiment is a pure function of its parameters and seed.
#pragma once

#include <cstdint>
#include <vector>

#include "cloud/dht/chord_node.h"
#include "common/sim/rng.h"

namespace homestead::dht {

// Unique ring positions: the first m bits of SHA-1("<label>/<seed>/<i>"), skipping repeats.
std::vector<Id> hashed_ids(const IdSpace& space, const std::string& label, std::uint64_t seed, std::size_t count);

// ---- path length (paper figure 10) ----
struct PathLengthParams {
  std::uint64_t seed = 1;
  unsigned bits = 32;
  unsigned min_log2_nodes = 3;
  unsigned max_log2_nodes = 14;
  std::size_t lookups = 2000;  // per N, random keys from random nodes
  LookupMode mode = LookupMode::iterative;
};
struct PathLengthRow {
  std::size_t nodes = 0;
  std::size_t lookups = 0;
  std::size_t failed = 0;
  double mean = 0;       // hops = nodes visited after the asker, the owner included
  double p1 = 0, p99 = 0;
  // The paper's count: nodes contacted until the owner's predecessor answers, i.e. hops
  // without the last one to the owner (that node is named, not asked); 0 when the asker owns the key.
  double paper_mean = 0;
  double half_log2 = 0;  // the paper's 1/2 log2 N
};
std::vector<PathLengthRow> path_length_experiment(const PathLengthParams& params);

// ---- load balance (paper figures 8 and 9) ----
struct LoadParams {
  std::uint64_t seed = 1;
  unsigned bits = 32;
  std::size_t hosts = 10000;
  std::size_t keys = 1000000;
  std::vector<unsigned> virtual_nodes = {1, 2, 5, 10, 20};
};
struct LoadRow {
  unsigned virtual_nodes = 0;
  double mean = 0, p1 = 0, p99 = 0, max = 0;  // keys per physical host
};
std::vector<LoadRow> load_experiment(const LoadParams& params);
// Keys per host for the given hosts' positions, keys drawn uniformly from the ring.
std::vector<std::size_t> keys_per_host(const IdSpace& space, const std::vector<std::vector<Id>>& hosts,
                                       std::size_t keys, sim::Rng& rng);

// ---- simultaneous failures (paper figure 9 / section 6.4) ----
struct FailureParams {
  std::uint64_t seed = 1;
  unsigned bits = 32;
  std::size_t nodes = 1000;
  std::size_t successor_list_length = 0;  // 0: 2 log2 N, as the paper suggests
  std::size_t replication_factor = 3;
  std::vector<double> fractions = {0.1, 0.2, 0.3, 0.4, 0.5};
  std::size_t keys = 1000;
  std::size_t lookups = 1000;
};
struct FailureRow {
  double fraction = 0;
  std::size_t failed_nodes = 0;
  double lookup_fail_before = 0;  // owner found is a failed node (or no answer): ~p, as in the paper
  // Share of those lookups whose key's owner before the failure is among the failed nodes:
  // the exact "p" of this placement (the key space a failed node owned varies around p).
  double dead_owner_share = 0;
  double get_fail_before = 0;     // value not served even from a replica
  double lookup_fail_after = 0;   // after stabilization: owner is not the live successor
  double stabilize_seconds = 0;   // virtual time until every pointer is exact again
  bool converged = false;
  std::size_t keys = 0;
  std::size_t keys_all_replicas_failed = 0;  // expected losses (owner and replicas all died)
  std::size_t keys_lost = 0;                 // keys no get could find after stabilization
  std::size_t keys_lost_with_a_live_replica = 0;  // must be 0
  double mean_timeouts_before = 0;
};
std::vector<FailureRow> failure_experiment(const FailureParams& params);

// ---- churn (paper figure 10 / section 6.5) ----
struct ChurnParams {
  std::uint64_t seed = 1;
  unsigned bits = 32;
  std::size_t nodes = 500;
  std::vector<double> rates = {0.05, 0.1, 0.2, 0.4};  // membership changes per second (joins = failures)
  double duration_seconds = 300;
  double lookups_per_second = 5;
  std::size_t keys = 500;
  std::size_t replication_factor = 3;
  double graceful_fraction = 0.0;  // of departures: leave() instead of a crash
};
struct ChurnRow {
  double rate = 0;
  std::size_t joins = 0, departures = 0;
  std::size_t lookups = 0;
  double lookup_fail = 0;    // gets that did not return the stored value during churn
  std::size_t keys = 0;
  std::size_t keys_lost = 0;  // after churn stops and the ring stabilizes
  bool converged = false;
};
std::vector<ChurnRow> churn_experiment(const ChurnParams& params);

double percentile(std::vector<double> values, double fraction);

}  // namespace homestead::dht
