// Plain copies of gatewayd's runtime state for its part of a live global snapshot (issue 10
// item 4: "gateway: open transactuations, outbox depth, device command states"). The owners
// fill them under their own locks (the transactuation runtime on its thread, the command
// tracker under the ingest mutex) and nothing else: formatting and capping happen outside
// those locks (snapshot_agent.h, runtime_state_json), so a snapshot never holds the gateway's
// hot paths for longer than a copy. Plain types only, so the formatting needs no gateway
// library (the snapshot tests compile snapshot_agent.cpp on its own).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace homestead::gateway {

// One command not yet final: a REST command (origin "api") or a transactuation's actuation
// (origin "transactuation:<id>").
struct OpenCommandView {
  std::string id;  // command_id / cmd_id
  std::string device;
  std::string command;
  std::string status;  // pending | sent (REST); pending | sent (actuation states)
  std::string origin;
  std::int64_t since_ms = 0;  // created (pending) or sent, wall ms
  bool waiting_for_device = false;  // a REST command queued behind transactuations on its device
};

struct TransactuationView {
  std::uint64_t id = 0;
  std::string app;
  // locking_or_sensing | actuating | compensating | recovering (derived from the record: the
  // runtime does not tell waiting for locks from waiting for sensing apart).
  std::string phase;
  std::int64_t triggered_at_us = 0;  // wall clock, microseconds
  bool recovered = false;            // re-opened by recovery after a restart
  // Devices it locks ("device:<id>" resources): held once its logic ran (all locks are taken
  // before sensing), else held or still queued.
  std::vector<std::pair<std::string, std::string>> devices;  // device, shared|exclusive
  std::vector<std::string> state_keys;                       // app-state keys it locks
  std::vector<OpenCommandView> commands;                     // its actuations not yet final
  std::size_t actuations = 0;                                // all of them, final or not
};

// What the runtime had open; `total` may exceed items.size() (copied at most a cap).
struct OpenTransactuations {
  std::vector<TransactuationView> items;
  std::size_t total = 0;
  // REST commands holding or waiting for their device in the runtime's lock queue.
  std::vector<OpenCommandView> waiting_commands;
};

struct FinalCommandCounts {
  std::uint64_t acked = 0;
  std::uint64_t failed = 0;
  std::uint64_t expired = 0;
};

// Everything the gateway adds to its recorded part besides the outbox.
struct RuntimeStateCopy {
  // nullopt: transactuations are off, or the runtime did not answer in time (`why`).
  std::optional<OpenTransactuations> transactuations;
  std::string transactuations_unavailable;  // why, when nullopt
  std::vector<OpenCommandView> open_commands;  // the command tracker's, at most a cap
  std::size_t open_commands_total = 0;
  std::size_t open_commands_pending = 0;  // of open_commands_total; the rest are sent
  std::map<std::string, FinalCommandCounts> final_counts;  // per device, since this process started
};

}  // namespace homestead::gateway
