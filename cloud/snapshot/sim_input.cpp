#include "cloud/snapshot/sim_input.h"

#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

namespace homestead::snapshot {
namespace {

struct Line {
  int number = 0;
  std::vector<std::string> words;
};

// Non-blank lines that do not start with '#', split on whitespace, with their 1-based numbers.
std::vector<Line> meaningful_lines(const std::string& text) {
  std::vector<Line> lines;
  std::istringstream in(text);
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    std::istringstream words_in(raw);
    Line line{number, {}};
    std::string word;
    while (words_in >> word) line.words.push_back(word);
    if (line.words.empty() || line.words.front().front() == '#') continue;
    lines.push_back(std::move(line));
  }
  return lines;
}

// A non-negative integer in [min, max], or an InputError naming what it should have been.
std::int64_t parse_count(const std::string& word, std::int64_t min, const std::string& what, const std::string& file,
                         int line) {
  std::int64_t value = 0;
  const char* end = word.data() + word.size();
  auto [ptr, ec] = std::from_chars(word.data(), end, value);
  if (ec == std::errc::result_out_of_range) throw InputError(file, line, what + " '" + word + "' is too large");
  if (ec != std::errc() || ptr != end || value < min) {
    throw InputError(file, line, what + " must be an integer >= " + std::to_string(min) + ", got '" + word + "'");
  }
  return value;
}

void expect_words(const Line& line, std::size_t min, std::size_t max, const std::string& usage,
                  const std::string& file) {
  if (line.words.size() < min || line.words.size() > max) {
    throw InputError(file, line.number, "expected '" + usage + "', got " + std::to_string(line.words.size()) + " words");
  }
}

void require_node(const Topology& topology, const std::string& node, const std::string& file, int line) {
  if (!topology.initial_tokens.count(node)) throw InputError(file, line, "unknown node '" + node + "'");
}

// "file:line", or just "file" when there is no line. Appended piece by piece: g++ 12 -O3
// warns a false -Wrestrict on ":" + std::to_string(...).
std::string where(const std::string& file, int line) {
  std::string out = file;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
  }
  return out;
}

}  // namespace

InputError::InputError(const std::string& file, int line, const std::string& message)
    : std::runtime_error(where(file, line) + ": " + message),
      file_(file),
      line_(line) {}

std::vector<ProcessId> Topology::nodes() const {
  std::vector<ProcessId> ids;
  for (const auto& [id, tokens] : initial_tokens) ids.push_back(id);
  return ids;
}

std::vector<ProcessId> Topology::outgoing(const ProcessId& node) const {
  std::vector<ProcessId> out;
  for (const auto& [src, dst] : links) {
    if (src == node) out.push_back(dst);  // set order: already ascending by dst
  }
  return out;
}

std::vector<ProcessId> Topology::incoming(const ProcessId& node) const {
  std::vector<ProcessId> in;
  for (const auto& [src, dst] : links) {
    if (dst == node) in.push_back(src);  // set order: ascending by src
  }
  return in;
}

std::set<ProcessId> Topology::reachable_from(const ProcessId& from) const {
  std::set<ProcessId> seen{from};
  std::vector<ProcessId> frontier{from};
  while (!frontier.empty()) {
    const ProcessId node = frontier.back();
    frontier.pop_back();
    for (const auto& next : outgoing(node)) {
      if (seen.insert(next).second) frontier.push_back(next);
    }
  }
  return seen;
}

std::int64_t Topology::total_tokens() const {
  std::int64_t total = 0;
  for (const auto& [id, tokens] : initial_tokens) total += tokens;
  return total;
}

Topology parse_topology(const std::string& text, const std::string& file) {
  const auto lines = meaningful_lines(text);
  if (lines.empty()) throw InputError(file, 0, "empty: expected the node count on the first line");
  expect_words(lines[0], 1, 1, "<node count>", file);
  const auto count = parse_count(lines[0].words[0], 1, "node count", file, lines[0].number);
  Topology topology;
  std::size_t i = 1;
  for (; i < lines.size() && static_cast<std::int64_t>(i) <= count; ++i) {
    const Line& line = lines[i];
    expect_words(line, 2, 2, "<node id> <initial tokens>", file);
    const auto tokens = parse_count(line.words[1], 0, "initial tokens", file, line.number);
    if (!topology.initial_tokens.emplace(line.words[0], tokens).second) {
      throw InputError(file, line.number, "node '" + line.words[0] + "' declared twice");
    }
  }
  if (static_cast<std::int64_t>(topology.initial_tokens.size()) != count) {
    throw InputError(file, lines[0].number,
                     "declares " + std::to_string(count) + " nodes but lists " +
                         std::to_string(topology.initial_tokens.size()));
  }
  for (; i < lines.size(); ++i) {
    const Line& line = lines[i];
    expect_words(line, 2, 2, "<src> <dst>", file);
    const auto& src = line.words[0];
    const auto& dst = line.words[1];
    require_node(topology, src, file, line.number);
    require_node(topology, dst, file, line.number);
    if (src == dst) throw InputError(file, line.number, "link from '" + src + "' to itself");
    if (!topology.links.emplace(src, dst).second) {
      throw InputError(file, line.number, "link " + src + " -> " + dst + " declared twice");
    }
  }
  return topology;
}

std::vector<ScriptEvent> parse_events(const std::string& text, const Topology& topology, const std::string& file) {
  std::vector<ScriptEvent> events;
  for (const Line& line : meaningful_lines(text)) {
    const std::string& command = line.words[0];
    ScriptEvent event;
    event.line = line.number;
    if (command == "send") {
      expect_words(line, 4, 4, "send <src> <dst> <tokens>", file);
      event.kind = EventKind::send;
      event.from = line.words[1];
      event.to = line.words[2];
      require_node(topology, event.from, file, line.number);
      require_node(topology, event.to, file, line.number);
      if (!topology.links.count({event.from, event.to})) {
        throw InputError(file, line.number, "no link " + event.from + " -> " + event.to + " in the topology");
      }
      event.amount = parse_count(line.words[3], 1, "token count", file, line.number);
    } else if (command == "snapshot") {
      expect_words(line, 2, 2, "snapshot <node>", file);
      event.kind = EventKind::snapshot;
      event.from = line.words[1];
      require_node(topology, event.from, file, line.number);
      const auto reached = topology.reachable_from(event.from);
      for (const auto& node : topology.nodes()) {
        if (!reached.count(node)) {
          throw InputError(file, line.number,
                           "snapshot at '" + event.from + "' can never complete: no path of links to '" + node + "'");
        }
      }
    } else if (command == "tick") {
      expect_words(line, 1, 2, "tick [count]", file);
      event.kind = EventKind::tick;
      if (line.words.size() == 2) event.amount = parse_count(line.words[1], 1, "tick count", file, line.number);
    } else {
      throw InputError(file, line.number, "unknown command '" + command + "' (expected send, snapshot or tick)");
    }
    events.push_back(std::move(event));
  }
  return events;
}

std::vector<std::uint64_t> parse_delays(const std::string& text, const std::string& file) {
  std::vector<std::uint64_t> delays;
  for (const Line& line : meaningful_lines(text)) {
    for (const auto& word : line.words) {
      delays.push_back(static_cast<std::uint64_t>(parse_count(word, 0, "delay", file, line.number)));
    }
  }
  return delays;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, 0, "cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(path, 0, "read failed");
  return text.str();
}

}  // namespace homestead::snapshot
