// The live global snapshot's REST routes on cloudd (issue 10 item 4), bearer auth like every
// /api/v1 route:
//
//   POST /api/v1/snapshots                 starts one at this node -> 202 {"id", "initiator"}
//   POST /api/v1/snapshots?wait_ms=N       starts one and answers 200 with its report (as the
//                                          GET below, plus "initiator") once complete, or
//                                          after N ms with status "running"
//   GET  /api/v1/snapshots                 ids this node has recorded -> {"snapshots": [...]}
//   GET  /api/v1/snapshots/{id}            the global picture, gathered from every member's
//                                          local part: {"id", "status": running|complete,
//                                          "participants", "channels", "missing",
//                                          "consistency": {"consistent", "violations", ...}}
//   GET  /api/v1/snapshots/{id}/local      this node's part only (what the gathering asks)
//
// Both GETs and the POST take ?wait_ms=N (0..30000), a long poll: the report answers once
// it is complete (or after N ms with what there is), gathered once: it waits for this
// node's part to settle, then asks the others with the same wait (each answers once its own
// part is complete); /local waits for this node's part. An operator (homectl) gets the
// report in one request as soon as the snapshot completes instead of polling. Unknown ids
// are not waited for (404 at once). A waiting request holds one HTTP worker (http_threads).
//
// /local answers JSON, or with `Accept: application/vnd.homestead.snapshot-part` the binary
// form (cloud/snapshot/part_codec.h) the gathering member asks for: no JSON document is
// built or parsed between members. A member that answers JSON (one from before) still works.
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
