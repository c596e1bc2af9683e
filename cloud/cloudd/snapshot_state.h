// What a cloudd member records as its state in a live global snapshot: cheap reads under
// the state machine's reader lock, never a wait for the Raft loop (the recording happens
// on the peer listener's thread, which must not stall Raft traffic).
#pragma once

#include <cstdint>
#include <string>

#include "cloud/cloudd/raft_server.h"

namespace homestead::cloudd {

// JSON text: {"node", "revision", "state_hash", "keys", "leader_hint", "sync": {"<home>/<gw>":
// applied_through, ...}} ("sync": each gateway's highest outbox seq the cloud has applied).
std::string cloud_snapshot_state(const RaftServer& raft, std::uint64_t node_id);

}  // namespace homestead::cloudd
