// Failure-free trigger -> commit latency of each built-in app, the transactuation version
// (runtime + Driver + real SQLite intent log, WAL, synchronous=FULL) against the hand-written
// naive version (naive_apps.h: commands sent, state written after the acks, no guarantees),
// with the SAME sampled device latencies trial by trial. The naive "commit" is its state
// write after its acks (in memory, as a hub's app state); the transactuation's is the moment
// the Driver reports the committed record (after its intent record was fsynced and its acks
// came in; the outcome record is group-committed off the critical path).
// The devices are in-process and behave as firmware-sim: actuate after the kind's latency,
// then ack; a repeat of a command still actuating is answered by its one ack.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "devices/catalog.h"
#include "firmware-sim/latency.h"
#include "transactuation/model.h"

namespace homestead::transactuation::bench {

// The five built-in apps, in table order, configured as in the emulated default home
// (deploy/apps/builtin-default-home.json, plus the gas valve fire_safety can close).
const std::vector<std::string>& builtin_app_names();
// Every actuator of that home with its device kind (for firmware-sim's latency model).
const std::map<std::string, devices::Kind>& home_actuators();

struct LatencySamples {
  std::vector<Time> naive;           // microseconds, one per trial
  std::vector<Time> transactuation;  // microseconds, one per trial
  std::vector<Time> flushes;         // microseconds, every fsync of the intent log in those trials
  // Per trial, between trigger and commit: time in IntentLog::append (JSON + INSERT) and in
  // IntentLog::sync (COMMIT = WAL fsync), microseconds.
  std::vector<Time> path_append;
  std::vector<Time> path_sync;
  std::vector<Time> path_core;  // inside the runtime core's input calls (on_reading, on_ack, tick)
  std::vector<int> path_sync_count;  // how many syncs (fsyncs) happened between trigger and commit
};

// Runs `latencies.size()` trials of `app`, alternating naive and transactuation trial by
// trial (so drift in machine load hits both alike), the SQLite database at `db`.
LatencySamples measure_latency(const std::string& app, const std::vector<std::map<std::string, Time>>& latencies,
                               const std::filesystem::path& db);

}  // namespace homestead::transactuation::bench
