#include "cloud/cloudd/snapshot_state.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace homestead::cloudd {

std::string cloud_snapshot_state(const RaftServer& raft, std::uint64_t node_id) {
  // The applied position is read under the same reader lock as the digest: the state hash
  // is the state after exactly that entry.
  nlohmann::json state = raft.read_applied([&](const KvStateMachine& machine, const RaftServer::AppliedPosition& applied) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(machine.state_hash()));
    nlohmann::json sync = nlohmann::json::object();
    for (const auto& [home_id, home] : machine.services().homes()) {
      for (const auto* gateway : machine.services().gateways(home_id)) {
        sync[gateway->home + "/" + gateway->id] = gateway->applied_through;
      }
    }
    return nlohmann::json{{"node", node_id},
                          {"applied_index", applied.index},
                          {"applied_term", applied.term},
                          {"revision", machine.revision()},
                          {"state_hash", hash},
                          {"keys", machine.size()},
                          {"sync", sync}};
  });
  state["leader_hint"] = raft.leader_hint();
  state["recorded_at_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  return state.dump();
}

}  // namespace homestead::cloudd
