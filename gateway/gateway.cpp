#include "gateway/gateway.h"

#include <sys/stat.h>

#include <fstream>

#include "common/log/log.h"
#include "devices/discovery.h"
#include "devices/topics.h"

namespace homestead::gateway {
namespace {

const log::Logger logger("gatewayd");

constexpr const char* kSysDropped = "$SYS/broker/publish/messages/dropped";
constexpr const char* kSysClients = "$SYS/broker/clients/connected";
constexpr const char* kHaStatus = "homeassistant/status";

std::string read_password_file(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path);
  if (!in) throw std::runtime_error("mqtt.password_file: cannot read " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Gateway::Gateway(GatewayConfig config)
    : config_(std::move(config)),
      home_(devices::load_home_file(config_.home_file)),
      provisioner_(config_.provisioning, home_.id),
      cache_(home_.id),
      started_(std::chrono::steady_clock::now()) {
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) throw std::runtime_error("data_dir: cannot create " + config_.data_dir + ": " + ec.message());
  ::chmod(config_.data_dir.c_str(), 0700);
  store_ = std::make_unique<Store>(config_.db_path());
  load_home();
  bootstrap_admin_token();
  ReadingWriter::Hooks hooks;
  if (config_.cloud.enabled) {
    hooks.in_transaction = [this](sqlite3* db, const std::vector<Reading>& batch) { queue_reported(db, batch); };
    hooks.after_commit = [this] {
      if (!sync_) return;
      // Only now are the rows in the outbox: the conflict detector's "pushed yet?" test
      // relies on a change being noted after its row committed.
      const auto now = wall_ms();
      for (const auto& [device, changed] : committed_changes_) sync_->note_local_changes(device, changed, now);
      committed_changes_.clear();
      sync_->wake();
    };
  }
  writer_ = std::make_unique<ReadingWriter>(*store_, metrics_, config_.storage.batch_max_rows,
                                            config_.storage.flush_interval_ms, std::move(hooks));
  if (config_.transactuations.enabled) {
    transactuations_ = std::make_unique<TransactuationService>(
        config_, home_.id,
        [this](const std::string& device) { return device_kind_or_null(device); },
        [this](const std::string& topic, const std::string& payload) { return publish_actuation(topic, payload); },
        metrics_);
  }
  setup_sync();
}

Gateway::~Gateway() { stop(); }

void Gateway::setup_sync() {
  if (!config_.cloud.enabled) return;
  if (config_.cloud.home_id.empty()) config_.cloud.home_id = home_.id;
  outbox_ = std::make_unique<Outbox>(config_.db_path(), config_.cloud.outbox_max_items);
  // The newest stored reading of each device went to the outbox in its own transaction, so
  // it is the baseline: a retained state re-delivered after a restart is not a change.
  for (const auto& d : store_->devices()) {
    for (const auto& r : store_->readings({d.id, 0, INT64_MAX, 1})) {
      reported_changes_.changed(d.id, nlohmann::json::parse(r.state, nullptr, false));
    }
  }
  if (transactuations_) {
    std::vector<std::string> actuators;
    for (const auto& d : home_.devices)
      if (d.kind->actuator) actuators.push_back(d.id);
    transactuations_->install_builtin(cloud_desired_app(actuators));
    transactuations_->set_record_sink([this](const auto& records) { queue_transactuations(records); });
    desired_runner_ = std::make_unique<TransactuationDesiredRunner>(*transactuations_);
  }
  sync_ = std::make_unique<SyncClient>(
      config_.cloud, *outbox_, desired_runner_.get(),
      [this](const std::string& device) { return device_kind_or_null(device); }, metrics_);
  sync_->set_runtime_state([this] { return runtime_state_json(copy_runtime_state()); });
  if (!config_.cloud.shared_devices.empty()) {
    for (const auto& d : config_.cloud.shared_devices) {
      if (!device_kind_or_null(d)) logger.warn("cloud.shared_devices names an unknown device", {{"device", d}});
    }
    const LeaseTiming timing{config_.cloud.lease_ttl_ms, config_.cloud.lease_deadline_ms, 2 * config_.cloud.lease_ttl_ms};
    leases_ = std::make_unique<LeaseManager>(config_.cloud.home_id, config_.cloud.shared_devices, timing,
                                             LeaseManager::through(*sync_),
                                             metrics_);
  }
  logger.info("cloud sync configured", {{"home", config_.cloud.home_id},
                                        {"gateway", config_.cloud.gateway_id},
                                        {"urls", std::to_string(config_.cloud.urls.size())}});
}

RuntimeStateCopy Gateway::copy_runtime_state() {
  RuntimeStateCopy copy;
  {
    std::lock_guard lock(core_mutex_);
    copy.open_commands = tracker_.open_command_views(kRuntimeStateCap);
    copy.open_commands_total = tracker_.open_count();
    copy.open_commands_pending = tracker_.pending_count();
  }
  {
    std::lock_guard lock(command_mutex_);
    copy.final_counts = final_command_counts_;
  }
  constexpr auto kRuntimeWait = std::chrono::milliseconds(250);
  if (!transactuations_) {
    copy.transactuations_unavailable = "transactuations are disabled";
  } else if (!(copy.transactuations = transactuations_->open_transactuations(kRuntimeStateCap, kRuntimeWait))) {
    copy.transactuations_unavailable = "the transactuation runtime is not running or did not answer within 250 ms";
  }
  return copy;
}

const devices::KindInfo* Gateway::device_kind_or_null(const std::string& device) {
  std::lock_guard lock(core_mutex_);
  const auto* state = cache_.find(device);
  return state ? state->kind : nullptr;
}

void Gateway::queue_reported(sqlite3* db, const std::vector<Reading>& batch) {
  std::vector<OutboxEntry> entries;
  committed_changes_.clear();  // a failed batch's notes never reach the detector
  for (const auto& r : batch) {
    auto state = nlohmann::json::parse(r.state, nullptr, false);
    auto changed = reported_changes_.changed(r.device, state);
    if (!changed) continue;
    const nlohmann::json body = {
        {"device", r.device}, {"state", *changed}, {"device_ts_ms", r.device_ts_ms}, {"device_seq", r.seq}};
    entries.push_back({kItemReported, r.received_ms, body.dump(), {}});
    committed_changes_.emplace_back(r.device, *changed);
  }
  const auto result = Outbox::append_in(db, entries, config_.cloud.outbox_max_items);
  if (result.dropped > 0) logger.warn("sync outbox full: reported rows dropped", {{"dropped", std::to_string(result.dropped)}});
}

void Gateway::queue_transactuations(const std::vector<std::pair<std::uint64_t, nlohmann::json>>& records) {
  std::vector<OutboxEntry> entries;
  for (const auto& [id, record] : records) {
    // The contract's audit fields (sync_api.h): "outcome" is the record's final status.
    nlohmann::json body = record;
    body["id"] = id;
    body["outcome"] = record.value("status", "");
    entries.push_back({kItemTransactuation, wall_ms(), body.dump(), "txn:" + std::to_string(id)});
  }
  outbox_->append(entries);
  if (sync_) sync_->wake();
}

nlohmann::json Gateway::sync_conflicts() {
  if (!outbox_) throw ApiError(503, "sync_disabled", "cloud sync is not enabled (config section 'cloud')");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : outbox_->conflicts(100)) out.push_back(c.to_json());
  return {{"conflicts", out}};
}

nlohmann::json Gateway::sync_status() {
  if (!sync_) return {{"enabled", false}, {"connected", false}};
  return sync_->status();
}

void Gateway::load_home() {
  const auto now = wall_ms();
  for (const auto& d : home_.devices) {
    auto existing = store_->device(d.id);
    DeviceRecord r = existing.value_or(DeviceRecord{});
    if (existing && existing->source == "api") continue;  // an admin's registration wins
    r.id = d.id;
    r.kind = d.kind->name;
    r.name = d.name;
    r.room = d.room;
    r.credentials = d.credentials;
    r.source = "home_file";
    if (!existing) r.created_ms = now;
    if (!existing || existing->kind != r.kind || existing->name != r.name || existing->room != r.room ||
        existing->credentials != r.credentials) {
      r.updated_ms = now;
      store_->upsert_device(r);
    }
  }
  for (const auto& d : store_->devices()) {
    if (const auto* kind = devices::find_kind(d.kind)) cache_.add_device(d.id, *kind);
  }
  // Commands open when the last run ended (crash or stop) carry on; expiry still applies.
  for (const auto& c : store_->open_commands()) tracker_.track(c);
  logger.info("registry loaded", {{"home", home_.id}, {"devices", std::to_string(cache_.all().size())},
                                  {"open_commands", std::to_string(tracker_.open_count())}});
}

void Gateway::bootstrap_admin_token() {
  tokens_.replace(store_->tokens());
  if (tokens_.has_admin()) return;
  const std::string token = generate_token();
  const auto path = config_.admin_token_path();
  write_secret_file(path, token + "\n");
  TokenRecord record{"admin", sha256_hex(token), Scope::admin, wall_ms()};
  store_->put_token(record);
  tokens_.add(record);
  // The path, never the token.
  logger.info("created admin API token", {{"file", path.string()}, {"mode", "0600"}});
}

void Gateway::start() {
  MqttLinkOptions o;
  o.uri = config_.mqtt.uri;
  o.client_id = config_.mqtt.client_id.empty() ? "gatewayd-" + home_.id : config_.mqtt.client_id;
  o.username = config_.mqtt.username;
  o.password = read_password_file(config_.mqtt.password_file);
  o.keepalive_s = config_.mqtt.keepalive_s;
  o.reconnect_min_ms = config_.mqtt.reconnect_min_ms;
  o.reconnect_max_ms = config_.mqtt.reconnect_max_ms;
  o.max_buffered_messages = config_.mqtt.max_buffered_messages;
  o.ca_file = config_.mqtt.ca_file;
  o.subscriptions = {devices::home_wildcard(home_.id, devices::Channel::state),
                     devices::home_wildcard(home_.id, devices::Channel::ack),
                     devices::home_wildcard(home_.id, devices::Channel::status), kHaStatus, kSysDropped, kSysClients};
  // A command's ack is on the command -> ack path (a long-poll waits for it): handled on
  // Paho's thread when ingest is idle, one thread wake-up fewer.
  o.handle_inline_when_idle = [](std::string_view topic) {
    return topic.size() > 4 && topic.substr(topic.size() - 4) == "/ack";
  };
  link_ = std::make_unique<MqttLink>(
      std::move(o), [this](const std::vector<InboundMessage>& batch) { on_messages(batch); },
      [this](bool up) { on_link(up); });
  writer_->start();
  link_->start();
  {
    std::lock_guard lock(ticker_mutex_);
    stopping_ = false;
  }
  ticker_ = std::thread([this] { ticker(); });
  if (sync_) sync_->start();
  if (leases_) leases_->start();
}

void Gateway::stop() {
  {
    std::lock_guard lock(ticker_mutex_);
    stopping_ = true;
  }
  ticker_wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  if (leases_) leases_->stop();  // releases held leases through the sync client
  if (sync_) sync_->stop();
  if (transactuations_) transactuations_->stop();
  if (link_) link_->stop();
  if (writer_) writer_->stop();
}

void Gateway::on_link(bool up) {
  link_changed_ms_ = wall_ms();
  metrics_.set("homestead_mqtt_connected", {}, up ? 1 : 0);
  metrics_.add(up ? "homestead_mqtt_connects_total" : "homestead_mqtt_connection_lost_total");
  if (!up) {
    std::lock_guard lock(core_mutex_);
    cache_.link_lost();
    return;
  }
  if (transactuations_) transactuations_->start();  // once; later connects do nothing
  publish_all_discovery();
  send_pending("");
}

void Gateway::publish_discovery(const DeviceRecord& d) {
  const auto* kind = devices::find_kind(d.kind);
  if (!kind || !link_) return;
  devices::DiscoveryDevice dd{home_.id, d.id, d.name, d.room};
  if (link_->publish(devices::discovery_topic(*kind, home_.id, d.id), devices::discovery_document(*kind, dd).dump(), 1,
                     true)) {
    metrics_.add("homestead_mqtt_messages_out_total", "kind=\"discovery\"");
  }
}

void Gateway::publish_all_discovery() {
  for (const auto& d : store_->devices()) publish_discovery(d);
}

void Gateway::ticker() {
  auto next_retention = std::chrono::steady_clock::now();
  std::unique_lock lock(ticker_mutex_);
  while (!stopping_) {
    ticker_wake_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      std::vector<CommandRecord> expired;
      {
        std::lock_guard core(core_mutex_);
        expired = tracker_.expire(wall_ms());
      }
      for (const auto& c : expired) {
        persist_command(c);
        metrics_.add("homestead_commands_total", "outcome=\"expired\"");
      }
      store_->checkpoint_when_due();  // off every commit's path (store.h)
      if (std::chrono::steady_clock::now() >= next_retention) {
        next_retention = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.storage.retention_interval_ms);
        store_->apply_retention(wall_ms() - config_.storage.retention_max_age_s * 1000,
                                config_.storage.retention_max_rows);
      }
      if (leases_) leases_->expire();
      if (transactuations_) release_overdue_holds();
      update_gauges();
    } catch (const std::exception& e) {
      metrics_.add("homestead_db_errors_total");
      logger.error("ticker step failed", {{"error", e.what()}});
    }
    lock.lock();
  }
}

void Gateway::update_gauges() {
  std::size_t devices = 0, online = 0, open = 0, pending = 0;
  {
    std::lock_guard lock(core_mutex_);
    devices = cache_.all().size();
    for (const auto& [id, d] : cache_.all()) online += d.online == true ? 1 : 0;
    open = tracker_.open_count();
    pending = tracker_.pending_count();
  }
  metrics_.set("homestead_devices", {}, static_cast<double>(devices));
  metrics_.set("homestead_devices_online", {}, static_cast<double>(online));
  metrics_.set("homestead_commands_open", {}, static_cast<double>(open));
  metrics_.set("homestead_commands_pending", {}, static_cast<double>(pending));
  metrics_.set("homestead_readings_queue_depth", {}, static_cast<double>(writer_->queue_depth()));
  metrics_.set("homestead_mqtt_connected", {}, link_up() ? 1 : 0);
  if (sync_) sync_->refresh_gauges();
}

std::string Gateway::render_metrics() {
  update_gauges();
  return metrics_.render();
}

bool Gateway::publish_actuation(const std::string& topic, const std::string& payload) {
  const auto publish = [this](const std::string& t, const std::string& p) {
    if (!link_ || !link_->publish(t, p, 1, false)) return false;
    metrics_.add("homestead_mqtt_messages_out_total", "kind=\"transactuation\"");
    return true;
  };
  const auto parsed = devices::parse_topic(topic);
  if (!leases_ || !parsed || !leases_->shared(parsed->device)) return publish(topic, payload);
  const auto body = nlohmann::json::parse(payload, nullptr, false);
  const std::string cmd_id = body.is_object() ? body.value("cmd_id", "") : "";
  // Status queries do not actuate: they need no lease.
  if (!is_transactuation_cmd_id(cmd_id)) return publish(topic, payload);
  const auto device = parsed->device;
  auto token = leases_->use(device, [this, device, cmd_id, topic, payload, publish](const LeaseOutcome& outcome) {
    if (outcome.granted) {
      try {
        store_->put_fenced_actuation(cmd_id, device, outcome.fencing_token, wall_ms());
      } catch (const std::exception& e) {
        logger.error("fenced actuation not logged", {{"cmd_id", cmd_id}, {"error", e.what()}});
      }
      publish(topic, payload);
      return;
    }
    // A refusal the runtime sees as the device's failed ack: the actuation fails with this
    // reason and the app's actuating policy decides (ABORT: no state write).
    devices::Ack ack;
    ack.cmd_id = cmd_id;
    ack.ok = false;
    ack.reason = outcome.reason;
    if (transactuations_) transactuations_->on_ack(device, ack);
  });
  if (!token) return true;  // decided later, on the lease thread
  // Runtime thread: one small fsynced insert, only for shared devices.
  store_->put_fenced_actuation(cmd_id, device, *token, wall_ms());
  return publish(topic, payload);
}

nlohmann::json Gateway::health() {
  bool db_ok = true;
  int schema = 0;
  try {
    schema = store_->schema_version();
  } catch (const std::exception&) {
    db_ok = false;
  }
  const bool up = link_up();
  std::size_t devices = 0, online = 0;
  {
    std::lock_guard lock(core_mutex_);
    devices = cache_.all().size();
    for (const auto& [id, d] : cache_.all()) online += d.online == true ? 1 : 0;
  }
  const auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return {{"status", up && db_ok ? "ok" : "degraded"},
          {"version", kVersion},
          {"home", home_.id},
          {"uptime_s", uptime},
          {"broker",
           {{"connected", up},
            {"uri", config_.mqtt.uri},
            {"since_ms", link_changed_ms_.load()},
            {"messages_dropped", metrics_.value("homestead_broker_messages_dropped")}}},
          {"database",
           {{"ok", db_ok},
            {"path", config_.db_path().string()},
            {"schema_version", schema},
            {"readings_queue", writer_->queue_depth()}}},
          {"sync", sync_status()},
          {"devices", {{"registered", devices}, {"online", online}}}};
}

}  // namespace homestead::gateway
