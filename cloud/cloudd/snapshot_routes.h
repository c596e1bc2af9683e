// The live global snapshot's REST routes on cloudd (issue 10 item 4), bearer auth like every
// /api/v1 route:
//
//   POST /api/v1/snapshots                 starts one at this node -> 202 {"id", "initiator"}
//   GET  /api/v1/snapshots                 ids this node has recorded -> {"snapshots": [...]}
//   GET  /api/v1/snapshots/{id}            the global picture, gathered from every member's
//                                          local part: {"id", "status": running|complete,
//                                          "participants", "channels", "missing",
//                                          "consistency": {"consistent", "violations", ...}}
//   GET  /api/v1/snapshots/{id}/local      this node's part only (what the gathering asks)
//
// Any member answers GET /api/v1/snapshots/{id}: it asks the others over their HTTP API
// with the cluster secret. Errors: {"error": {"code", "message"}} with 400 (bad id), 404
// (no member recorded it), 503 (snapshots disabled).
#pragma once

#include <memory>
#include <string>

#include "cloud/cloudd/raft_server.h"
#include "cloud/cloudd/snapshot_channels.h"

namespace httplib {
class Server;
}

namespace homestead::cloudd {

// snapshots may be null: the routes then answer 503.
void install_snapshot_routes(httplib::Server& server, RaftServer& raft, std::shared_ptr<SnapshotChannels> snapshots,
                             std::string cluster_secret, int timeout_ms);

}  // namespace homestead::cloudd
