#include "cloud/dht/experiments.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <string>

#include "cloud/dht/sim_ring.h"

namespace homestead::dht {
namespace {

std::size_t log2_ceil(std::size_t n) {
  std::size_t bits = 0;
  while ((std::size_t{1} << bits) < n) ++bits;
  return std::max<std::size_t>(bits, 1);
}

Id random_id(const IdSpace& space, sim::Rng& rng) { return space.wrap(rng.next()); }

template <class T>
const T& pick(const std::vector<T>& items, sim::Rng& rng) {
  return items.at(static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(items.size()) - 1)));
}

std::vector<std::vector<Id>> one_position_each(const std::vector<Id>& ids) {
  std::vector<std::vector<Id>> hosts;
  for (Id id : ids) hosts.push_back({id});
  return hosts;
}

SimRingOptions experiment_options(std::uint64_t seed, unsigned bits, std::size_t successors, std::size_t replicas) {
  SimRingOptions o;
  o.seed = seed;
  o.chord.bits = bits;
  o.chord.successor_list_length = successors;
  o.chord.replication_factor = replicas;
  o.chord.fingers_per_tick = 4;
  return o;
}

// Stores `count` random keys through the protocol; returns key -> value.
std::map<Id, std::string> put_keys(SimRing& ring, std::size_t count, sim::Rng& rng) {
  std::map<Id, std::string> keys;
  std::vector<SimRing::Ticket> tickets;
  const std::vector<NodeRef> live = ring.live_positions();
  while (keys.size() < count) {
    const Id key = random_id(ring.space(), rng);
    // (append, not "v" + string: g++ 12 -O3 reports a false -Wrestrict on the latter)
    if (!keys.emplace(key, std::string("v").append(std::to_string(key))).second) continue;
    tickets.push_back(ring.start_put(pick(live, rng).id, key, keys.at(key)));
  }
  ring.wait_all(tickets, 60 * sim::kSecond);
  return keys;
}

}  // namespace

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = fraction * static_cast<double>(values.size() - 1);
  return values[static_cast<std::size_t>(std::lround(rank))];
}

std::vector<Id> hashed_ids(const IdSpace& space, const std::string& label, std::uint64_t seed, std::size_t count) {
  if (count > space.size()) throw std::invalid_argument("more nodes than identifiers on the ring");
  std::vector<Id> ids;
  std::set<Id> seen;
  for (std::uint64_t i = 0; ids.size() < count; ++i) {
    const Id id = space.hash(label + "/" + std::to_string(seed) + "/" + std::to_string(i));
    if (seen.insert(id).second) ids.push_back(id);
  }
  return ids;
}

std::vector<PathLengthRow> path_length_experiment(const PathLengthParams& params) {
  std::vector<PathLengthRow> rows;
  for (unsigned k = params.min_log2_nodes; k <= params.max_log2_nodes; ++k) {
    const std::size_t n = std::size_t{1} << k;
    SimRingOptions o = experiment_options(params.seed, params.bits, 2 * log2_ceil(n), 1);
    o.chord.lookup_mode = params.mode;
    SimRing ring(o);
    ring.set_maintenance(false);  // a static, converged ring, as in the paper's experiment
    ring.install_converged(one_position_each(hashed_ids(ring.space(), "node", params.seed, n)));
    sim::Rng rng(params.seed * 1000 + k);
    const std::vector<NodeRef> live = ring.live_positions();
    std::vector<SimRing::Ticket> tickets;
    for (std::size_t i = 0; i < params.lookups; ++i) {
      tickets.push_back(ring.start_lookup(pick(live, rng).id, random_id(ring.space(), rng)));
    }
    ring.wait_all(tickets, 600 * sim::kSecond);
    PathLengthRow row;
    row.nodes = n;
    row.half_log2 = 0.5 * std::log2(static_cast<double>(n));
    std::vector<double> hops;
    double paper_hops = 0;
    for (const auto ticket : tickets) {
      const OperationResult* result = ring.result(ticket);
      if (!result || !result->ok || result->owner != successor_in(live, result->key)) {
        ++row.failed;
        continue;
      }
      hops.push_back(static_cast<double>(result->path.size() - 1));
      paper_hops += static_cast<double>(result->path.size() > 1 ? result->path.size() - 2 : 0);
    }
    row.lookups = tickets.size();
    row.mean = hops.empty() ? 0 : std::accumulate(hops.begin(), hops.end(), 0.0) / static_cast<double>(hops.size());
    row.paper_mean = hops.empty() ? 0 : paper_hops / static_cast<double>(hops.size());
    row.p1 = percentile(hops, 0.01);
    row.p99 = percentile(hops, 0.99);
    rows.push_back(row);
  }
  return rows;
}

std::vector<std::size_t> keys_per_host(const IdSpace& space, const std::vector<std::vector<Id>>& hosts,
                                       std::size_t keys, sim::Rng& rng) {
  std::vector<NodeRef> positions;
  for (std::size_t h = 0; h < hosts.size(); ++h) {
    for (Id id : hosts[h]) positions.push_back(NodeRef{id, static_cast<HostId>(h)});
  }
  std::sort(positions.begin(), positions.end(), [](const NodeRef& a, const NodeRef& b) { return a.id < b.id; });
  std::vector<std::size_t> load(hosts.size(), 0);
  for (std::size_t i = 0; i < keys; ++i) ++load[successor_in(positions, random_id(space, rng)).host];
  return load;
}

std::vector<LoadRow> load_experiment(const LoadParams& params) {
  const IdSpace space(params.bits);
  std::vector<LoadRow> rows;
  for (unsigned v : params.virtual_nodes) {
    const std::vector<Id> ids = hashed_ids(space, "vnode", params.seed, params.hosts * v);
    std::vector<std::vector<Id>> hosts(params.hosts);
    for (std::size_t i = 0; i < ids.size(); ++i) hosts[i / v].push_back(ids[i]);
    sim::Rng rng(params.seed);  // the same keys for every v
    const std::vector<std::size_t> load = keys_per_host(space, hosts, params.keys, rng);
    std::vector<double> values(load.begin(), load.end());
    LoadRow row;
    row.virtual_nodes = v;
    row.mean = static_cast<double>(params.keys) / static_cast<double>(params.hosts);
    row.p1 = percentile(values, 0.01);
    row.p99 = percentile(values, 0.99);
    row.max = *std::max_element(values.begin(), values.end());
    rows.push_back(row);
  }
  return rows;
}

std::vector<FailureRow> failure_experiment(const FailureParams& params) {
  std::vector<FailureRow> rows;
  const std::size_t successors =
      params.successor_list_length ? params.successor_list_length : 2 * log2_ceil(params.nodes);
  for (std::size_t f = 0; f < params.fractions.size(); ++f) {
    const double fraction = params.fractions[f];
    SimRing ring(experiment_options(params.seed + f, params.bits, successors, params.replication_factor));
    ring.install_converged(one_position_each(hashed_ids(ring.space(), "node", params.seed + f, params.nodes)));
    sim::Rng rng(params.seed * 7919 + f);
    const std::map<Id, std::string> keys = put_keys(ring, params.keys, rng);
    const std::vector<NodeRef> before = ring.live_positions();

    // Fail a random fraction of the nodes at the same instant.
    std::vector<NodeRef> victims = before;
    for (std::size_t i = victims.size(); i > 1; --i) {
      std::swap(victims[i - 1], victims[static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(i) - 1))]);
    }
    victims.resize(static_cast<std::size_t>(std::lround(fraction * static_cast<double>(before.size()))));
    std::set<Id> dead;
    for (const NodeRef& victim : victims) {
      ring.fail_host(victim.host);
      dead.insert(victim.id);
    }
    FailureRow row;
    row.fraction = fraction;
    row.failed_nodes = victims.size();
    row.keys = keys.size();
    std::vector<Id> key_list;
    std::set<Id> doomed;  // keys whose owner and every replica failed
    for (const auto& [key, value] : keys) {
      key_list.push_back(key);
      const NodeRef owner = successor_in(before, key);
      bool survivor = !dead.count(owner.id);
      for (const NodeRef& replica : ideal_successor_list_in(before, owner.id, params.replication_factor - 1)) {
        survivor = survivor || !dead.count(replica.id);
      }
      if (!survivor) doomed.insert(key);
    }
    row.keys_all_replicas_failed = doomed.size();

    // Before stabilization: routing only (lookups still skip hops that time out).
    ring.set_maintenance(false);
    const std::vector<NodeRef> live = ring.live_positions();
    std::vector<SimRing::Ticket> lookups, gets;
    for (std::size_t i = 0; i < params.lookups; ++i) {
      const Id from = pick(live, rng).id;
      const Id key = pick(key_list, rng);
      lookups.push_back(ring.start_lookup(from, key));
      gets.push_back(ring.start_get(from, key));
    }
    ring.wait_all(lookups, 600 * sim::kSecond);
    ring.wait_all(gets, 600 * sim::kSecond);
    std::size_t lookup_failures = 0, get_failures = 0, timeouts = 0, dead_owned = 0;
    for (std::size_t i = 0; i < lookups.size(); ++i) {
      const OperationResult* lookup = ring.result(lookups[i]);
      const OperationResult* get = ring.result(gets[i]);
      if (lookup && dead.count(successor_in(before, lookup->key).id)) ++dead_owned;
      if (!lookup || !lookup->ok || dead.count(lookup->owner.id)) ++lookup_failures;
      if (!get || !get->ok || get->value != keys.at(get->key)) ++get_failures;
      if (lookup) timeouts += lookup->timeouts;
    }
    const double count = static_cast<double>(params.lookups);
    row.lookup_fail_before = static_cast<double>(lookup_failures) / count;
    row.get_fail_before = static_cast<double>(get_failures) / count;
    row.dead_owner_share = static_cast<double>(dead_owned) / count;
    row.mean_timeouts_before = static_cast<double>(timeouts) / count;

    // After stabilization.
    ring.set_maintenance(true);
    const sim::Time start = ring.now();
    row.converged = ring.run_until_converged(300 * sim::kSecond);
    row.stabilize_seconds = static_cast<double>(ring.now() - start) / sim::kSecond;
    ring.run_for(sim::kSecond);  // a few replication rounds for promoted owners
    const std::vector<NodeRef> after = ring.live_positions();
    lookups.clear();
    for (std::size_t i = 0; i < params.lookups; ++i) {
      lookups.push_back(ring.start_lookup(pick(after, rng).id, pick(key_list, rng)));
    }
    ring.wait_all(lookups, 600 * sim::kSecond);
    lookup_failures = 0;
    for (const auto ticket : lookups) {
      const OperationResult* lookup = ring.result(ticket);
      if (!lookup || !lookup->ok || lookup->owner != successor_in(after, lookup->key)) ++lookup_failures;
    }
    row.lookup_fail_after = static_cast<double>(lookup_failures) / count;
    gets.clear();
    for (Id key : key_list) gets.push_back(ring.start_get(pick(after, rng).id, key));
    ring.wait_all(gets, 600 * sim::kSecond);
    for (std::size_t i = 0; i < gets.size(); ++i) {
      const OperationResult* get = ring.result(gets[i]);
      if (get && get->ok && get->value == keys.at(key_list[i])) continue;
      ++row.keys_lost;
      if (!doomed.count(key_list[i])) ++row.keys_lost_with_a_live_replica;
    }
    rows.push_back(row);
  }
  return rows;
}

std::vector<ChurnRow> churn_experiment(const ChurnParams& params) {
  std::vector<ChurnRow> rows;
  for (std::size_t r = 0; r < params.rates.size(); ++r) {
    const double rate = params.rates[r];
    SimRingOptions o =
        experiment_options(params.seed + r, params.bits, 2 * log2_ceil(params.nodes), params.replication_factor);
    o.tick_interval = sim::kSecond;  // stabilization period: churn is measured per period
    SimRing ring(o);
    ring.install_converged(one_position_each(hashed_ids(ring.space(), "node", params.seed + r, params.nodes)));
    sim::Rng rng(params.seed * 104729 + r);
    const std::map<Id, std::string> keys = put_keys(ring, params.keys, rng);
    std::vector<Id> key_list;
    for (const auto& [key, value] : keys) key_list.push_back(key);

    ChurnRow row;
    row.rate = rate;
    row.keys = keys.size();
    std::vector<SimRing::Ticket> gets;
    const sim::Time end = ring.now() + static_cast<sim::Time>(params.duration_seconds * sim::kSecond);
    // Membership changes and lookups arrive as Poisson processes; both are drawn up front
    // from the experiment's generator so a seed fixes the whole run.
    const auto exponential = [&](double per_second) {
      return static_cast<sim::Time>(-std::log(1.0 - rng.unit()) / per_second * sim::kSecond);
    };
    sim::Time next_change = ring.now() + exponential(rate);
    sim::Time next_lookup = ring.now() + exponential(params.lookups_per_second);
    std::uint64_t joined = 0;
    while (std::min(next_change, next_lookup) < end) {
      if (next_change <= next_lookup) {
        ring.run_for(next_change - ring.now());
        const std::vector<NodeRef> live = ring.live_positions();
        if (rng.chance(0.5) || live.size() < 8) {
          Id id = 0;
          do id = ring.space().hash(std::string("join/").append(std::to_string(params.seed)).append("/").append(std::to_string(joined++)));
          while (ring.knows(id));
          ring.join(id, pick(live, rng).id);
          ++row.joins;
        } else {
          const NodeRef victim = pick(live, rng);
          if (rng.chance(params.graceful_fraction)) ring.leave(victim.id);
          else ring.fail_host(victim.host);
          ++row.departures;
        }
        next_change += exponential(rate);
      } else {
        ring.run_for(next_lookup - ring.now());
        const std::vector<NodeRef> live = ring.live_positions();
        gets.push_back(ring.start_get(pick(live, rng).id, pick(key_list, rng)));
        next_lookup += exponential(params.lookups_per_second);
      }
    }
    ring.wait_all(gets, 600 * sim::kSecond);
    std::size_t failures = 0;
    for (const auto ticket : gets) {
      const OperationResult* get = ring.result(ticket);
      if (!get || !get->ok || get->value != keys.at(get->key)) ++failures;
    }
    row.lookups = gets.size();
    row.lookup_fail = gets.empty() ? 0 : static_cast<double>(failures) / static_cast<double>(gets.size());
    row.converged = ring.run_until_converged(600 * sim::kSecond);
    ring.run_for(10 * sim::kSecond);
    const std::vector<NodeRef> live = ring.live_positions();
    gets.clear();
    for (Id key : key_list) gets.push_back(ring.start_get(pick(live, rng).id, key));
    ring.wait_all(gets, 600 * sim::kSecond);
    for (std::size_t i = 0; i < gets.size(); ++i) {
      const OperationResult* get = ring.result(gets[i]);
      if (!get || !get->ok || get->value != keys.at(key_list[i])) ++row.keys_lost;
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace homestead::dht
