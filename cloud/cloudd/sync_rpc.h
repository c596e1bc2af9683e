// The Sync RPC service (cloud/services/sync_api.h) served by cloudd: cloud/rpc's http
// transport mounted on cloudd's own HTTP listener (POST /rpc/v1/Sync/<Method>), so gateways
// use the same address as the admin API.
//
// Authentication: the bearer is a gateway's own token; its SHA-256 is looked up in the
// replicated registry (constant-time compare against every stored hash) and becomes the
// call's principal "<home>/<gateway>". A token this member does not know is looked up again
// after a linearizable read barrier (at most 2 s), so a gateway created through any member is
// accepted by every member as soon as its 201 is out. A request naming another home or gateway is refused
// with remote "forbidden: ...". Push and the lease calls go through Raft on the leader; a
// follower answers remote "not_leader <leader http host:port, or empty>". Pull is served
// from the local replica. Locate (any member) resolves the home on the Chord ring. Other remote errors: "unavailable: ..." (retry; every Sync
// operation is idempotent) and "<code>: ..." from the state machine's rules.
#pragma once

#include <chrono>
#include <memory>

#include "cloud/cloudd/raft_server.h"
#include "cloud/rpc/server.h"
#include "cloud/services/sync_api.h"

namespace httplib {
class Server;
}

namespace homestead::cloudd {

class DhtService;

class SyncRpc {
 public:
  // `dht` may be null (DHT disabled): Locate then answers remote "unavailable: ...".
  SyncRpc(RaftServer& raft, const DhtService* dht, std::chrono::milliseconds timeout);
  ~SyncRpc();
  // Installs the /rpc/v1 routes; this object must outlive `http`'s serving.
  void mount(httplib::Server& http);
  const rpc::Server& server() const { return *server_; }

 private:
  sync_api::LocateReply locate(const std::string& home) const;
  RaftServer& raft_;
  const DhtService* dht_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<rpc::Server> server_;
};

}  // namespace homestead::cloudd
