#include "transactuation/runtime.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

namespace homestead::transactuation {

namespace {

bool resolved(ActuationState state) {
  return state == ActuationState::ok || state == ActuationState::failed || state == ActuationState::skipped;
}

std::string join(const std::vector<std::string>& parts, const char* separator = "; ") {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : separator) + part;
  return out;
}

std::vector<LockRequest> lock_set(const AppDefinition& app) {
  std::vector<LockRequest> locks;
  for (const auto& sensor : app.sensing.sensors) locks.push_back({device_resource(sensor.device), LockMode::shared});
  for (const auto& device : app.actuators) locks.push_back({device_resource(device), LockMode::exclusive});
  for (const auto& key : app.state_reads) locks.push_back({state_resource(key), LockMode::shared});
  for (const auto& key : app.state_writes) locks.push_back({state_resource(key), LockMode::exclusive});
  return normalize_locks(std::move(locks));
}

}  // namespace

Runtime::Runtime(RuntimeOptions options) : options_(options), next_id_(options.first_txn_id) {}

void Runtime::install(AppDefinition app) {
  validate(app);
  if (apps_.count(app.name)) throw AppError("name", "an app named \"" + app.name + "\" is already installed");
  const std::string name = app.name;
  InstalledApp& installed = apps_[name];
  installed.locks = lock_set(app);
  installed.definition = std::make_shared<const AppDefinition>(std::move(app));
}

bool Runtime::remove(const std::string& name) { return apps_.erase(name) > 0; }

bool Runtime::set_enabled(const std::string& name, bool enabled) {
  auto it = apps_.find(name);
  if (it == apps_.end()) return false;
  it->second.enabled = enabled;
  return true;
}

std::vector<std::string> Runtime::app_names() const {
  std::vector<std::string> names;
  for (const auto& [name, app] : apps_) names.push_back(name);
  return names;
}

const AppDefinition* Runtime::app(const std::string& name) const {
  auto it = apps_.find(name);
  return it == apps_.end() ? nullptr : it->second.definition.get();
}

const TransactuationRecord* Runtime::find_active(TxnId id) const {
  auto it = txns_.find(id);
  return it == txns_.end() ? nullptr : &it->second.rec;
}

const Reading* Runtime::latest(const SensorRef& ref) const {
  auto it = latest_.find(ref);
  return it == latest_.end() ? nullptr : &it->second;
}

Ready Runtime::take_ready() {
  Ready out = std::move(ready_);
  ready_ = Ready{};
  return out;
}

void Ready::serialise_outcomes() {
  for (auto& record : records) {
    if (record.kind != LogKind::outcome || !record.text.empty() || !record.body.is_null()) continue;
    for (const auto& done : finished) {
      if (done.id == record.txn) record.text = encode_record(done);
    }
  }
}

void Runtime::append(LogKind kind, const Txn& txn, bool sync) {
  // An intent or compensate record is serialised now (the record changes later); an outcome
  // record is left for Ready::serialise_outcomes, off the commit path.
  ready_.records.push_back(
      LogRecord{kind, txn.rec.id, Json(), kind == LogKind::outcome ? std::string() : encode_record(txn.rec)});
  ready_.sync = ready_.sync || sync;
}

// ---- inputs ----

TxnId Runtime::trigger(const std::string& name, Json payload, Time now) {
  auto it = apps_.find(name);
  if (it == apps_.end()) throw AppError("app", "no app named \"" + name + "\"");
  if (!it->second.enabled) throw AppError("app", "app \"" + name + "\" is disabled");
  const TxnId id = start(it->second, Json{{"kind", "api"}, {"payload", std::move(payload)}}, now);
  advance(now);
  return id;
}

void Runtime::on_reading(const Reading& reading, Time now) {
  auto [it, inserted] = latest_.try_emplace(reading.ref(), reading);
  // Readings can arrive out of order; an older one never replaces a newer one.
  if (!inserted && reading.effective_time() >= it->second.effective_time()) it->second = reading;
  for (auto& [name, app] : apps_) {
    if (!app.enabled) continue;
    for (const auto& trigger : app.definition->sensor_triggers) {
      if (trigger.sensor.device != reading.device || trigger.sensor.attribute != reading.attribute) continue;
      if (trigger.predicate && !trigger.predicate(reading)) continue;
      start(app,
            Json{{"kind", "sensor"}, {"device", reading.device}, {"attribute", reading.attribute},
                 {"value", reading.value}},
            now);
      break;
    }
  }
  advance(now);
}

ActuationRun* Runtime::find_run(TxnId id, const std::string& cmd_id) {
  auto it = txns_.find(id);
  if (it == txns_.end()) return nullptr;
  for (auto* runs : {&it->second.rec.actuations, &it->second.rec.compensations}) {
    for (auto& run : *runs) {
      if (run.cmd_id == cmd_id) return &run;
    }
  }
  return nullptr;
}

void Runtime::on_ack(const Ack& ack, Time now) {
  auto it = inflight_.find(ack.cmd_id);
  if (it == inflight_.end()) return;  // late or duplicate ack of something already resolved
  ActuationRun* run = find_run(it->second, ack.cmd_id);
  if (run != nullptr && run->state == ActuationState::sent && run->actuation.device == ack.device) {
    run->state = ack.ok ? ActuationState::ok : ActuationState::failed;
    run->error = ack.ok ? "" : "device: " + ack.reason;
    run->resolved_at = now;
    inflight_.erase(it);
  }
  advance(now);
}

void Runtime::on_status(const StatusReply& reply, Time now) {
  auto it = inflight_.find(reply.cmd_id);
  if (it == inflight_.end()) return;
  ActuationRun* run = find_run(it->second, reply.cmd_id);
  if (run != nullptr && run->state == ActuationState::sent && run->actuation.device == reply.device) {
    switch (reply.status) {
      case CommandStatus::ok: run->state = ActuationState::ok; break;
      case CommandStatus::error:
        run->state = ActuationState::failed;
        run->error = "device: " + reply.reason;
        break;
      case CommandStatus::unknown:
        run->state = ActuationState::failed;
        run->error = "never reached the device (status unknown; fenced)";
        break;
    }
    run->resolved_at = now;
    inflight_.erase(it);
  }
  advance(now);
}

void Runtime::tick(Time now) {
  for (auto& [name, app] : apps_) {
    if (!app.definition->every) continue;
    if (!app.next_fire) {
      app.next_fire = now + *app.definition->every;
      continue;
    }
    if (now >= *app.next_fire) {
      // One run per tick even if ticks were missed: a late gateway does not replay a burst.
      while (*app.next_fire <= now) *app.next_fire += *app.definition->every;
      if (app.enabled) start(app, Json{{"kind", "schedule"}}, now);
    }
  }
  advance(now);
}

std::optional<Time> Runtime::next_deadline() const {
  std::optional<Time> best;
  auto consider = [&](Time t) {
    if (!best || t < *best) best = t;
  };
  for (const auto& [name, app] : apps_) {
    if (app.next_fire) consider(*app.next_fire);
  }
  for (const auto& [id, txn] : txns_) {
    if (txn.phase == Phase::locking) consider(txn.lock_deadline);
    if (txn.phase == Phase::sensing) consider(txn.sensing_deadline);
    for (const auto* runs : {&txn.rec.actuations, &txn.rec.compensations}) {
      for (const auto& run : *runs) {
        if (run.state == ActuationState::sent) consider(run.deadline);
      }
    }
  }
  return best;
}

// ---- the life of a transactuation ----

TxnId Runtime::start(const InstalledApp& app, Json trigger, Time now) {
  const TxnId id = next_id_++;
  Txn txn;
  txn.app = app.definition;
  txn.rec.id = id;
  txn.rec.app = app.definition->name;
  txn.rec.trigger = std::move(trigger);
  txn.rec.triggered_at = now;
  txn.rec.actuating = app.definition->actuating;
  txn.rec.locks = app.locks;
  txn.lock_deadline = now + app.definition->lock_timeout;
  locks_.enqueue(id, txn.rec.locks);
  txns_.emplace(id, std::move(txn));
  return id;
}

void Runtime::advance(Time now) {
  // Finishing one transactuation releases locks that may let an earlier-checked one go, so
  // repeat until a full pass changes nothing.
  for (bool progressed = true; progressed;) {
    progressed = false;
    std::vector<TxnId> ids;
    for (const auto& [id, txn] : txns_) ids.push_back(id);
    for (TxnId id : ids) {
      auto it = txns_.find(id);
      if (it != txns_.end() && step(it->second, now)) progressed = true;
    }
  }
  grant_holds();
}

// ---- direct device commands ----

Runtime::HoldId Runtime::hold_device(const std::string& device, Time now) {
  const HoldId hold = kHoldBit | next_hold_++;
  locks_.enqueue(hold, {LockRequest{device_resource(device), LockMode::exclusive}});
  holds_.emplace(hold, false);
  advance(now);
  return hold;
}

void Runtime::release_device(HoldId hold, Time now) {
  if (holds_.erase(hold) == 0) return;
  locks_.release(hold);
  // A hold released before it was reported must not be reported after.
  std::erase(granted_holds_, hold);
  advance(now);  // transactuations (and holds) queued behind it may go now
}

std::vector<Runtime::HoldId> Runtime::take_granted_holds() { return std::exchange(granted_holds_, {}); }

void Runtime::grant_holds() {
  for (auto& [hold, reported] : holds_) {
    if (reported || !locks_.granted(hold)) continue;
    reported = true;
    granted_holds_.push_back(hold);
  }
}

bool Runtime::step(Txn& txn, Time now) {
  switch (txn.phase) {
    case Phase::locking:
      if (locks_.granted(txn.rec.id)) {
        txn.phase = Phase::sensing;
        txn.sensing_deadline = now + txn.app->sensing.wait_timeout;
        return true;
      }
      if (now >= txn.lock_deadline) {
        std::string blockers;
        for (TxnId other : locks_.blockers(txn.rec.id)) {
          blockers += (blockers.empty() ? "" : ",") +
                      (is_hold(other) ? "direct command " + std::to_string(other & ~kHoldBit) : std::to_string(other));
        }
        finish(txn, Status::aborted, Reason::conflict, "lock wait timed out behind transactuation(s) " + blockers, {}, now);
        return true;
      }
      return false;
    case Phase::sensing:
      return step_sensing(txn, now);
    case Phase::actuating:
      return drive_actuations(txn, txn.rec.actuations, false, now);
    case Phase::compensating:
      return drive_actuations(txn, txn.rec.compensations, true, now);
    case Phase::recovering:
      return drive_recovery(txn, now);
  }
  return false;
}

bool Runtime::step_sensing(Txn& txn, Time now) {
  const SensingPolicy& policy = txn.app->sensing;
  if (policy.window && !policy.window->contains(now, options_.utc_offset)) {
    finish(txn, Status::aborted, Reason::sensing, "outside the time window " + policy.window->text(), {}, now);
    return true;
  }
  const SensingCheck check = check_sensing(policy, [this](const SensorRef& ref) { return latest(ref); }, now);
  if (check.satisfied) {
    run_logic(txn, std::move(check.usable), now);
    return true;
  }
  if (now >= txn.sensing_deadline) {
    finish(txn, Status::aborted, Reason::sensing,
           "sensing policy " + policy.require.text() + " not met: " + join(check.failures), {}, now);
    return true;
  }
  return false;
}

void Runtime::run_logic(Txn& txn, std::map<SensorRef, Reading> usable, Time now) {
  const AppDefinition& app = *txn.app;
  LogicInput input;
  input.txn = txn.rec.id;
  input.now = now;
  input.trigger = txn.rec.trigger;
  input.readings = std::move(usable);
  for (const auto* keys : {&app.state_reads, &app.state_writes}) {
    for (const auto& key : *keys) {
      auto it = state_.find(key);
      input.state[key] = it == state_.end() ? Json() : it->second;
    }
  }
  txn.rec.logic_at = now;
  txn.rec.readings.reserve(input.readings.size());
  for (const auto& [ref, reading] : input.readings) {
    txn.rec.readings.push_back(ReadingUsed{reading, now - reading.effective_time()});
  }

  LogicResult result;
  std::optional<std::string> failure;
  try {
    result = app.logic(input);
  } catch (const std::exception& e) {
    failure = std::string("logic failed: ") + e.what();
  }
  txn.rec.state_read = std::move(input.state);  // the logic is done with its input
  if (failure) {
    finish(txn, Status::aborted, Reason::logic, std::move(*failure), {}, now);
    return;
  }
  // Touching anything undeclared would bypass the locks, so it aborts before anything is sent.
  // (The declared lists are a handful of names: a linear search beats building sets.)
  auto declared = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  std::vector<std::string> violations;
  for (const auto& [key, value] : result.state_writes) {
    if (!declared(app.state_writes, key)) violations.push_back("writes undeclared state key \"" + key + "\"");
  }
  for (const auto& actuation : result.actuations) {
    if (!declared(app.actuators, actuation.device)) {
      violations.push_back("commands undeclared device \"" + actuation.device + "\"");
    }
    for (const auto& [key, value] : actuation.writes_on_success) {
      if (!declared(app.state_writes, key)) violations.push_back("writes undeclared state key \"" + key + "\"");
    }
  }
  if (!violations.empty()) {
    finish(txn, Status::aborted, Reason::logic, join(violations), {}, now);
    return;
  }
  txn.rec.detail = result.note;
  if (result.actuations.empty()) {
    finish(txn, Status::committed, Reason::none, result.note.empty() ? "no actuations" : result.note,
           result.state_writes, now);
    return;
  }
  for (std::size_t i = 0; i < result.actuations.size(); ++i) {
    ActuationRun run;
    run.actuation = std::move(result.actuations[i]);
    run.cmd_id = std::to_string(txn.rec.id) + "." + std::to_string(i);
    run.seq = ++last_seq_[run.actuation.device];
    txn.rec.actuations.push_back(std::move(run));
  }
  txn.rec.state_writes = std::move(result.state_writes);
  append(LogKind::intent, txn, /*sync=*/true);
  txn.phase = Phase::actuating;
  drive_actuations(txn, txn.rec.actuations, false, now);
}

void Runtime::send(Txn& txn, ActuationRun& run, Time now) {
  ++run.attempts;
  if (run.attempts == 1) run.sent_at = now;
  run.state = ActuationState::sent;
  run.deadline = now + txn.rec.actuating.timeout;
  inflight_[run.cmd_id] = txn.rec.id;
  ready_.commands.push_back(
      Command{run.actuation.device, run.actuation.command, run.actuation.args, run.cmd_id, run.seq, txn.rec.id});
}

bool Runtime::drive_actuations(Txn& txn, std::vector<ActuationRun>& runs, bool is_compensation, Time now) {
  const ActuatingPolicy& policy = txn.rec.actuating;
  bool progressed = false;
  for (auto& run : runs) {
    if (run.state != ActuationState::sent || now < run.deadline) continue;
    if (run.attempts <= policy.retries) {
      send(txn, run, now);  // same cmd_id: a device that already acted answers with its old ack
    } else {
      run.state = ActuationState::failed;
      run.error = "timeout: no ack after " + std::to_string(run.attempts) + " attempt(s)";
      run.resolved_at = now;
      inflight_.erase(run.cmd_id);
    }
    progressed = true;
  }
  std::size_t ok = 0, undecided = 0;
  for (const auto& run : runs) {
    ok += run.state == ActuationState::ok;
    undecided += !resolved(run.state);
  }
  // Once the policy cannot hold any more, nothing new is sent (less to compensate).
  if (!is_compensation && !policy.require.still_possible(ok, undecided, runs.size())) {
    for (auto& run : runs) {
      if (run.state == ActuationState::pending) {
        run.state = ActuationState::skipped;
        run.error = "not sent: actuating policy " + policy.require.text() + " could no longer hold";
        progressed = true;
      }
    }
  }
  // Send what may go now: per device in list order; with `sequential`, one at a time and
  // only after everything before it succeeded.
  std::vector<const std::string*> busy_devices;  // a handful: linear search
  auto busy = [&](const std::string& device) {
    return std::any_of(busy_devices.begin(), busy_devices.end(), [&](const std::string* d) { return *d == device; });
  };
  for (std::size_t i = 0; i < runs.size(); ++i) {
    ActuationRun& run = runs[i];
    if (policy.sequential && !is_compensation) {
      if (run.state == ActuationState::sent) break;
      if (run.state == ActuationState::failed || run.state == ActuationState::skipped) {
        for (std::size_t j = i + 1; j < runs.size(); ++j) {
          if (runs[j].state == ActuationState::pending) {
            runs[j].state = ActuationState::skipped;
            runs[j].error = "not sent: an earlier step of a sequential transactuation failed";
            progressed = true;
          }
        }
        break;
      }
      if (run.state == ActuationState::pending) {
        send(txn, run, now);
        progressed = true;
        break;
      }
      continue;
    }
    if (run.state == ActuationState::pending && !busy(run.actuation.device)) {
      send(txn, run, now);
      progressed = true;
    }
    if (!resolved(run.state) && !busy(run.actuation.device)) busy_devices.push_back(&run.actuation.device);
  }
  if (std::all_of(runs.begin(), runs.end(), [](const ActuationRun& r) { return resolved(r.state); })) {
    if (is_compensation) {
      std::vector<std::string> failed;
      for (const auto& run : runs) {
        if (run.state != ActuationState::ok) failed.push_back(run.actuation.device + " " + run.error);
      }
      const Reason reason = txn.rec.reason;
      finish(txn, Status::aborted, reason,
             txn.rec.detail + (failed.empty() ? "; compensated" : "; compensation failed: " + join(failed)), {}, now);
    } else {
      decide(txn, now);
    }
    return true;
  }
  return progressed;
}

void Runtime::decide(Txn& txn, Time now) {
  auto& runs = txn.rec.actuations;
  std::size_t ok = 0;
  bool device_error = false;
  std::vector<std::string> failures;
  for (const auto& run : runs) {
    if (run.state == ActuationState::ok) {
      ++ok;
    } else {
      failures.push_back(run.actuation.device + "/" + run.actuation.command + ": " + run.error);
      device_error = device_error || run.error.rfind("device:", 0) == 0;
    }
  }
  const ActuatingPolicy& policy = txn.rec.actuating;
  const bool holds = policy.require.holds(ok, runs.size());
  if (holds || policy.on_failure == OnFailure::commit_partial) {
    // Planned writes plus the writes that claim an actuation, only for acked ones.
    std::map<std::string, Json> writes = txn.rec.state_writes;
    for (const auto& run : runs) {
      if (run.state != ActuationState::ok) continue;
      for (const auto& [key, value] : run.actuation.writes_on_success) writes[key] = value;
    }
    const std::string detail = failures.empty() ? txn.rec.detail : join(failures);
    finish(txn, holds ? Status::committed : Status::committed_partial, holds ? Reason::none : Reason::actuating,
           detail, std::move(writes), now);
    return;
  }
  Reason reason = txn.phase == Phase::recovering ? Reason::recovery
                  : device_error                 ? Reason::actuating
                                                 : Reason::timeout;
  txn.rec.reason = reason;
  txn.rec.detail = "actuating policy " + policy.require.text() + " not met (" + std::to_string(ok) + "/" +
                   std::to_string(runs.size()) + " ok): " + join(failures);
  if (policy.compensate) {
    for (const auto& run : runs) {
      if (run.state != ActuationState::ok || !run.actuation.compensation) continue;
      ActuationRun comp;
      comp.actuation.device = run.actuation.device;
      comp.actuation.command = run.actuation.compensation->command;
      comp.actuation.args = run.actuation.compensation->args;
      comp.cmd_id = std::to_string(txn.rec.id) + ".c" + std::to_string(txn.rec.compensations.size());
      comp.seq = ++last_seq_[comp.actuation.device];
      txn.rec.compensations.push_back(std::move(comp));
    }
  }
  if (txn.rec.compensations.empty()) {
    finish(txn, Status::aborted, reason, txn.rec.detail, {}, now);
    return;
  }
  append(LogKind::compensate, txn, /*sync=*/true);
  txn.phase = Phase::compensating;
  drive_actuations(txn, txn.rec.compensations, true, now);
}

void Runtime::finish(Txn& txn, Status status, Reason reason, std::string detail, std::map<std::string, Json> writes,
                     Time now) {
  txn.rec.status = status;
  txn.rec.reason = reason;
  txn.rec.detail = std::move(detail);
  txn.rec.finished_at = now;
  txn.rec.state_writes = std::move(writes);
  for (const auto& [key, value] : txn.rec.state_writes) state_[key] = value;
  for (const auto* runs : {&txn.rec.actuations, &txn.rec.compensations}) {
    for (const auto& run : *runs) inflight_.erase(run.cmd_id);
  }
  append(LogKind::outcome, txn, /*sync=*/false);
  const TxnId id = txn.rec.id;
  ready_.finished.push_back(std::move(txn.rec));  // txn is erased below: no copy needed
  locks_.release(id);
  txns_.erase(id);  // txn is dangling from here on
}

// ---- recovery ----

LogRecord Runtime::checkpoint() const {
  Json open = Json::array();
  for (const auto& [id, txn] : txns_) open.push_back(id);
  Json body = {{"state", state_}, {"last_seq", last_seq_}, {"open", std::move(open)}, {"next_id", next_id_}};
  std::string text = body.dump();
  return LogRecord{LogKind::checkpoint, 0, std::move(body), std::move(text)};
}

void Runtime::query(ActuationRun& run, Time now) {
  ++run.attempts;
  run.state = ActuationState::sent;
  run.deadline = now + options_.status_query_timeout;
  ready_.queries.push_back(StatusQuery{run.actuation.device, run.cmd_id, run.seq});
}

void Runtime::recover(const std::vector<LogRecord>& log, Time now) {
  std::map<TxnId, TransactuationRecord> open;
  std::vector<TxnId> order;
  std::set<TxnId> compensating;
  TxnId max_id = 0;
  for (const LogRecord& record : log) {
    if (record.kind == LogKind::checkpoint) {
      // Everything before it is summarised here; records of transactuations it does not name
      // as open may be gone (compaction), so forget any that are still there.
      const Json body = record.body.is_null() ? Json::parse(record.text) : record.body;
      state_ = body.at("state").get<std::map<std::string, Json>>();
      for (const auto& [device, seq] : body.at("last_seq").items()) {
        last_seq_[device] = std::max(last_seq_[device], seq.get<std::uint64_t>());
      }
      const auto still_open = body.at("open").get<std::set<TxnId>>();
      std::erase_if(open, [&](const auto& entry) { return still_open.count(entry.first) == 0; });
      std::erase_if(compensating, [&](TxnId id) { return still_open.count(id) == 0; });
      max_id = std::max(max_id, body.at("next_id").get<TxnId>() - 1);
      continue;
    }
    // Records straight from a Ready carry only their text; loaded ones carry the body.
    TransactuationRecord rec =
        record_from_json(record.body.is_null() && !record.text.empty() ? Json::parse(record.text) : record.body);
    max_id = std::max(max_id, rec.id);
    for (const auto* runs : {&rec.actuations, &rec.compensations}) {
      for (const auto& run : *runs) {
        auto& last = last_seq_[run.actuation.device];
        last = std::max(last, run.seq);
      }
    }
    switch (record.kind) {
      case LogKind::intent:
        if (!open.count(rec.id)) order.push_back(rec.id);
        open[rec.id] = std::move(rec);
        break;
      case LogKind::compensate:
        compensating.insert(rec.id);
        open[rec.id] = std::move(rec);
        break;
      case LogKind::checkpoint: break;  // handled above
      case LogKind::outcome:
        if (rec.status == Status::committed || rec.status == Status::committed_partial) {
          for (const auto& [key, value] : rec.state_writes) state_[key] = value;
        }
        open.erase(rec.id);
        break;
    }
  }
  next_id_ = std::max(next_id_, max_id + 1);
  for (TxnId id : order) {
    auto it = open.find(id);
    if (it == open.end()) continue;
    Txn txn;
    txn.rec = std::move(it->second);
    txn.rec.recovered = true;
    txn.phase = Phase::recovering;
    txn.recovering_compensations = compensating.count(id) > 0;
    // Queue the locks before any new transactuation can: recovery runs first.
    locks_.enqueue(id, txn.rec.locks);
    auto& runs = txn.recovering_compensations ? txn.rec.compensations : txn.rec.actuations;
    for (auto& run : runs) {
      if (resolved(run.state)) continue;  // decided before the crash (skipped ones were never sent)
      run.attempts = 0;
      query(run, now);
      inflight_[run.cmd_id] = id;
    }
    txns_.emplace(id, std::move(txn));
  }
  advance(now);
}

bool Runtime::drive_recovery(Txn& txn, Time now) {
  auto& runs = txn.recovering_compensations ? txn.rec.compensations : txn.rec.actuations;
  bool progressed = false;
  for (auto& run : runs) {
    if (run.state != ActuationState::sent || now < run.deadline) continue;
    if (run.attempts <= options_.status_query_retries) {
      query(run, now);
    } else {
      // Unreachable: we cannot tell whether it acted, so the state will not claim it.
      run.state = ActuationState::failed;
      run.error = "status unknown after recovery: device unreachable";
      run.resolved_at = now;
      inflight_.erase(run.cmd_id);
    }
    progressed = true;
  }
  if (!std::all_of(runs.begin(), runs.end(), [](const ActuationRun& r) { return resolved(r.state); })) {
    return progressed;
  }
  if (txn.recovering_compensations) {
    finish(txn, Status::aborted, txn.rec.reason, txn.rec.detail + "; compensations resolved by recovery", {}, now);
  } else {
    decide(txn, now);
  }
  return true;
}

}  // namespace homestead::transactuation
