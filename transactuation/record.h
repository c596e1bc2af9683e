// The full record of one transactuation (what REST `GET /api/v1/transactuations/{id}` will
// show) and the intent-log records the runtime persists. Records are JSON on disk so the
// log stays readable with the sqlite3 shell and survives struct changes.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "transactuation/app.h"
#include "transactuation/lock_table.h"
#include "transactuation/model.h"
#include "transactuation/policy.h"

namespace homestead::transactuation {

enum class Status { running, committed, committed_partial, aborted };
// Why it ended the way it did: `none` for a clean commit.
enum class Reason { none, sensing, actuating, conflict, timeout, recovery, logic };
const char* to_string(Status status);
const char* to_string(Reason reason);

enum class ActuationState {
  pending,  // decided, not yet sent
  sent,     // in flight (attempts > 0), or a status query is out during recovery
  ok,       // acked ok
  failed,   // acked error, timed out after retries, or unknown after recovery
  skipped   // never sent: the policy could no longer hold
};
const char* to_string(ActuationState state);

struct ActuationRun {
  Actuation actuation;
  std::string cmd_id;
  std::uint64_t seq = 0;
  ActuationState state = ActuationState::pending;
  int attempts = 0;
  std::string error;
  Time sent_at = 0;
  Time resolved_at = 0;
  Time deadline = 0;  // current attempt's timeout (not persisted)
};

struct ReadingUsed {
  Reading reading;
  Time age = 0;  // at the moment the logic ran
};

struct TransactuationRecord {
  TxnId id = 0;
  std::string app;
  Json trigger;
  Time triggered_at = 0;
  Time logic_at = 0;
  Time finished_at = 0;
  Status status = Status::running;
  Reason reason = Reason::none;
  std::string detail;
  std::vector<ReadingUsed> readings;
  std::map<std::string, Json> state_read;
  std::vector<ActuationRun> actuations;
  std::vector<ActuationRun> compensations;
  std::map<std::string, Json> state_writes;  // planned (intent) / applied (outcome)
  ActuatingPolicy actuating;
  std::vector<LockRequest> locks;
  bool recovered = false;  // finished by recovery after a gateway restart
};

Json to_json(const TransactuationRecord& record);
TransactuationRecord record_from_json(const Json& json);  // throws std::exception on bad input
// to_json(record).dump() without building the JSON tree (same values; it is on the commit
// path for intent records).
std::string encode_record(const TransactuationRecord& record);

enum class LogKind {
  intent,      // about to send these actuations; durable before any of them leaves
  compensate,  // about to send these compensations; durable before any of them leaves
  outcome,     // finished; committed state writes become part of the app state
  // Compaction: the app state, last seq per device and the ids of the transactuations open
  // when it was written (txn = 0; body = Runtime::checkpoint()). For recovery it replaces
  // every record before it except those of the open ones, so those may be dropped.
  checkpoint
};

const char* to_string(LogKind kind);
LogKind parse_log_kind(const std::string& text);  // throws std::runtime_error

// A record of the intent log. What the runtime hands out carries `text` (the record already
// serialised, which is what the log stores); what IntentLog::load() returns carries the
// parsed `body`. Whoever stores a record uses body_text(), which takes either.
struct LogRecord {
  LogKind kind = LogKind::intent;
  TxnId txn = 0;
  Json body;         // to_json(record) at that moment, parsed
  std::string text;  // the same, serialised; empty when only `body` is set
};

// The record's JSON text: `text` if set, else body.dump().
std::string body_text(const LogRecord& record);
std::string encode_log_record(const LogRecord& record);
LogRecord decode_log_record(const std::string& text);  // throws std::runtime_error
// True when compaction may drop `record`, which precedes a checkpoint naming `open` (every
// record of a transactuation not open then, and older checkpoints).
bool droppable_before_checkpoint(const LogRecord& record, const std::set<TxnId>& open);

}  // namespace homestead::transactuation
