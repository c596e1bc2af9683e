// The local HTTP control API of firmware-sim (cpp-httplib, 127.0.0.1 only, bearer token).
//
//   GET    /ping                          "pong" (no token needed)
//   GET    /summary                       counters: devices, online, published, commands_in, ...
//   GET    /devices                       [{id, kind, room, link, state, faults, commands_received, ...}]
//   GET    /devices/<id>                  one device, plus "actuations": {cmd_id: count}
//   GET    /devices/<id>/actuations       {cmd_id: count} actuation attempts since start (incl. jammed)
//   PUT    /devices/<id>/faults           body: faults JSON (firmware-sim/faults.h); replaces all faults
//   DELETE /devices/<id>/faults           clears all faults
//   POST   /devices/<id>/offline          body {"duration_ms": 5000}: hard offline (LWT fires)
//   POST   /devices/<id>/reboot           power cycle (see Firmware::reboot)
//   POST   /devices/<id>/events           body {"event": "motion"|"smoke"|"co"|"open"|"close"|"*_clear"}
//
// Every request but /ping needs "Authorization: Bearer <token>"; errors are JSON
// {"error": "..."} naming the bad field, with 400 (bad input), 401, 404 (no such device).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "firmware-sim/fleet.h"

namespace httplib {
class Server;
}

namespace homestead::firmware {

class ControlApi {
 public:
  ControlApi(Fleet& fleet, std::string token);
  ~ControlApi();
  // Binds 127.0.0.1:port and serves in a background thread; throws if the port is taken.
  void start(int port);
  void stop();

 private:
  Fleet& fleet_;
  std::string token_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace homestead::firmware
