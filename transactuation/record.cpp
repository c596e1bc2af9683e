#include "transactuation/record.h"

#include <stdexcept>

namespace homestead::transactuation {

const char* to_string(Status status) {
  switch (status) {
    case Status::running: return "running";
    case Status::committed: return "committed";
    case Status::committed_partial: return "committed_partial";
    case Status::aborted: return "aborted";
  }
  return "?";
}

const char* to_string(Reason reason) {
  switch (reason) {
    case Reason::none: return "none";
    case Reason::sensing: return "sensing";
    case Reason::actuating: return "actuating";
    case Reason::conflict: return "conflict";
    case Reason::timeout: return "timeout";
    case Reason::recovery: return "recovery";
    case Reason::logic: return "logic";
  }
  return "?";
}

const char* to_string(ActuationState state) {
  switch (state) {
    case ActuationState::pending: return "pending";
    case ActuationState::sent: return "sent";
    case ActuationState::ok: return "ok";
    case ActuationState::failed: return "failed";
    case ActuationState::skipped: return "skipped";
  }
  return "?";
}

const char* to_string(LogKind kind) {
  switch (kind) {
    case LogKind::intent: return "intent";
    case LogKind::compensate: return "compensate";
    case LogKind::outcome: return "outcome";
    case LogKind::checkpoint: return "checkpoint";
  }
  return "?";
}

namespace {

template <class Enum, std::size_t N>
Enum parse_enum(const std::string& text, const Enum (&values)[N], const char* what) {
  for (Enum value : values) {
    if (text == to_string(value)) return value;
  }
  throw std::runtime_error(std::string("unknown ") + what + " \"" + text + "\"");
}

const Status kStatuses[] = {Status::running, Status::committed, Status::committed_partial, Status::aborted};
const Reason kReasons[] = {Reason::none,    Reason::sensing,  Reason::actuating, Reason::conflict,
                           Reason::timeout, Reason::recovery, Reason::logic};
const ActuationState kStates[] = {ActuationState::pending, ActuationState::sent, ActuationState::ok,
                                  ActuationState::failed, ActuationState::skipped};
const LogKind kKinds[] = {LogKind::intent, LogKind::compensate, LogKind::outcome, LogKind::checkpoint};
const QuorumMode kModes[] = {QuorumMode::all, QuorumMode::any, QuorumMode::at_least, QuorumMode::none};

Json quorum_json(const Quorum& q) { return Json{{"mode", to_string(q.mode)}, {"k", q.k}}; }
Quorum quorum_from(const Json& j) {
  return Quorum{parse_enum(j.at("mode").get<std::string>(), kModes, "quorum"), j.at("k").get<std::size_t>()};
}

Json run_json(const ActuationRun& run) {
  Json j{{"device", run.actuation.device}, {"command", run.actuation.command}, {"args", run.actuation.args},
         {"cmd_id", run.cmd_id},           {"seq", run.seq},                   {"state", to_string(run.state)},
         {"attempts", run.attempts},       {"error", run.error},               {"sent_at", run.sent_at},
         {"resolved_at", run.resolved_at}};
  if (run.actuation.compensation) {
    j["compensation"] = Json{{"command", run.actuation.compensation->command},
                             {"args", run.actuation.compensation->args}};
  }
  if (!run.actuation.writes_on_success.empty()) j["writes_on_success"] = run.actuation.writes_on_success;
  return j;
}

ActuationRun run_from(const Json& j) {
  ActuationRun run;
  run.actuation.device = j.at("device").get<std::string>();
  run.actuation.command = j.at("command").get<std::string>();
  run.actuation.args = j.at("args");
  if (j.contains("compensation")) {
    run.actuation.compensation =
        Compensation{j["compensation"].at("command").get<std::string>(), j["compensation"].at("args")};
  }
  if (j.contains("writes_on_success")) {
    run.actuation.writes_on_success = j["writes_on_success"].get<std::map<std::string, Json>>();
  }
  run.cmd_id = j.at("cmd_id").get<std::string>();
  run.seq = j.at("seq").get<std::uint64_t>();
  run.state = parse_enum(j.at("state").get<std::string>(), kStates, "actuation state");
  run.attempts = j.at("attempts").get<int>();
  run.error = j.at("error").get<std::string>();
  run.sent_at = j.at("sent_at").get<Time>();
  run.resolved_at = j.at("resolved_at").get<Time>();
  return run;
}

}  // namespace

Json to_json(const TransactuationRecord& r) {
  Json readings = Json::array();
  for (const auto& used : r.readings) {
    readings.push_back(Json{{"device", used.reading.device},
                            {"attribute", used.reading.attribute},
                            {"value", used.reading.value},
                            {"device_time", used.reading.device_time},
                            {"received_time", used.reading.received_time},
                            {"age", used.age}});
  }
  Json actuations = Json::array(), compensations = Json::array();
  for (const auto& run : r.actuations) actuations.push_back(run_json(run));
  for (const auto& run : r.compensations) compensations.push_back(run_json(run));
  Json locks = Json::array();
  for (const auto& lock : r.locks) {
    locks.push_back(Json{{"resource", lock.resource}, {"exclusive", lock.mode == LockMode::exclusive}});
  }
  return Json{{"id", r.id},
              {"app", r.app},
              {"trigger", r.trigger},
              {"triggered_at", r.triggered_at},
              {"logic_at", r.logic_at},
              {"finished_at", r.finished_at},
              {"status", to_string(r.status)},
              {"reason", to_string(r.reason)},
              {"detail", r.detail},
              {"readings", readings},
              {"state_read", r.state_read},
              {"actuations", actuations},
              {"compensations", compensations},
              {"state_writes", r.state_writes},
              {"actuating",
               {{"require", quorum_json(r.actuating.require)},
                {"timeout", r.actuating.timeout},
                {"retries", r.actuating.retries},
                {"on_failure", to_string(r.actuating.on_failure)},
                {"compensate", r.actuating.compensate},
                {"sequential", r.actuating.sequential}}},
              {"locks", locks},
              {"recovered", r.recovered}};
}

TransactuationRecord record_from_json(const Json& j) {
  TransactuationRecord r;
  r.id = j.at("id").get<TxnId>();
  r.app = j.at("app").get<std::string>();
  r.trigger = j.at("trigger");
  r.triggered_at = j.at("triggered_at").get<Time>();
  r.logic_at = j.at("logic_at").get<Time>();
  r.finished_at = j.at("finished_at").get<Time>();
  r.status = parse_enum(j.at("status").get<std::string>(), kStatuses, "status");
  r.reason = parse_enum(j.at("reason").get<std::string>(), kReasons, "reason");
  r.detail = j.at("detail").get<std::string>();
  for (const auto& used : j.at("readings")) {
    ReadingUsed u;
    u.reading = Reading{used.at("device").get<std::string>(), used.at("attribute").get<std::string>(),
                        used.at("value"), used.at("device_time").get<Time>(), used.at("received_time").get<Time>()};
    u.age = used.at("age").get<Time>();
    r.readings.push_back(std::move(u));
  }
  r.state_read = j.at("state_read").get<std::map<std::string, Json>>();
  for (const auto& run : j.at("actuations")) r.actuations.push_back(run_from(run));
  for (const auto& run : j.at("compensations")) r.compensations.push_back(run_from(run));
  r.state_writes = j.at("state_writes").get<std::map<std::string, Json>>();
  const Json& a = j.at("actuating");
  r.actuating.require = quorum_from(a.at("require"));
  r.actuating.timeout = a.at("timeout").get<Time>();
  r.actuating.retries = a.at("retries").get<int>();
  r.actuating.on_failure = a.at("on_failure").get<std::string>() == "ABORT" ? OnFailure::abort : OnFailure::commit_partial;
  r.actuating.compensate = a.at("compensate").get<bool>();
  r.actuating.sequential = a.at("sequential").get<bool>();
  for (const auto& lock : j.at("locks")) {
    r.locks.push_back(LockRequest{lock.at("resource").get<std::string>(),
                                  lock.at("exclusive").get<bool>() ? LockMode::exclusive : LockMode::shared});
  }
  r.recovered = j.at("recovered").get<bool>();
  return r;
}

LogKind parse_log_kind(const std::string& text) { return parse_enum(text, kKinds, "log record kind"); }

std::string body_text(const LogRecord& record) { return record.text.empty() ? record.body.dump() : record.text; }

std::string encode_log_record(const LogRecord& record) {
  // Spliced by hand so an already serialised body is not parsed and dumped again.
  return std::string("{\"kind\":\"") + to_string(record.kind) + "\",\"txn\":" + std::to_string(record.txn) +
         ",\"body\":" + body_text(record) + "}";
}

bool droppable_before_checkpoint(const LogRecord& record, const std::set<TxnId>& open) {
  return record.kind == LogKind::checkpoint || open.count(record.txn) == 0;
}

LogRecord decode_log_record(const std::string& text) {
  try {
    const Json j = Json::parse(text);
    return LogRecord{parse_log_kind(j.at("kind").get<std::string>()), j.at("txn").get<TxnId>(), j.at("body"), {}};
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("bad intent-log record: ") + e.what());
  }
}

}  // namespace homestead::transactuation
