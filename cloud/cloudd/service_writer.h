// Proposes one cloud services operation (cloud/services/ops.h) through Raft and classifies
// the outcome for the REST routes and the Sync RPC handlers alike. The proposer's wall
// clock goes into the entry: lease expiry and audit times are decided from it, identically
// on every replica.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "cloud/cloudd/raft_server.h"

namespace homestead::cloudd {

struct ServiceWrite {
  enum class Status {
    ok,           // applied; `result` is the state machine's answer (maybe {"error": ...})
    not_leader,   // not applied; `leader_http` is the leader's http address ("" unknown)
    not_applied,  // refused before proposing (election, transfer): safe to retry
    unknown,      // proposed, outcome unknown (leader change, timeout): retry is safe only
                  // for idempotent operations (every Sync operation is)
  };
  Status status = Status::unknown;
  nlohmann::json result;
  std::string leader_http;
  std::string reason;
  bool refused() const { return status == Status::ok && result.contains("error"); }
};

ServiceWrite propose_service_op(RaftServer& raft, const nlohmann::json& op, std::chrono::milliseconds timeout);

}  // namespace homestead::cloudd
