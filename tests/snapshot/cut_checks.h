// Independent checks of a recorded token snapshot against the run that produced it:
//  * consistent_cut_violation: the cut each node recorded at is consistent (no receive in
//    the cut whose send is outside it), and the recorded tokens and channel contents are
//    exactly what that cut implies;
//  * brute_force_reachability: searches every consistent cut of the run, from the initial
//    state, for one whose global state equals the recorded one, then searches on from it to
//    the final state (seed chapter 4.4: S_i ->* S* ->* S_j). It uses only the per-node
//    histories, not where the algorithm recorded, so it checks the theorem, not the code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cloud/snapshot/token_network.h"

namespace homestead::snapshot::testing {

// A global state of the token world: tokens held per node and, per link that is not empty,
// the token messages on it in FIFO order (identified by message id).
struct TokenWorldState {
  std::map<ProcessId, std::int64_t> tokens;
  std::map<std::pair<ProcessId, ProcessId>, std::vector<TokenTransfer>> in_flight;
  bool operator==(const TokenWorldState&) const = default;
};

TokenWorldState recorded_state(const TokenSnapshot& snapshot);
TokenWorldState actual_state(const TokenNetwork& network);
std::string describe(const TokenWorldState& state);

std::int64_t total_tokens(const TokenSnapshot& snapshot);

// Empty when the algorithm's cut is consistent and matches the recorded state.
std::string consistent_cut_violation(const TokenNetwork& network, SnapshotId id);

struct Reachability {
  bool recorded_reachable = false;               // S_i ->* S*
  bool final_reachable_from_recorded = false;    // S* ->* S_j (S_j = the network's state now)
  std::size_t cuts_explored = 0;
  bool gave_up = false;                          // explored more than the limit
};

// Call after the run is over (every message of the history delivered or still in flight).
Reachability brute_force_reachability(const TokenNetwork& network, const TokenWorldState& recorded,
                                      std::size_t max_cuts = 2'000'000);

}  // namespace homestead::snapshot::testing
