// The cloud REST admin API for the services (issue 8; table in docs/sync-protocol.md):
// homes, gateways (token issued once, only its SHA-256 stored), devices, shadows (GET with
// ETag, PATCH desired with If-Match -> 409 version_mismatch), history, audit log queries,
// conflicts, leases, and GET /metrics (Prometheus text). Bearer auth is HttpApi's
// pre-routing check (the cloud admin token). Errors: {"error": {"code", "message", "field"?}}.
// Writes sent to a follower are forwarded to the leader; reads are linearizable (ReadIndex)
// unless ?consistency=serializable.
#pragma once

#include <chrono>
#include <memory>

#include "cloud/cloudd/leader_forwarder.h"
#include "cloud/cloudd/raft_server.h"

namespace httplib {
class Server;
}

namespace homestead::cloudd {

class SyncRpc;

// The returned handle owns the routes' state: keep it until `http` has stopped serving.
std::shared_ptr<void> install_services_routes(httplib::Server& http, RaftServer& raft,
                                              const LeaderForwarder& forwarder, std::chrono::milliseconds timeout);
// GET /metrics: Raft role/term/commit, services counts, sync counters, RPC refusals.
void install_metrics_route(httplib::Server& http, RaftServer& raft, const SyncRpc& sync);

}  // namespace homestead::cloudd
