// The client-facing HTTP JSON API of cloudd. The routes are cpp-httplib handlers; who reads
// the connections is the config's "http_frontend": "httplib" (its listener, tuned as
// DESIGN.md says: TCP_NODELAY, large keep-alive count, a worker pool sized for the
// keep-alive connections) or "epoll" (http_frontend.h: one event thread, KV puts/gets/deletes
// answered from the Raft loop by kv_fast_routes.h, the other routes through these handlers
// on a worker pool).
//
//   PUT    /api/v1/kv/{key}        {"value": "..."}            -> {"key", "revision"}
//   GET    /api/v1/kv/{key}[?consistency=linearizable|serializable]
//                                                              -> {"key", "value", "revision",
//                                                                  "create_revision"} | 404
//   DELETE /api/v1/kv/{key}                                     -> {"key", "deleted", "revision"}
//   GET    /api/v1/kv?prefix=P[&limit=N][&consistency=...]      -> {"kvs": [...], "revision"}
//   POST   /api/v1/kv/txn  {"compare": [...], "success": [...], "failure": [...]}
//   GET    /api/v1/cluster
//   POST   /api/v1/cluster/members {"id", "peer", "http"}
//   DELETE /api/v1/cluster/members/{id}
//   POST   /api/v1/cluster/transfer-leader [{"to": id}]
//   GET    /api/v1/dht/ring, /api/v1/dht/lookup/{home}[?raw=true]  (dht_routes.h)
//   GET    /ping                                                (no auth)
//   /api/v1/homes..., /api/v1/leases..., GET /metrics            (services_routes.h, issue 8)
//   POST   /rpc/v1/Sync/<Method>   the Sync RPC (sync_rpc.h); its own auth: gateway tokens
//   POST   /api/v1/snapshots, GET /api/v1/snapshots/{id}  live global snapshot (snapshot_routes.h)
//
// Keys are percent-encoded in the path and may contain '/'. Every other route needs
// "Authorization: Bearer <token>". Writes sent to a follower are forwarded to the leader.
// Exactly-once: headers X-Client-Id, X-Request-Seq (and X-Client-Ack) make a write part of
// a session; a retry with the same sequence returns the first answer without re-applying.
// Status codes: 503 = not applied (safe to retry), 504 = outcome unknown (retry with the
// same session sequence).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "cloud/cloudd/cloudd_config.h"
#include "cloud/cloudd/leader_forwarder.h"
#include "cloud/cloudd/raft_server.h"

namespace homestead::cloudd {

class DhtService;
class HttpFrontend;
class HttplibBridge;
class KvFastRoutes;
class SnapshotChannels;
class SyncSnapshotHooks;
class SyncRpc;

class HttpApi {
 public:
  // dht may be null (disabled): its routes then answer 503; so may snapshots.
  HttpApi(RaftServer& raft, const CloudConfig& config, std::string token, std::string cluster_secret,
          const DhtService* dht = nullptr, std::shared_ptr<SnapshotChannels> snapshots = nullptr);
  ~HttpApi();
  // Binds (throws std::runtime_error naming the address on failure) and serves on a thread.
  void start();
  void stop();

 private:
  void install_routes();

  RaftServer& raft_;
  const DhtService* dht_;
  std::shared_ptr<SnapshotChannels> snapshots_;
  std::unique_ptr<SyncSnapshotHooks> sync_snapshots_;  // null without snapshots
  const CloudConfig& config_;
  std::string token_;
  std::string secret_;
  LeaderForwarder forwarder_;
  std::unique_ptr<SyncRpc> sync_;
  std::shared_ptr<void> services_routes_;
  std::unique_ptr<HttplibBridge> server_;
  std::thread thread_;
  std::unique_ptr<KvFastRoutes> fast_routes_;  // "epoll" only
  std::unique_ptr<HttpFrontend> frontend_;
};

}  // namespace homestead::cloudd
