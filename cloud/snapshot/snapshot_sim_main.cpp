// snapshot-sim: runs Chandy-Lamport snapshots over a token network described by files and
// prints the recorded global states. See kHelp (and README.md) for formats and semantics.
#include <charconv>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cloud/snapshot/sim_input.h"
#include "cloud/snapshot/sim_runner.h"
#include "cloud/snapshot/token_network.h"

namespace {

constexpr std::string_view kHelp = R"(usage: snapshot-sim --topology FILE --events FILE [--seed N | --delays FILE] [--max-delay K]

Runs Chandy-Lamport global snapshots over a simulated token network and prints them.

Topology file (blank lines and lines starting with '#' are ignored):
  first line       <node count N>
  next N lines     <node id> <initial tokens>
  remaining lines  <src> <dst>            a directed FIFO link src -> dst

Events file (same comment rules), one event per line:
  send A B n       A moves n of its tokens into the link A -> B (A must hold n)
  snapshot A       A starts a snapshot; snapshot ids are 0, 1, 2, ... in file order
  tick [k]         advance time by k ticks (default 1)
  Lines with no tick between them happen at the same time, in file order.

Delays: each message sent (tokens and markers alike) takes one delay d, in send order.
  --seed N         d is drawn uniformly from [0, K] by a seeded generator (default seed 0,
                   K = --max-delay, default 4); the same seed gives the same output
  --delays FILE    d is read from FILE: whitespace-separated non-negative integers, lines
                   starting with '#' are comments; running out is an error

Tick semantics (exact):
  Time starts at 0. A message sent at time t with delay d is due at t + 1 + d.
  Each tick advances time by one, then visits the nodes in ascending order of their ids
  compared as strings and, for each node, its outgoing links in ascending order of
  destination id; the first link whose head message is due (due <= time) delivers that one
  message and the visit moves to the next node: at most one delivery per sending node per
  tick, and links are FIFO (only the head of a link can be delivered).
  An initiator, and a node receiving its first marker of a snapshot, records its tokens,
  records that marker's link as empty, and sends markers to its destinations in ascending
  id order at once. Later messages on a link still being recorded are recorded as in flight
  until that link's marker arrives.
  After the script, ticks continue until every snapshot is complete.

Output (stdout), one block per snapshot in id order, blocks separated by a blank line:
  <snapshot id>
  <node> <tokens>              per node, ascending id
  <src> <dst> token(<n>)       per recorded in-flight message, by (src, dst), then FIFO order

Errors name the file and line ("events:7: unknown node 'X'") and exit with status 1;
usage errors exit with status 2.
)";

struct Options {
  std::string topology;
  std::string events;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> delays;
  std::uint64_t max_delay = homestead::snapshot::SeededDelays::kDefaultMaxDelay;
};

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

int usage_error(const std::string& message) {
  std::cerr << "snapshot-sim: " << message << "\n(see snapshot-sim --help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace homestead::snapshot;
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kHelp;
      return 0;
    }
    if (arg != "--topology" && arg != "--events" && arg != "--seed" && arg != "--delays" && arg != "--max-delay") {
      return usage_error("unknown option '" + arg + "'");
    }
    if (i + 1 >= argc) return usage_error(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--topology") {
      options.topology = value;
    } else if (arg == "--events") {
      options.events = value;
    } else if (arg == "--delays") {
      options.delays = value;
    } else {
      auto number = parse_number(value);
      if (!number) return usage_error(arg + " must be a non-negative integer, got '" + value + "'");
      if (arg == "--seed") {
        options.seed = *number;
      } else {
        options.max_delay = *number;
      }
    }
  }
  if (options.topology.empty()) return usage_error("--topology FILE is required");
  if (options.events.empty()) return usage_error("--events FILE is required");
  if (options.seed && options.delays) return usage_error("give --seed or --delays, not both");

  try {
    const Topology topology = parse_topology(read_text_file(options.topology), options.topology);
    const auto events = parse_events(read_text_file(options.events), topology, options.events);
    std::unique_ptr<DelaySource> delays;
    if (options.delays) {
      delays = std::make_unique<ListedDelays>(parse_delays(read_text_file(*options.delays), *options.delays),
                                              *options.delays);
    } else {
      delays = std::make_unique<SeededDelays>(options.seed.value_or(0), options.max_delay);
    }
    TokenNetwork network(topology, std::move(delays));
    play_script(network, events, options.events);
    std::cout << format_snapshots(network);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "snapshot-sim: " << error.what() << '\n';
    return 1;
  }
}
