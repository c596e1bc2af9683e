#include "tests/snapshot/cut_checks.h"

#include <deque>
#include <optional>
#include <set>
#include <sstream>

namespace homestead::snapshot::testing {
namespace {

// Per-node histories flattened for the search, plus where each message was sent.
class RunIndex {
 public:
  explicit RunIndex(const TokenNetwork& network) : nodes_(network.topology().nodes()) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      index_[nodes_[i]] = i;
      histories_.push_back(network.history(nodes_[i]));
      initial_.push_back(network.topology().initial_tokens.at(nodes_[i]));
      for (std::size_t pos = 0; pos < histories_[i].size(); ++pos) {
        const AppEvent& event = histories_[i][pos];
        if (event.kind == AppEvent::Kind::send) send_at_[event.message.id] = {i, pos};
      }
    }
  }

  std::size_t size() const { return nodes_.size(); }
  std::size_t length(std::size_t node) const { return histories_[node].size(); }

  // The next event of `node` can happen in `cut`: a send always, a receive once its send
  // is inside the cut (FIFO holds by construction: receives follow send order).
  bool enabled(const std::vector<std::size_t>& cut, std::size_t node) const {
    if (cut[node] >= histories_[node].size()) return false;
    const AppEvent& event = histories_[node][cut[node]];
    if (event.kind == AppEvent::Kind::send) return true;
    const auto [sender, position] = send_at_.at(event.message.id);
    return position < cut[sender];
  }

  // Empty if every receive inside `cut` has its send inside it too.
  std::string inconsistency(const std::vector<std::size_t>& cut) const {
    for (std::size_t node = 0; node < size(); ++node) {
      for (std::size_t pos = 0; pos < cut[node]; ++pos) {
        const AppEvent& event = histories_[node][pos];
        if (event.kind != AppEvent::Kind::receive) continue;
        const auto [sender, position] = send_at_.at(event.message.id);
        if (position >= cut[sender]) {
          return nodes_[node] + " recorded receiving message " + std::to_string(event.message.id) + " that " +
                 nodes_[sender] + " sent after its cut";
        }
      }
    }
    return {};
  }

  TokenWorldState state_at(const std::vector<std::size_t>& cut) const {
    TokenWorldState state;
    std::set<std::uint64_t> received;
    for (std::size_t node = 0; node < size(); ++node) {
      std::int64_t tokens = initial_[node];
      for (std::size_t pos = 0; pos < cut[node]; ++pos) {
        const AppEvent& event = histories_[node][pos];
        if (event.kind == AppEvent::Kind::send) {
          tokens -= event.message.tokens;
        } else {
          tokens += event.message.tokens;
          received.insert(event.message.id);
        }
      }
      state.tokens[nodes_[node]] = tokens;
    }
    for (std::size_t node = 0; node < size(); ++node) {
      for (std::size_t pos = 0; pos < cut[node]; ++pos) {
        const AppEvent& event = histories_[node][pos];
        if (event.kind == AppEvent::Kind::send && !received.count(event.message.id)) {
          state.in_flight[{nodes_[node], event.peer}].push_back(event.message);
        }
      }
    }
    return state;
  }

  // Tokens a node holds after its first `position` events depend on that node alone, so a
  // cut can only match `state` if each node's position is one of these.
  std::vector<std::set<std::size_t>> positions_with_tokens_of(const TokenWorldState& state) const {
    std::vector<std::set<std::size_t>> allowed(size());
    for (std::size_t node = 0; node < size(); ++node) {
      auto it = state.tokens.find(nodes_[node]);
      if (it == state.tokens.end()) continue;
      std::int64_t tokens = initial_[node];
      for (std::size_t pos = 0;; ++pos) {
        if (tokens == it->second) allowed[node].insert(pos);
        if (pos == histories_[node].size()) break;
        const AppEvent& event = histories_[node][pos];
        tokens += event.kind == AppEvent::Kind::send ? -event.message.tokens : event.message.tokens;
      }
    }
    return allowed;
  }

  std::vector<std::size_t> full_cut() const {
    std::vector<std::size_t> cut;
    for (const auto& history : histories_) cut.push_back(history.size());
    return cut;
  }
  std::size_t index_of(const ProcessId& id) const { return index_.at(id); }

 private:
  std::vector<ProcessId> nodes_;
  std::map<ProcessId, std::size_t> index_;
  std::vector<std::vector<AppEvent>> histories_;
  std::vector<std::int64_t> initial_;
  std::map<std::uint64_t, std::pair<std::size_t, std::size_t>> send_at_;
};

// Breadth-first over cuts reachable from `start` by one enabled event at a time; returns
// the first cut whose state satisfies `goal`, if any.
template <class Goal>
std::optional<std::vector<std::size_t>> search(const RunIndex& run, const std::vector<std::size_t>& start, Goal goal,
                                               std::size_t max_cuts, Reachability& stats) {
  std::set<std::vector<std::size_t>> seen{start};
  std::deque<std::vector<std::size_t>> frontier{start};
  while (!frontier.empty()) {
    auto cut = std::move(frontier.front());
    frontier.pop_front();
    ++stats.cuts_explored;
    if (goal(cut)) return cut;
    if (seen.size() > max_cuts) {
      stats.gave_up = true;
      return std::nullopt;
    }
    for (std::size_t node = 0; node < run.size(); ++node) {
      if (!run.enabled(cut, node)) continue;
      auto next = cut;
      ++next[node];
      if (seen.insert(next).second) frontier.push_back(std::move(next));
    }
  }
  return std::nullopt;
}

}  // namespace

TokenWorldState recorded_state(const TokenSnapshot& snapshot) {
  TokenWorldState state;
  state.tokens = snapshot.states;
  for (const auto& [link, messages] : snapshot.channels) {
    if (!messages.empty()) state.in_flight[link] = messages;
  }
  return state;
}

TokenWorldState actual_state(const TokenNetwork& network) {
  TokenWorldState state;
  for (const auto& node : network.topology().nodes()) state.tokens[node] = network.tokens(node);
  for (const auto& [link, messages] : network.tokens_in_flight()) {
    if (!messages.empty()) state.in_flight[link] = messages;
  }
  return state;
}

std::string describe(const TokenWorldState& state) {
  std::ostringstream out;
  for (const auto& [node, tokens] : state.tokens) out << node << '=' << tokens << ' ';
  for (const auto& [link, messages] : state.in_flight) {
    out << link.first << "->" << link.second << '[';
    for (const auto& message : messages) out << '#' << message.id << ':' << message.tokens << ' ';
    out << "] ";
  }
  return out.str();
}

std::int64_t total_tokens(const TokenSnapshot& snapshot) {
  std::int64_t total = 0;
  for (const auto& [node, tokens] : snapshot.states) total += tokens;
  for (const auto& [link, messages] : snapshot.channels) {
    for (const auto& message : messages) total += message.tokens;
  }
  return total;
}

std::string consistent_cut_violation(const TokenNetwork& network, SnapshotId id) {
  const RunIndex run(network);
  std::vector<std::size_t> cut(run.size(), 0);
  for (const auto& [node, position] : network.cut(id)) cut[run.index_of(node)] = position;
  if (network.cut(id).size() != run.size()) return "not every node recorded";
  if (auto problem = run.inconsistency(cut); !problem.empty()) return problem;
  const auto implied = run.state_at(cut);
  const auto recorded = recorded_state(network.snapshot(id));
  if (!(implied == recorded)) {
    return "recorded " + describe(recorded) + "but the cut implies " + describe(implied);
  }
  return {};
}

Reachability brute_force_reachability(const TokenNetwork& network, const TokenWorldState& recorded,
                                      std::size_t max_cuts) {
  const RunIndex run(network);
  Reachability result;
  const std::vector<std::size_t> initial(run.size(), 0);
  const auto allowed = run.positions_with_tokens_of(recorded);
  auto could_match = [&](const std::vector<std::size_t>& cut) {
    for (std::size_t node = 0; node < cut.size(); ++node) {
      if (!allowed[node].count(cut[node])) return false;
    }
    return true;
  };
  auto at_recorded = search(
      run, initial, [&](const auto& cut) { return could_match(cut) && run.state_at(cut) == recorded; }, max_cuts,
      result);
  if (!at_recorded) return result;
  result.recorded_reachable = true;
  const auto final_state = actual_state(network);
  const auto full = run.full_cut();
  auto at_final = search(
      run, *at_recorded, [&](const auto& cut) { return cut == full && run.state_at(cut) == final_state; }, max_cuts,
      result);
  result.final_reachable_from_recorded = at_final.has_value();
  return result;
}

}  // namespace homestead::snapshot::testing
