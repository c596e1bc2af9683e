// The input files of snapshot-sim: topology, event script and delays. Each parser reports
// the first problem as "<file>:<line>: <what>" so a bad file is fixed in one look.
// Formats are documented in cloud/snapshot/README.md and in `snapshot-sim --help`.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cloud/snapshot/chandy_lamport.h"

namespace homestead::snapshot {

// "<file>:<line>: <message>"; line 0 means the file as a whole.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, int line, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string file_;
  int line_;
};

struct Topology {
  std::map<ProcessId, std::int64_t> initial_tokens;  // node -> tokens; keys sorted as strings
  std::set<std::pair<ProcessId, ProcessId>> links;   // directed (src, dst)

  std::vector<ProcessId> nodes() const;
  std::vector<ProcessId> outgoing(const ProcessId& node) const;  // ascending
  std::vector<ProcessId> incoming(const ProcessId& node) const;  // ascending
  // Nodes a marker from `from` can reach (including `from`).
  std::set<ProcessId> reachable_from(const ProcessId& from) const;
  std::int64_t total_tokens() const;
};

// Topology file: after comments and blank lines, the first line is the node count N, the
// next N lines are "<id> <tokens>", every line after that is a directed link "<src> <dst>".
Topology parse_topology(const std::string& text, const std::string& file_name = "topology");

enum class EventKind { send, snapshot, tick };

struct ScriptEvent {
  EventKind kind = EventKind::tick;
  int line = 0;  // in the events file, for errors found while running
  ProcessId from;  // send: source; snapshot: initiator
  ProcessId to;    // send only
  std::int64_t amount = 1;  // send: tokens; tick: how many ticks
};

// Event script: "send A B n", "snapshot A", "tick [k]" (k defaults to 1), one per line.
// Checked against the topology: known nodes, an existing link for a send, positive counts,
// and an initiator from which every node is reachable (else its snapshot could never end).
std::vector<ScriptEvent> parse_events(const std::string& text, const Topology& topology,
                                      const std::string& file_name = "events");

// Delays file: whitespace-separated non-negative integers; lines starting with '#' are comments.
std::vector<std::uint64_t> parse_delays(const std::string& text, const std::string& file_name = "delays");

// Reads a whole file; InputError(file, 0, ...) if it cannot.
std::string read_text_file(const std::string& path);

}  // namespace homestead::snapshot
