// The transactuation runtime inside gatewayd: the pure Runtime and its Driver run on ONE
// thread of their own (the runtime is single-threaded by design), fed through a queue by
// ingest (state reports -> readings, acks, status answers) and by the REST API (apps,
// triggers, queries run as tasks on that thread, so nothing else ever touches the runtime).
// The intent log is a SQLite file in the data dir (WAL, synchronous=FULL); transactuation
// ids start at (epoch << 32) | 1 so they never repeat across restarts (transactuation/README.md).
//
// Apps come from three places, each remembered as the app's `origin`:
//   builtin - transactuations.builtin in the config (off unless listed);
//   file    - transactuations.app_files (JSON, all-or-nothing per file);
//   api     - POST /api/v1/apps; kept in <data_dir>/apps.json (mode 0600) across restarts.
// Enable/disable of any app is kept in the same file.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/snapshot_views.h"
#include "gateway/transactuation_bus.h"
#include "transactuation/runtime.h"
#include "transactuation/sqlite_intent_log.h"

namespace homestead::gateway {

struct RunQuery {
  std::string status;  // empty = any; running|committed|committed_partial|aborted
  std::string app;     // empty = any
  int limit = 50;
};

class TransactuationService {
 public:
  // Opens the intent log and installs the configured apps; throws (AppError naming the
  // field, runtime_error naming the file) before anything runs.
  TransactuationService(const GatewayConfig& config, std::string home, MqttDeviceBus::KindOf kind_of,
                        MqttDeviceBus::Publish publish, Metrics& metrics);
  ~TransactuationService();
  TransactuationService(const TransactuationService&) = delete;
  TransactuationService& operator=(const TransactuationService&) = delete;

  // Every finished transactuation record goes here (id, record JSON): on the runtime thread
  // when it finishes, and at start() for every outcome in the intent log, so a record whose
  // hand-over a crash interrupted is handed over again (the sink drops repeats by id).
  using RecordSink = std::function<void(const std::vector<std::pair<std::uint64_t, nlohmann::json>>& records)>;
  // Call before start().
  void set_record_sink(RecordSink sink) { record_sink_ = std::move(sink); }
  // Installs an app built in C++ (e.g. cloud_desired), origin "builtin". Call before start().
  void install_builtin(transactuation::AppDefinition app);

  // Recovery (status queries for every open transactuation) and the runtime thread. Call once
  // the broker link exists: recovery's queries go out through it (and are retried if not).
  void start();
  void stop();

  // --- from ingest (any thread; never blocks on the runtime) ---
  void on_report(const std::string& device, const nlohmann::json& state, std::int64_t device_ts_ms,
                 std::int64_t received_ms);
  // True when the ack belonged to a transactuation (or a recovery status query).
  bool on_ack(const std::string& device, const devices::Ack& ack);

  // --- direct device commands (any thread; never block on the runtime) ---
  // Orders a command sent outside any transactuation (POST /api/v1/devices/{id}/commands)
  // with the transactuations on `device` (Runtime::hold_device). Returns true when granted at
  // once (nothing earlier on the device; the caller sends now and on_granted never runs);
  // otherwise on_granted runs on the runtime thread once every transactuation admitted
  // earlier on the device has finished. Transactuations admitted later wait until
  // release_device(key), which the caller must call once the command is final (acked,
  // failed, expired) or will never be sent.
  bool hold_device(const std::string& device, const std::string& key, std::function<void()> on_granted);
  void release_device(const std::string& key);

  // --- REST (block until the runtime thread has done them); throw ApiError ---
  nlohmann::json list_apps();
  nlohmann::json get_app(const std::string& name);
  nlohmann::json install_app(const nlohmann::json& definition);
  void remove_app(const std::string& name);
  nlohmann::json set_enabled(const std::string& name, bool enabled);
  nlohmann::json trigger(const std::string& name, const nlohmann::json& payload);
  nlohmann::json list_runs(const RunQuery& query);
  nlohmann::json get_run(const std::string& id);
  nlohmann::json app_state();

  // --- live snapshots (issue 10; any thread) ---
  // The open transactuations (at most `max`, oldest first) and the REST commands waiting for
  // their device, copied on the runtime thread (the only one that may read the runtime).
  // nullopt when the runtime is not running or did not answer within `wait`: a snapshot
  // must not wait long for a busy runtime.
  std::optional<OpenTransactuations> open_transactuations(std::size_t max, std::chrono::milliseconds wait);

 private:
  using Task = std::function<void(transactuation::Time now)>;
  struct AppInfo {
    std::string origin;  // builtin | file | api
    nlohmann::json source;
  };
  void post(Task task);
  // Runs `fn` with the runtime's role and returns its result (exceptions travel back): on
  // the runtime thread, or on the calling thread when the runtime thread is asleep with
  // nothing queued (it then waits until the caller is done).
  nlohmann::json call(std::function<nlohmann::json(transactuation::Time now)> fn);
  // True on the thread that holds the runtime's role (the loop, or a caller in call()).
  bool on_runtime_role() const;
  void loop();
  void pump(transactuation::Time now);
  void compact_if_due(transactuation::Time now);
  static constexpr std::uint64_t kCompactEveryRecords = 20000;
  std::uint64_t records_at_compaction_ = 0;
  void finished(const transactuation::TransactuationRecord& record);
  void save_api_apps();
  void load_api_apps();

  GatewayConfig config_;
  std::string home_;
  Metrics& metrics_;
  std::unique_ptr<transactuation::SqliteIntentLog> log_;
  std::unique_ptr<transactuation::Runtime> runtime_;
  std::unique_ptr<MqttDeviceBus> bus_;
  std::unique_ptr<transactuation::Driver> driver_;
  std::map<std::string, AppInfo> apps_;
  RecordSink record_sink_;
  std::set<std::string> disabled_;

  // Runtime-thread-only bookkeeping for the API.
  std::set<transactuation::TxnId> running_;
  transactuation::TxnId seen_up_to_ = 0;  // ids below this were noted in running_
  std::map<transactuation::TxnId, nlohmann::json> history_;  // finished, newest kept
  struct DeviceHold {
    std::string key;
    std::function<void()> on_granted;
    std::string device;           // for open_transactuations()
    transactuation::Time since = 0;  // when it was queued
  };
  std::map<transactuation::Runtime::HoldId, DeviceHold> holds_;
  std::map<std::string, transactuation::Runtime::HoldId> hold_by_key_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  bool started_ = false;
  bool loop_idle_ = false;   // the loop waits for work (call() may run in its place)
  bool role_taken_ = false;  // a caller runs the runtime in the loop's place
  std::thread thread_;
};

}  // namespace homestead::gateway
