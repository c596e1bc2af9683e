#include "cloud/dht/dht_sim_cli.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <ostream>
#include <stdexcept>

#include "cloud/dht/experiment_report.h"
#include "cloud/dht/experiments.h"
#include "cloud/dht/sim_ring.h"

namespace homestead::dht {
namespace {

constexpr const char* kUsage = R"(Usage:
  dht-sim ring --bits M (--nodes ID,ID,... | --random N [--seed S]) [--virtual V]
               [--successors R] [--mode iterative|recursive] [--join ID]... [--leave ID]...
               (--fingers NODE | --owner KEY | --lookup KEY --from NODE)
      Builds a Chord ring in the deterministic simulator and prints one JSON line:
        --fingers NODE        {"node":1,"fingers":[{"start":2,"node":3},...]}
        --owner KEY           {"key":6,"owner":0}
        --lookup KEY --from N {"key":1,"from":3,"path":[3,0,1]}  (every node visited, ending with the owner)
      Ids and keys are raw ring identifiers (not hashed). --nodes rings are built through
      the protocol (create, then each node joins and the ring stabilizes); --random N places
      N hosts (V positions each: SHA-1 of "vnode/<seed>/<i>") in their stable state at once.
      --join/--leave run the protocol (join through the first live node, graceful leave)
      in the order given, then the ring stabilizes before the query.
  dht-sim experiment (path|load|failures|churn|all)... [--seed S] [--quick] [--plot DIR]
      Runs the Chord paper's experiments and prints tables: mean path length vs N = 2^3..2^14,
      keys per node with and without virtual nodes, lookups after a fraction of nodes fail
      at once (before and after stabilization), lookups and key loss under churn.
      --quick uses smaller parameters; --plot writes DIR/<experiment>.png with gnuplot.
  dht-sim --help
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::uint64_t parse_number(const std::string& option, const std::string& text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw UsageError(option + ": expected a non-negative integer, got '" + text + "'");
  }
  return value;
}

std::vector<Id> parse_list(const std::string& option, const std::string& text) {
  std::vector<Id> ids;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    ids.push_back(parse_number(option, text.substr(begin, comma - begin)));
    begin = comma + 1;
  }
  return ids;
}

// Walks the arguments; options take exactly one value.
class Arguments {
 public:
  Arguments(const std::vector<std::string>& args, std::size_t first) : args_(args), next_(first) {}
  bool done() const { return next_ >= args_.size(); }
  std::string option() { return args_[next_++]; }
  std::string value(const std::string& option) {
    if (done()) throw UsageError(option + ": missing value");
    return args_[next_++];
  }

 private:
  const std::vector<std::string>& args_;
  std::size_t next_;
};

struct Membership {
  bool join;
  Id id;
};

int run_ring(const std::vector<std::string>& args, std::ostream& out) {
  std::optional<unsigned> bits;
  std::vector<Id> nodes;
  std::optional<std::uint64_t> random_count;
  std::uint64_t seed = 1, virtual_nodes = 1, successors = 0;
  LookupMode mode = LookupMode::iterative;
  std::vector<Membership> changes;
  std::optional<Id> fingers_of, owner_of, lookup_key, lookup_from;
  Arguments a(args, 1);
  while (!a.done()) {
    const std::string option = a.option();
    if (option == "--bits") {
      bits = static_cast<unsigned>(parse_number(option, a.value(option)));
    } else if (option == "--nodes") {
      nodes = parse_list(option, a.value(option));
    } else if (option == "--random") {
      random_count = parse_number(option, a.value(option));
    } else if (option == "--seed") {
      seed = parse_number(option, a.value(option));
    } else if (option == "--virtual") {
      virtual_nodes = parse_number(option, a.value(option));
    } else if (option == "--successors") {
      successors = parse_number(option, a.value(option));
    } else if (option == "--mode") {
      const std::string text = a.value(option);
      if (text != "iterative" && text != "recursive") throw UsageError("--mode: expected iterative or recursive, got '" + text + "'");
      mode = text == "iterative" ? LookupMode::iterative : LookupMode::recursive;
    } else if (option == "--join" || option == "--leave") {
      changes.push_back({option == "--join", parse_number(option, a.value(option))});
    } else if (option == "--fingers") {
      fingers_of = parse_number(option, a.value(option));
    } else if (option == "--owner") {
      owner_of = parse_number(option, a.value(option));
    } else if (option == "--lookup") {
      lookup_key = parse_number(option, a.value(option));
    } else if (option == "--from") {
      lookup_from = parse_number(option, a.value(option));
    } else {
      throw UsageError("ring: unknown option '" + option + "'");
    }
  }
  if (!bits) throw UsageError("ring: --bits is required");
  if (*bits < 1 || *bits > IdSpace::kMaxBits) throw UsageError("--bits: must be between 1 and 63");
  if (nodes.empty() == !random_count) throw UsageError("ring: give exactly one of --nodes or --random");
  if (virtual_nodes < 1) throw UsageError("--virtual: must be at least 1");
  if (!nodes.empty() && virtual_nodes != 1) throw UsageError("--virtual: only with --random (--nodes lists positions)");
  const int queries = (fingers_of ? 1 : 0) + (owner_of ? 1 : 0) + (lookup_key ? 1 : 0);
  if (queries != 1) throw UsageError("ring: give exactly one of --fingers, --owner, --lookup");
  if (lookup_key.has_value() != lookup_from.has_value()) throw UsageError("--lookup needs --from NODE (and --from needs --lookup)");

  const IdSpace space(*bits);
  const auto check_id = [&](const std::string& option, Id id) {
    if (!space.contains(id)) {
      throw UsageError(option + ": " + std::to_string(id) + " is outside the " + std::to_string(*bits) + "-bit ring");
    }
  };
  for (Id id : nodes) check_id("--nodes", id);
  for (const auto& change : changes) check_id(change.join ? "--join" : "--leave", change.id);
  if (owner_of) check_id("--owner", *owner_of);
  if (lookup_key) check_id("--lookup", *lookup_key);

  SimRingOptions options;
  options.seed = seed;
  options.chord.bits = *bits;
  options.chord.lookup_mode = mode;
  const std::size_t members = nodes.empty() ? *random_count * virtual_nodes : nodes.size();
  std::size_t log2_members = 1;
  while ((std::size_t{1} << log2_members) < members) ++log2_members;
  options.chord.successor_list_length = successors ? successors : std::max<std::size_t>(2 * log2_members, 2);
  SimRing ring(options);
  constexpr sim::Time kBudget = 3600 * sim::kSecond;
  if (!nodes.empty()) {
    std::vector<Id> sorted = nodes;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) throw UsageError("--nodes: ids must be distinct");
    if (!ring.build_by_joining(nodes, kBudget)) throw std::runtime_error("the ring did not stabilize");
  } else {
    if (*random_count == 0) throw UsageError("--random: need at least one node");
    if (*random_count * virtual_nodes > space.size()) throw UsageError("--random: more positions than the ring has ids");
    const std::vector<Id> ids = hashed_ids(space, "vnode", seed, *random_count * virtual_nodes);
    std::vector<std::vector<Id>> hosts(*random_count);
    for (std::size_t i = 0; i < ids.size(); ++i) hosts[i / virtual_nodes].push_back(ids[i]);
    ring.install_converged(hosts);
  }
  for (const auto& change : changes) {
    if (change.join) {
      if (ring.knows(change.id)) throw UsageError("--join: " + std::to_string(change.id) + " is already in the ring");
      const std::vector<NodeRef> live = ring.live_positions();
      if (live.empty()) throw UsageError("--join: no live node to join through");
      ring.join(change.id, live.front().id);
    } else {
      if (!ring.is_live(change.id)) throw UsageError("--leave: " + std::to_string(change.id) + " is not a ring member");
      ring.leave(change.id);
    }
    if (!ring.run_until_converged(kBudget)) throw std::runtime_error("the ring did not stabilize");
  }
  const auto require_member = [&](const std::string& option, Id id) {
    if (!ring.is_live(id)) throw UsageError(option + ": " + std::to_string(id) + " is not a ring member");
  };
  nlohmann::ordered_json result;
  if (fingers_of) {
    require_member("--fingers", *fingers_of);
    result["node"] = *fingers_of;
    result["fingers"] = nlohmann::ordered_json::array();
    const auto& fingers = ring.node(*fingers_of).fingers();
    for (unsigned i = 0; i < space.bits(); ++i) {
      nlohmann::ordered_json entry;
      entry["start"] = space.finger_start(*fingers_of, i);
      entry["node"] = fingers[i] ? nlohmann::ordered_json(fingers[i]->id) : nlohmann::ordered_json(nullptr);
      result["fingers"].push_back(entry);
    }
  } else {
    const Id key = owner_of ? *owner_of : *lookup_key;
    const Id from = lookup_from ? *lookup_from : ring.live_positions().front().id;
    if (lookup_from) require_member("--from", from);
    const OperationResult lookup = ring.lookup(from, key, kBudget);
    if (!lookup.ok) throw std::runtime_error("lookup of " + std::to_string(key) + " failed: " + lookup.error);
    result["key"] = key;
    if (owner_of) {
      result["owner"] = lookup.owner.id;
    } else {
      result["from"] = from;
      result["path"] = nlohmann::ordered_json::array();
      for (const NodeRef& hop : lookup.path) result["path"].push_back(hop.id);
    }
  }
  out << result.dump() << '\n';
  return 0;
}

int run_experiments(const std::vector<std::string>& args, std::ostream& out) {
  ExperimentOptions options;
  std::vector<std::string> names;
  Arguments a(args, 1);
  while (!a.done()) {
    const std::string option = a.option();
    if (option == "--seed") {
      options.seed = parse_number(option, a.value(option));
    } else if (option == "--quick") {
      options.quick = true;
    } else if (option == "--plot") {
      options.plot_dir = a.value(option);
    } else if (option == "path" || option == "load" || option == "failures" || option == "churn") {
      names.push_back(option);
    } else if (option == "all") {
      names.insert(names.end(), {"path", "load", "failures", "churn"});
    } else {
      throw UsageError("experiment: unknown experiment or option '" + option + "' (path, load, failures, churn, all)");
    }
  }
  if (names.empty()) throw UsageError("experiment: name at least one of path, load, failures, churn, all");
  if (!options.plot_dir.empty()) check_plotting_available(options.plot_dir);
  for (const std::string& name : names) run_experiment(name, options, out);
  return 0;
}

}  // namespace

int run_dht_sim(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    if (args.empty()) throw UsageError("missing command (ring or experiment)");
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      out << kUsage;
      return 0;
    }
    if (std::find(args.begin(), args.end(), "--help") != args.end()) {
      out << kUsage;
      return 0;
    }
    if (args[0] == "ring") return run_ring(args, out);
    if (args[0] == "experiment") return run_experiments(args, out);
    throw UsageError("unknown command '" + args[0] + "' (ring or experiment)");
  } catch (const UsageError& e) {
    err << "dht-sim: " << e.what() << "\n(see dht-sim --help)\n";
    return 2;
  } catch (const std::exception& e) {
    err << "dht-sim: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace homestead::dht
