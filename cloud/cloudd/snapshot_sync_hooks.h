// Live snapshots over the gateways' Sync calls (issue 10 item 4): the gateway<->cloud
// channels. Gateways only call the cloud (request/response over HTTP), so:
//   - a gateway's request carries its stamp in the query string (`?snapshot=<hex stamp>`,
//     cloud/snapshot/stamp_codec.h): rpc routing looks at the path only, so the Sync RPC is
//     unchanged;
//   - this node's stamp rides back in the JSON reply as a last field "snapshot_stamp" (only
//     on successful replies to stamped requests; the gateway strips it before decoding).
// A marker to a gateway therefore rides on the reply to its next Sync call, and the
// gateway's marker on its next request.
//
// The stamp counts only when the bearer token is that gateway's own (the same SHA-256
// lookup as the Sync authenticator) and names the same gateway. The request is accounted
// before the Sync handler runs (pre-routing), so a request after the gateway's cut makes
// this node record before the push is applied.
//
// A gateway's finished parts ride on its next Sync request as a last body field
// (stamp_codec.h kPartsField, flagged by `&snapshot_parts=<n>` in the query); they are kept
// when the reply is stamped, which tells the gateway they arrived. Also: POST
// /api/v1/snapshots/{id}/parts, where a gateway ships a part no request carried
// (authenticated with its own token; the part must be its own).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cloud/cloudd/raft_server.h"
#include "cloud/cloudd/snapshot_channels.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace homestead::cloudd {

class SyncSnapshotHooks {
 public:
  SyncSnapshotHooks(RaftServer& raft, std::shared_ptr<SnapshotChannels> snapshots);

  // Pre-routing, for /rpc/v1/Sync/ paths.
  void on_request(const httplib::Request& req) const;
  // Post-routing, for /rpc/v1/Sync/ paths.
  void on_response(const httplib::Request& req, httplib::Response& res) const;
  // Installs POST /api/v1/snapshots/{id}/parts. Its auth is the gateway token (the admin
  // pre-routing check must let kPartsPath through).
  void install_parts_route(httplib::Server& server) const;
  static bool is_parts_path(const std::string& path);

 private:
  // "gateway:<home>/<id>" for a gateway's bearer token, or nullopt.
  std::optional<std::string> gateway_of(const httplib::Request& req) const;
  // Keeps `gateway`'s own part; "" or why not.
  std::string keep_part(const std::string& gateway, snapshot::LiveLocal part) const;
  // The parts a gateway's request carries (stamp_codec.h kPartsField); `stamped_by`: the
  // gateway its stamp names.
  void take_carried_parts(const httplib::Request& req, const std::string& stamped_by) const;

  RaftServer& raft_;
  std::shared_ptr<SnapshotChannels> snapshots_;
};

}  // namespace homestead::cloudd
