#include "gateway/transactuation_service.h"

#include <chrono>
#include <fstream>
#include <future>

#include "common/log/log.h"
#include "gateway/api_error.h"
#include "gateway/auth.h"
#include "gateway/builtin_app_config.h"
#include "transactuation/json_app.h"

namespace homestead::gateway {
namespace {

namespace tx = homestead::transactuation;
using nlohmann::json;

const log::Logger logger("transactuation");

tx::Time now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The API view of a record: the runtime's JSON plus the timings a user asks about first.
json run_json(const tx::TransactuationRecord& record) {
  json j = tx::to_json(record);
  json timings = {{"triggered_at_us", record.triggered_at}};
  if (record.logic_at > 0) timings["sensing_us"] = record.logic_at - record.triggered_at;
  if (record.finished_at > 0) timings["total_us"] = record.finished_at - record.triggered_at;
  j["timings"] = timings;
  return j;
}

bool known_status(const std::string& s) {
  return s.empty() || s == "running" || s == "committed" || s == "committed_partial" || s == "aborted";
}

}  // namespace

TransactuationService::TransactuationService(const GatewayConfig& config, std::string home,
                                             MqttDeviceBus::KindOf kind_of, MqttDeviceBus::Publish publish,
                                             Metrics& metrics)
    : config_(config), home_(std::move(home)), metrics_(metrics) {
  const auto& settings = config_.transactuations;
  log_ = std::make_unique<tx::SqliteIntentLog>(config_.intent_log_path());
  tx::RuntimeOptions options;
  options.first_txn_id = (log_->epoch() << 32) | 1;
  options.utc_offset = settings.utc_offset_s * tx::kSecond;
  runtime_ = std::make_unique<tx::Runtime>(options);
  seen_up_to_ = runtime_->next_txn_id();
  // Refusals go through the queue: the bus is called from inside Driver::pump.
  bus_ = std::make_unique<MqttDeviceBus>(home_, std::move(kind_of), std::move(publish), [this](const tx::Ack& ack) {
    post([this, ack](tx::Time now) { runtime_->on_ack(ack, now); });
  });
  driver_ = std::make_unique<tx::Driver>(*runtime_, *log_, *bus_, settings.flush_interval_ms * tx::kMillisecond,
                                         [this](const tx::TransactuationRecord& r) { finished(r); });

  for (auto& app : builtin_apps_from_config(settings.builtin)) {
    apps_[app.name] = {"builtin", json::object()};
    runtime_->install(std::move(app));
  }
  for (const auto& file : settings.app_files) {
    std::vector<tx::AppDefinition> loaded;
    try {
      loaded = tx::load_apps_file(file);
    } catch (const tx::AppError& e) {
      throw tx::AppError(e.field(), "transactuations.app_files: " + file + ": " + e.message());
    }
    for (const auto& app : loaded) apps_[app.name] = {"file", app.source};
    tx::install_all(*runtime_, std::move(loaded));
  }
  load_api_apps();
}

TransactuationService::~TransactuationService() { stop(); }

void TransactuationService::load_api_apps() {
  const auto path = std::filesystem::path(config_.data_dir) / "apps.json";
  std::ifstream in(path);
  if (!in) return;
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": not valid JSON: " + e.what());
  }
  std::vector<tx::AppDefinition> loaded;
  for (const auto& def : doc.value("apps", json::array())) loaded.push_back(tx::load_app(def));
  for (const auto& app : loaded) apps_[app.name] = {"api", app.source};
  tx::install_all(*runtime_, std::move(loaded));
  for (const auto& name : doc.value("disabled", json::array())) {
    if (runtime_->set_enabled(name, false)) disabled_.insert(name);
  }
}

void TransactuationService::save_api_apps() {
  json doc = {{"apps", json::array()}, {"disabled", disabled_}};
  for (const auto& [name, info] : apps_)
    if (info.origin == "api") doc["apps"].push_back(info.source);
  const auto path = std::filesystem::path(config_.data_dir) / "apps.json";
  const auto tmp = path.string() + ".tmp";
  write_secret_file(tmp, doc.dump(2) + "\n");
  std::filesystem::rename(tmp, path);
}

void TransactuationService::start() {
  {
    std::lock_guard lock(mutex_);
    if (started_) return;
    started_ = true;
    stopping_ = false;
  }
  const auto now = now_us();
  // Ids of transactuations recovery re-opens: intents without an outcome.
  std::set<tx::TxnId> open;
  std::vector<std::pair<std::uint64_t, json>> finished_records;
  for (const auto& record : log_->load()) {
    if (record.kind == tx::LogKind::outcome) {
      open.erase(record.txn);
      history_[record.txn] = record.body;
      if (record_sink_) finished_records.emplace_back(record.txn, record.body);
    } else if (record.kind != tx::LogKind::checkpoint) {
      open.insert(record.txn);
    }
  }
  if (record_sink_ && !finished_records.empty()) record_sink_(finished_records);
  while (history_.size() > static_cast<std::size_t>(config_.transactuations.history)) history_.erase(history_.begin());
  driver_->recover(now);
  for (auto id : open)
    if (runtime_->find_active(id)) running_.insert(id);
  logger.info("transactuation runtime started",
              {{"log", config_.intent_log_path().string()}, {"epoch", std::to_string(log_->epoch())},
               {"apps", std::to_string(apps_.size())}, {"recovering", std::to_string(running_.size())}});
  thread_ = std::thread([this] { loop(); });
}

void TransactuationService::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TransactuationService::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

namespace {
// The service whose runtime this thread may touch now: set for the loop thread, and for a
// caller thread while it holds the runtime's role (call() below).
thread_local const TransactuationService* runtime_role_of = nullptr;
}  // namespace

bool TransactuationService::on_runtime_role() const { return runtime_role_of == this; }

json TransactuationService::call(std::function<json(tx::Time)> fn) {
  if (on_runtime_role()) return fn(now_us());
  bool in_its_place = false;
  {
    std::lock_guard lock(mutex_);
    if (!started_ || stopping_) throw ApiError(503, "unavailable", "the transactuation runtime is not running");
    // The runtime thread is asleep with nothing queued: run fn here, in its place, instead
    // of waking it and waiting to be woken back (two thread switches, ~90 us of a REST
    // command's ~1 ms on the 2-core board). Order holds: nothing older is queued, and the
    // loop does not run anything while the role is taken (loop()).
    if (loop_idle_ && !role_taken_ && queue_.empty()) role_taken_ = in_its_place = true;
  }
  if (in_its_place) {
    runtime_role_of = this;
    const auto give_back = [this] {
      runtime_role_of = nullptr;
      {
        std::lock_guard lock(mutex_);
        role_taken_ = false;
      }
      // The loop recomputes its next wake-up (fn may have set a timer) and does the tick
      // work it does after every task.
      wake_.notify_all();
    };
    try {
      const auto now = now_us();
      auto result = fn(now);
      pump(now);
      give_back();
      return result;
    } catch (...) {
      give_back();
      throw;
    }
  }
  auto promise = std::make_shared<std::promise<json>>();
  auto result = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    if (!started_ || stopping_) throw ApiError(503, "unavailable", "the transactuation runtime is not running");
    queue_.push_back([fn = std::move(fn), promise](tx::Time now) {
      try {
        promise->set_value(fn(now));
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
  }
  wake_.notify_one();
  return result.get();
}

void TransactuationService::loop() {
  runtime_role_of = this;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      lock.unlock();
      const auto wake = driver_->next_wakeup();  // runtime state: read on this thread only
      lock.lock();
      if (!queue_.empty() || stopping_) continue;
      // Periodic apps and timeouts have deadlines; a second is the longest nap so a clock
      // step never leaves the runtime asleep for long.
      tx::Time nap = tx::kSecond;
      if (wake) nap = std::clamp<tx::Time>(*wake - now_us(), 0, tx::kSecond);
      if (nap > 0) {
        loop_idle_ = true;
        wake_.wait_for(lock, std::chrono::microseconds(nap));
        loop_idle_ = false;  // awake: no caller starts in this thread's place from now on
        // One may still be running in it (call()).
        wake_.wait(lock, [&] { return !role_taken_; });
      }
    }
    std::deque<Task> batch;
    batch.swap(queue_);
    lock.unlock();
    for (auto& task : batch) {
      const auto now = now_us();
      try {
        task(now);
      } catch (const std::exception& e) {
        logger.error("runtime input failed", {{"error", e.what()}});
      }
      pump(now);
    }
    const auto now = now_us();
    runtime_->tick(now);
    pump(now);
    driver_->flush_if_due(now);
    compact_if_due(now);
    lock.lock();
  }
}

void TransactuationService::pump(tx::Time now) {
  driver_->pump(now);
  for (auto hold : runtime_->take_granted_holds()) {
    auto it = holds_.find(hold);
    if (it == holds_.end()) continue;
    auto on_granted = std::move(it->second.on_granted);
    if (!on_granted) continue;  // granted at once: the caller sent it itself
    try {
      on_granted();  // may post release_device(): it runs after this, on this thread
    } catch (const std::exception& e) {
      logger.error("direct command after its device hold failed", {{"command", it->second.key}, {"error", e.what()}});
    }
  }
  for (auto id = seen_up_to_; id < runtime_->next_txn_id(); ++id) {
    if (runtime_->find_active(id)) running_.insert(id);
  }
  seen_up_to_ = runtime_->next_txn_id();
}

void TransactuationService::compact_if_due(tx::Time now) {
  // The intent log would grow without bound: once enough records were appended since the
  // last checkpoint, write one and drop what it summarises (transactuation/README.md).
  if (driver_->stats().records < records_at_compaction_ + kCompactEveryRecords) return;
  try {
    const auto reclaimed = driver_->compact(now);
    records_at_compaction_ = driver_->stats().records;
    metrics_.add("homestead_transactuation_log_bytes_reclaimed_total", "", static_cast<double>(reclaimed));
    logger.info("intent log compacted", {{"bytes_reclaimed", std::to_string(reclaimed)},
                                         {"open", std::to_string(runtime_->active())}});
  } catch (const std::exception& e) {
    records_at_compaction_ = driver_->stats().records;  // try again after as many records
    metrics_.add("homestead_db_errors_total");
    logger.error("intent log compaction failed", {{"error", e.what()}});
  }
}

void TransactuationService::install_builtin(tx::AppDefinition app) {
  apps_[app.name] = {"builtin", json::object()};
  runtime_->install(std::move(app));
}

void TransactuationService::finished(const tx::TransactuationRecord& record) {
  running_.erase(record.id);
  history_[record.id] = run_json(record);
  if (record_sink_) {
    try {
      record_sink_({{record.id, history_[record.id]}});
    } catch (const std::exception& e) {
      // start() hands it over again from the intent log.
      metrics_.add("homestead_db_errors_total");
      logger.error("transactuation record not queued for the cloud", {{"id", std::to_string(record.id)}, {"error", e.what()}});
    }
  }
  while (history_.size() > static_cast<std::size_t>(config_.transactuations.history)) history_.erase(history_.begin());
  metrics_.add("homestead_transactuations_total", "status=\"" + std::string(tx::to_string(record.status)) +
                                                      "\",reason=\"" + tx::to_string(record.reason) + "\"");
  logger.info("transactuation finished", {{"id", std::to_string(record.id)}, {"app", record.app},
                                          {"status", tx::to_string(record.status)},
                                          {"reason", tx::to_string(record.reason)}, {"detail", record.detail}});
}

void TransactuationService::on_report(const std::string& device, const json& state, std::int64_t device_ts_ms,
                                      std::int64_t received_ms) {
  auto readings = readings_from_report(device, state, device_ts_ms, received_ms);
  if (readings.empty()) return;
  post([this, readings = std::move(readings)](tx::Time now) {
    for (const auto& r : readings) runtime_->on_reading(r, now);
  });
}

bool TransactuationService::on_ack(const std::string& device, const devices::Ack& ack) {
  auto answer = answer_from_ack(device, ack);
  if (!answer) return false;
  if (answer->ack) post([this, a = *answer->ack](tx::Time now) { runtime_->on_ack(a, now); });
  if (answer->status) post([this, s = *answer->status](tx::Time now) { runtime_->on_status(s, now); });
  return true;
}

bool TransactuationService::hold_device(const std::string& device, const std::string& key,
                                        std::function<void()> on_granted) {
  auto take = [this, device, key, on_granted](tx::Time now) {
    const auto hold = runtime_->hold_device(device, now);
    const bool granted = runtime_->hold_granted(hold);
    holds_[hold] = DeviceHold{key, granted ? std::function<void()>() : on_granted, device, now};
    hold_by_key_[key] = hold;
    return granted;
  };
  try {
    return call([take](tx::Time now) { return json(take(now)); }).get<bool>();
  } catch (const ApiError&) {
    // Not running yet (no broker connection so far): queue it for when it starts.
    post([take](tx::Time now) { take(now); });
    return false;
  }
}

namespace {

// What a snapshot shows of an open transactuation; the record says which phase it is in.
TransactuationView view_of(const tx::TransactuationRecord& record) {
  TransactuationView view;
  view.id = record.id;
  view.app = record.app;
  view.triggered_at_us = record.triggered_at;
  view.recovered = record.recovered;
  view.actuations = record.actuations.size();
  const auto open_state = [](tx::ActuationState state) {
    return state == tx::ActuationState::pending || state == tx::ActuationState::sent;
  };
  bool compensating = false;
  for (const auto& run : record.compensations) compensating = compensating || open_state(run.state);
  view.phase = record.recovered    ? "recovering"
               : compensating      ? "compensating"
               : record.logic_at == 0 ? "locking_or_sensing"
                                      : "actuating";
  const std::string device_prefix = "device:", state_prefix = "state:";
  for (const auto& lock : record.locks) {
    const char* mode = lock.mode == tx::LockMode::exclusive ? "exclusive" : "shared";
    if (lock.resource.rfind(device_prefix, 0) == 0) view.devices.emplace_back(lock.resource.substr(device_prefix.size()), mode);
    if (lock.resource.rfind(state_prefix, 0) == 0) view.state_keys.push_back(lock.resource.substr(state_prefix.size()));
  }
  const std::string origin = "transactuation:" + std::to_string(record.id);
  for (const auto* runs : {&record.actuations, &record.compensations}) {
    for (const auto& run : *runs) {
      if (!open_state(run.state)) continue;
      const auto since_us = run.sent_at > 0 ? run.sent_at : record.logic_at;
      view.commands.push_back({run.cmd_id, run.actuation.device, run.actuation.command, tx::to_string(run.state), origin,
                               since_us / 1000, false});
    }
  }
  return view;
}

}  // namespace

std::optional<OpenTransactuations> TransactuationService::open_transactuations(std::size_t max,
                                                                               std::chrono::milliseconds wait) {
  auto promise = std::make_shared<std::promise<OpenTransactuations>>();
  auto copied = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    if (!started_ || stopping_) return std::nullopt;
    // Only a copy of what is open on this thread; the caller formats it (snapshot_agent.h).
    queue_.push_back([this, max, promise](tx::Time) {
      OpenTransactuations open;
      open.total = running_.size();
      for (auto id : running_) {
        if (open.items.size() >= max) break;
        if (const auto* record = runtime_->find_active(id)) open.items.push_back(view_of(*record));
      }
      for (const auto& [hold, held] : holds_) {
        if (open.waiting_commands.size() >= max) break;
        if (runtime_->hold_granted(hold)) continue;  // granted: the command tracker has it
        open.waiting_commands.push_back({held.key, held.device, "", "pending", "api", held.since / 1000, true});
      }
      promise->set_value(std::move(open));
    });
  }
  wake_.notify_one();
  if (copied.wait_for(wait) != std::future_status::ready) return std::nullopt;
  try {
    return copied.get();
  } catch (const std::exception&) {
    return std::nullopt;  // the copy failed on the runtime thread (logged there)
  }
}

void TransactuationService::release_device(const std::string& key) {
  post([this, key](tx::Time now) {
    auto it = hold_by_key_.find(key);
    if (it == hold_by_key_.end()) return;  // never held (e.g. a command recovered after a restart)
    const auto hold = it->second;
    hold_by_key_.erase(it);
    holds_.erase(hold);
    runtime_->release_device(hold, now);
  });
}

json TransactuationService::list_apps() {
  return call([this](tx::Time) {
    json out = json::array();
    for (const auto& name : runtime_->app_names()) out.push_back(get_app(name));
    return json{{"apps", out}};
  });
}

// Runs on the runtime thread (from list_apps) or takes the call itself.
json TransactuationService::get_app(const std::string& name) {
  auto describe = [this, name](tx::Time) -> json {
    const auto* app = runtime_->app(name);
    if (!app) throw ApiError(404, "not_found", "app '" + name + "' not found");
    const auto it = apps_.find(name);
    json triggers = json::array();
    for (const auto& t : app->sensor_triggers) triggers.push_back(t.sensor.text());
    json j = {{"name", name},
              {"origin", it == apps_.end() ? "api" : it->second.origin},
              {"enabled", !disabled_.count(name)},
              {"sensor_triggers", triggers},
              {"actuators", app->actuators},
              {"state_reads", app->state_reads},
              {"state_writes", app->state_writes}};
    if (app->every) j["every_s"] = static_cast<double>(*app->every) / tx::kSecond;
    if (it != apps_.end() && !it->second.source.empty()) j["definition"] = it->second.source;
    return j;
  };
  return call(describe);
}

json TransactuationService::install_app(const json& definition) {
  return call([this, definition](tx::Time) {
    tx::AppDefinition app;
    try {
      app = tx::load_app(definition);
    } catch (const tx::AppError& e) {
      throw ApiError(400, "invalid_app", e.what());
    }
    if (runtime_->app(app.name)) throw ApiError(409, "conflict", "app '" + app.name + "' already exists");
    const auto name = app.name;
    apps_[name] = {"api", app.source};
    try {
      runtime_->install(std::move(app));
    } catch (const tx::AppError& e) {
      apps_.erase(name);
      throw ApiError(400, "invalid_app", e.what());
    }
    disabled_.erase(name);
    save_api_apps();
    return get_app(name);
  });
}

void TransactuationService::remove_app(const std::string& name) {
  call([this, name](tx::Time) {
    if (!runtime_->remove(name)) throw ApiError(404, "not_found", "app '" + name + "' not found");
    apps_.erase(name);
    disabled_.erase(name);
    save_api_apps();
    return json();
  });
}

json TransactuationService::set_enabled(const std::string& name, bool enabled) {
  return call([this, name, enabled](tx::Time) {
    if (!runtime_->set_enabled(name, enabled)) throw ApiError(404, "not_found", "app '" + name + "' not found");
    if (enabled) disabled_.erase(name);
    else disabled_.insert(name);
    save_api_apps();
    return get_app(name);
  });
}

json TransactuationService::trigger(const std::string& name, const json& payload) {
  return call([this, name, payload](tx::Time now) {
    const auto* app = runtime_->app(name);
    if (!app) throw ApiError(404, "not_found", "app '" + name + "' not found");
    if (disabled_.count(name)) throw ApiError(409, "disabled", "app '" + name + "' is disabled");
    tx::TxnId id = 0;
    try {
      id = runtime_->trigger(name, payload, now);
    } catch (const tx::AppError& e) {
      throw ApiError(400, "invalid_trigger", e.what());
    }
    pump(now);
    return json{{"id", id}};
  });
}

json TransactuationService::list_runs(const RunQuery& query) {
  if (!known_status(query.status)) {
    throw ApiError(400, "invalid_parameter", "query parameter 'status': expected running, committed, "
                                             "committed_partial or aborted, got \"" + query.status.substr(0, 40) + "\"");
  }
  return call([this, query](tx::Time) {
    // Newest first: ids grow with time (epoch << 32 | counter).
    std::map<tx::TxnId, json, std::greater<>> all;
    for (const auto& [id, j] : history_) all.emplace(id, j);
    for (auto id : running_)
      if (const auto* r = runtime_->find_active(id)) all.emplace(id, run_json(*r));
    json out = json::array();
    for (const auto& [id, j] : all) {
      if (static_cast<int>(out.size()) >= query.limit) break;
      if (!query.status.empty() && j.value("status", "") != query.status) continue;
      if (!query.app.empty() && j.value("app", "") != query.app) continue;
      out.push_back({{"id", id},
                     {"app", j.value("app", "")},
                     {"status", j.value("status", "")},
                     {"reason", j.value("reason", "")},
                     {"detail", j.value("detail", "")},
                     {"triggered_at", j.value("triggered_at", std::int64_t{0})},
                     {"finished_at", j.value("finished_at", std::int64_t{0})},
                     {"recovered", j.value("recovered", false)}});
    }
    return json{{"transactuations", out}};
  });
}

json TransactuationService::get_run(const std::string& text) {
  tx::TxnId id = 0;
  try {
    std::size_t used = 0;
    id = std::stoull(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw ApiError(400, "invalid_parameter", "transactuation id: expected a number, got \"" + text.substr(0, 40) + "\"");
  }
  return call([this, id](tx::Time) {
    if (const auto* r = runtime_->find_active(id)) return run_json(*r);
    const auto it = history_.find(id);
    if (it == history_.end()) throw ApiError(404, "not_found", "transactuation " + std::to_string(id) + " not found");
    return it->second;
  });
}

json TransactuationService::app_state() {
  return call([this](tx::Time) { return json{{"state", runtime_->state()}}; });
}

}  // namespace homestead::gateway
