// Property detection on a recorded global state S* (seed section 4.4).
//
// S* need not be a state the system actually passed through, but it lies on some ordering
// of the run from the initial state S_i to the final state S_j. So what a property's value
// in S* tells you depends on whether it is stable (once true, true forever):
//   stable,   true in S*  -> true in S_j and every later state (safe to act on: gc, alarm);
//   stable,   false in S* -> it was false in S_i too (and may still become true later);
//   unstable, true in S*  -> it *could* have held: some ordering of the same events passes
//                            through it (a possible bug), though the run may never have;
//   unstable, false in S* -> nothing: it may have held at moments the cut missed.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cloud/snapshot/chandy_lamport.h"
#include "cloud/snapshot/token_network.h"

namespace homestead::snapshot {

enum class Stability { stable, unstable };

enum class Inference {
  holds_from_now_on,     // stable and true in S*
  was_false_initially,   // stable and false in S*
  could_have_happened,   // unstable and true in S*
  unknown,               // unstable and false in S*
};

Inference infer(Stability stability, bool holds_in_recorded_state);
const char* to_string(Inference inference);

// ---- token-world properties ----

// Stable (token loss is permanent: nothing creates tokens): every token is accounted for,
// in a node or in flight.
bool tokens_conserved(const TokenSnapshot& snapshot, std::int64_t expected_total);

// Stable when `sink` never sends: the collection phase has terminated, every token is at
// the sink and no channel holds any.
bool collection_terminated(const TokenSnapshot& snapshot, const ProcessId& sink);

// Unstable: each of `nodes` holds at least `k` tokens at once (a load spike across nodes).
bool all_hold_at_least(const TokenSnapshot& snapshot, const std::vector<ProcessId>& nodes, std::int64_t k);

// ---- deadlock in a wait-for graph ----

// A process's recorded state for deadlock detection: the processes it is blocked on, each
// of which must send it a message (a grant, a reply) before it can go on. Empty = running.
struct WaitState {
  std::set<ProcessId> waiting_for;
  bool operator==(const WaitState&) const = default;
};

// Stable in systems where a blocked process moves only when a process it waits for sends to
// it: the processes that can never move again. A wait is released by a message already in
// flight from the awaited process, or if the awaited process is not itself deadlocked
// (it may still reply). What remains are the processes on, or waiting on, a cycle of
// unreleased waits. Sorted by id; empty = no deadlock.
template <class Payload>
std::vector<ProcessId> deadlocked(const GlobalSnapshot<WaitState, Payload>& snapshot) {
  auto released = [&](const ProcessId& waiter, const ProcessId& awaited) {
    auto it = snapshot.channels.find({awaited, waiter});
    return it != snapshot.channels.end() && !it->second.empty();
  };
  std::set<ProcessId> stuck;
  for (const auto& [process, state] : snapshot.states) {
    if (!state.waiting_for.empty()) stuck.insert(process);
  }
  // Greatest fixed point: drop anyone none of whose unreleased waits is on someone stuck.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = stuck.begin(); it != stuck.end();) {
      bool blocked_by_stuck = false;
      for (const auto& awaited : snapshot.states.at(*it).waiting_for) {
        if (!released(*it, awaited) && stuck.count(awaited)) blocked_by_stuck = true;
      }
      if (blocked_by_stuck) {
        ++it;
      } else {
        it = stuck.erase(it);
        changed = true;
      }
    }
  }
  return {stuck.begin(), stuck.end()};
}

}  // namespace homestead::snapshot
