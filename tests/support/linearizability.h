// A linearizability checker in the style of Wing & Gong with Lowe's memoisation (as in
// Porcupine): depth-first search over which pending operation takes effect next, caching
// (set of linearized operations, model state) pairs already explored. Histories are split
// into independent partitions first (per key for a KV store), which keeps the search small.
//
// An operation with an unknown outcome (the client timed out) may take effect at any time
// after its call or never; it is modelled as returning at +infinity with any output, which
// covers "never" because nothing observes the state after it.
//
// A Model provides:
//   using Input, Output, State;                        State needs == and Model::hash
//   static State init();
//   static std::optional<State> step(const State&, const Input&, const Output&, bool unknown);
//   static std::vector<std::vector<std::size_t>> partition(const std::vector<Operation<Input, Output>>&);
//   static std::size_t hash(const State&);
//   static std::string describe(const Operation<Input, Output>&);
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace homestead::testing {

template <class Input, class Output>
struct Operation {
  int client = 0;
  Input input;
  Output output;
  std::int64_t call = 0;  // invocation time
  std::int64_t ret = 0;   // response time; ignored when unknown
  bool unknown = false;
};

enum class Linearizability { ok, violation, gave_up };
const char* to_string(Linearizability result);

struct LinearizabilityReport {
  Linearizability result = Linearizability::ok;
  std::string explanation;  // for a violation: the partition's operations in call order
  std::uint64_t steps = 0;
};

namespace detail {

struct Event {
  std::size_t op;
  bool is_call;
  std::int64_t time;
  Event* prev = nullptr;
  Event* next = nullptr;
  Event* match = nullptr;  // call -> its return
};

class Bitset {
 public:
  explicit Bitset(std::size_t n) : words_((n + 63) / 64, 0) {}
  void set(std::size_t i) { words_[i / 64] |= 1ULL << (i % 64); }
  void clear(std::size_t i) { words_[i / 64] &= ~(1ULL << (i % 64)); }
  std::size_t hash() const {
    std::size_t h = 1469598103934665603ULL;
    for (auto w : words_) h = (h ^ w) * 1099511628211ULL;
    return h;
  }
  bool operator==(const Bitset&) const = default;

 private:
  std::vector<std::uint64_t> words_;
};

}  // namespace detail

// Checks one partition; `ops` are indexes into history.
template <class Model>
Linearizability check_partition(const std::vector<Operation<typename Model::Input, typename Model::Output>>& history,
                                const std::vector<std::size_t>& ops, std::uint64_t max_steps, std::uint64_t& steps) {
  using detail::Event;
  using State = typename Model::State;
  const std::size_t n = ops.size();
  std::vector<Event> events;
  events.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& op = history[ops[i]];
    events.push_back(Event{i, true, op.call});
    events.push_back(Event{i, false, op.unknown ? std::numeric_limits<std::int64_t>::max() : op.ret});
  }
  // Calls before returns at equal times: touching operations count as concurrent.
  std::vector<Event*> order;
  for (auto& e : events) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Event* a, const Event* b) {
    if (a->time != b->time) return a->time < b->time;
    return a->is_call && !b->is_call;
  });
  for (std::size_t i = 0; i < n; ++i) events[2 * i].match = &events[2 * i + 1];
  Event head{SIZE_MAX, false, 0};
  Event* tail = &head;
  for (Event* e : order) {
    tail->next = e;
    e->prev = tail;
    tail = e;
  }
  auto lift = [](Event* call) {
    call->prev->next = call->next;
    if (call->next) call->next->prev = call->prev;
    Event* ret = call->match;
    ret->prev->next = ret->next;
    if (ret->next) ret->next->prev = ret->prev;
  };
  auto unlift = [](Event* call) {
    Event* ret = call->match;
    ret->prev->next = ret;
    if (ret->next) ret->next->prev = ret;
    call->prev->next = call;
    if (call->next) call->next->prev = call;
  };

  std::unordered_map<std::size_t, std::vector<std::pair<detail::Bitset, State>>> cache;
  auto remember = [&](const detail::Bitset& linearized, const State& state) {
    auto& bucket = cache[linearized.hash() * 31 + Model::hash(state)];
    for (const auto& [bits, s] : bucket) {
      if (bits == linearized && s == state) return false;
    }
    bucket.emplace_back(linearized, state);
    return true;
  };

  std::vector<std::pair<Event*, State>> stack;
  detail::Bitset linearized(n);
  State state = Model::init();
  Event* entry = head.next;
  // True when every remaining event belongs to an operation with an unknown outcome: those
  // may all take effect after everything observed, so trying them greedily in call order
  // usually settles the rest at once (the full search still runs if a step is refused).
  auto only_unknown_left = [&] {
    for (Event* e = head.next; e != nullptr; e = e->next) {
      if (!history[ops[e->op]].unknown) return false;
    }
    return true;
  };
  auto greedy_tail = [&] {
    State s = state;
    for (Event* e = head.next; e != nullptr; e = e->next) {
      if (!e->is_call) continue;
      const auto& op = history[ops[e->op]];
      std::optional<State> next = Model::step(s, op.input, op.output, op.unknown);
      if (!next) return false;
      s = std::move(*next);
    }
    return true;
  };
  while (head.next != nullptr) {
    if (++steps > max_steps) return Linearizability::gave_up;
    if (entry == head.next && only_unknown_left() && greedy_tail()) return Linearizability::ok;
    if (entry == nullptr) return Linearizability::violation;  // defensive: cannot happen with matched events
    if (entry->is_call) {
      const auto& op = history[ops[entry->op]];
      std::optional<State> next = Model::step(state, op.input, op.output, op.unknown);
      if (next) {
        linearized.set(entry->op);
        if (remember(linearized, *next)) {
          stack.emplace_back(entry, state);
          state = std::move(*next);
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.clear(entry->op);
      }
      entry = entry->next;
    } else {
      // A return reached with its call still pending: that operation had to take effect
      // earlier. Undo the last choice and try the next candidate.
      if (stack.empty()) return Linearizability::violation;
      auto [call, previous] = std::move(stack.back());
      stack.pop_back();
      state = std::move(previous);
      linearized.clear(call->op);
      unlift(call);
      entry = call->next;
    }
  }
  return Linearizability::ok;
}

template <class Model>
LinearizabilityReport check_linearizable(
    const std::vector<Operation<typename Model::Input, typename Model::Output>>& history,
    std::uint64_t max_steps = 50'000'000) {
  LinearizabilityReport report;
  for (const auto& part : Model::partition(history)) {
    const Linearizability result = check_partition<Model>(history, part, max_steps, report.steps);
    if (result == Linearizability::ok) continue;
    report.result = result;
    std::vector<std::size_t> sorted = part;
    std::sort(sorted.begin(), sorted.end(), [&](auto a, auto b) { return history[a].call < history[b].call; });
    std::ostringstream out;
    out << (result == Linearizability::violation ? "not linearizable" : "search budget exhausted") << ", "
        << part.size() << " operations:\n";
    std::size_t shown = 0;
    for (std::size_t i : sorted) {
      if (++shown > 60) {
        out << "  ...\n";
        break;
      }
      out << "  " << Model::describe(history[i]) << '\n';
    }
    report.explanation = out.str();
    return report;
  }
  return report;
}

// ---------------------------------------------------------------- a key-value model

struct KvInput {
  enum class Kind : std::uint8_t { put, get, del, cas } kind = Kind::get;
  std::string key;
  std::string value;                    // put / cas: the new value
  std::optional<std::string> expected;  // cas: the required current value; nullopt = key absent
};

struct KvOutput {
  std::optional<std::string> value;  // get: what was read (nullopt = absent)
  bool succeeded = true;             // cas: whether the swap happened
};

// Registers per key; put/get/delete/cas; range reads are not modelled (not partitionable).
struct KvModel {
  using Input = KvInput;
  using Output = KvOutput;
  using State = std::optional<std::string>;
  using Op = Operation<Input, Output>;

  static State init() { return std::nullopt; }
  static std::optional<State> step(const State& state, const Input& in, const Output& out, bool unknown);
  static std::vector<std::vector<std::size_t>> partition(const std::vector<Op>& history);
  static std::size_t hash(const State& state);
  static std::string describe(const Op& op);
};

using KvOperation = KvModel::Op;

}  // namespace homestead::testing
