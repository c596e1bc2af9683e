// cloudd's Chord REST routes (issue 11 item 4), installed on the HttpApi server and behind
// the same bearer-token check:
//
//   GET /api/v1/dht/ring
//     -> {"bits", "group", "joined", "ticks", "self": NODE, "predecessor": NODE|null,
//         "successors": [NODE...], "fingers": [{"index", "start", "node": NODE|null}...],
//         "members": [NODE...]}    members = every position this node knows, sorted by id
//   GET /api/v1/dht/lookup/{home_id}         key = first `bits` bits of SHA-1("home/<home_id>")
//   GET /api/v1/dht/lookup/{id}?raw=true     key = the decimal ring identifier itself
//     -> {"key", ["home"], "owner": NODE, "group", "path": [NODE...], "hops", "timeouts"}
//        400 for a bad raw identifier, 503 when no owner was found (not joined, no route)
//   NODE = {"id": ring position, "member": cloudd member id, "group": Raft group}
#pragma once

namespace httplib {
class Server;
}

namespace homestead::cloudd {

class DhtService;

// With dht == nullptr (disabled in the config) the routes answer 503 naming the setting.
void install_dht_routes(httplib::Server& server, const DhtService* dht, int request_timeout_ms);

}  // namespace homestead::cloudd
