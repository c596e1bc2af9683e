#include "cloud/snapshot/properties.h"

namespace homestead::snapshot {
namespace {

std::int64_t tokens_in_flight(const TokenSnapshot& snapshot) {
  std::int64_t total = 0;
  for (const auto& [link, messages] : snapshot.channels) {
    for (const auto& message : messages) total += message.tokens;
  }
  return total;
}

}  // namespace

Inference infer(Stability stability, bool holds) {
  if (stability == Stability::stable) return holds ? Inference::holds_from_now_on : Inference::was_false_initially;
  return holds ? Inference::could_have_happened : Inference::unknown;
}

const char* to_string(Inference inference) {
  switch (inference) {
    case Inference::holds_from_now_on: return "holds from now on";
    case Inference::was_false_initially: return "was false initially";
    case Inference::could_have_happened: return "could have happened";
    case Inference::unknown: return "unknown";
  }
  return "?";
}

bool tokens_conserved(const TokenSnapshot& snapshot, std::int64_t expected_total) {
  std::int64_t total = tokens_in_flight(snapshot);
  for (const auto& [node, tokens] : snapshot.states) total += tokens;
  return total == expected_total;
}

bool collection_terminated(const TokenSnapshot& snapshot, const ProcessId& sink) {
  if (tokens_in_flight(snapshot) != 0) return false;
  for (const auto& [node, tokens] : snapshot.states) {
    if (node != sink && tokens != 0) return false;
  }
  return true;
}

bool all_hold_at_least(const TokenSnapshot& snapshot, const std::vector<ProcessId>& nodes, std::int64_t k) {
  for (const auto& node : nodes) {
    auto it = snapshot.states.find(node);
    if (it == snapshot.states.end() || it->second < k) return false;
  }
  return true;
}

}  // namespace homestead::snapshot
