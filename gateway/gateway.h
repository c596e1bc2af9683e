// gatewayd's core wiring: the broker link feeds ingest (state cache + command tracker under
// one mutex), readings go to the batch writer, commands go through the fsynced command log
// before they are published, and the REST layer (http_api.h) calls the operations below.
// Threads: Paho's callback thread (ingest), the link supervisor, the reading writer, a
// ticker (expiry, retention, gauges) and the HTTP worker pool.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "devices/home.h"
#include "gateway/api_error.h"
#include "gateway/auth.h"
#include "gateway/command_tracker.h"
#include "gateway/config.h"
#include "gateway/lease_manager.h"
#include "gateway/cloud_desired.h"
#include "gateway/metrics.h"
#include "gateway/mqtt_link.h"
#include "gateway/outbox.h"
#include "gateway/provisioning.h"
#include "gateway/reading_writer.h"
#include "gateway/state_cache.h"
#include "gateway/store.h"
#include "gateway/sync_client.h"
#include "gateway/sync_rules.h"
#include "gateway/transactuation_service.h"

namespace homestead::gateway {

inline constexpr const char* kVersion = "0.1.0";

std::int64_t wall_ms();

class Gateway {
 public:
  // Loads the home, opens and migrates the database, creates the admin token on first start.
  // Throws (config, home, store errors) with a message naming what is wrong.
  explicit Gateway(GatewayConfig config);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void start();
  void stop();

  const GatewayConfig& config() const { return config_; }
  Metrics& metrics() { return metrics_; }
  const TokenTable& tokens() const { return tokens_; }
  bool link_up() const { return link_ && link_->connected(); }
  // nullptr when transactuations.enabled is false.
  TransactuationService* transactuations() { return transactuations_.get(); }
  // nullptr when cloud.enabled is false.
  SyncClient* sync() { return sync_.get(); }

  // --- operations behind the REST API; throw ApiError ---
  nlohmann::json list_devices();
  nlohmann::json get_device(const std::string& id);
  // Body: {"id", "kind", "room"?, "name"?}. Returns the device plus, when provisioning is on,
  // its broker credentials (the password is shown only here).
  nlohmann::json create_device(const nlohmann::json& body);
  nlohmann::json patch_device(const std::string& id, const nlohmann::json& body);
  void delete_device(const std::string& id);
  nlohmann::json device_state(const std::string& id);
  nlohmann::json readings(const ReadingQuery& query);
  // Body: {"command", "args"?, "expires_in_s"?}. Logged (fsynced) before it returns.
  nlohmann::json submit_command(const std::string& device, const nlohmann::json& body);
  // Waits up to `wait` for the command to reach a final status (long poll).
  nlohmann::json get_command(const std::string& id, std::chrono::milliseconds wait);
  nlohmann::json create_token(const nlohmann::json& body);
  nlohmann::json health();
  // GET /api/v1/sync (docs/sync-protocol.md).
  nlohmann::json sync_status();
  nlohmann::json sync_conflicts();
  std::string render_metrics();

  // What ingest does with a batch of received messages (gateway_ingest.cpp), and with one;
  // public for the benchmark harness and tests.
  void on_messages(const std::vector<InboundMessage>& batch);
  void on_message(const std::string& topic, const std::string& payload);

 private:
  void load_home();
  void bootstrap_admin_token();
  void on_link(bool up);
  void publish_discovery(const DeviceRecord& device);
  void publish_all_discovery();
  // Sends pending commands of `device` (all devices when empty) that may go now.
  void send_pending(const std::string& device);
  void persist_command(const CommandRecord& record);
  // Tracks a validated command and publishes it now when the device and the link are up.
  nlohmann::json admit_command(CommandRecord record, const devices::Command& command);
  // The lease (shared devices) and admit_command; once the device's transactuation hold is granted.
  nlohmann::json dispatch_command(CommandRecord record, const devices::Command& command);
  // dispatch_command for a command logged as pending that waited for its device hold.
  void send_after_hold(CommandRecord record, const devices::Command& command);
  // The transactuation runtime's publishes: through the lease for shared devices.
  bool publish_actuation(const std::string& topic, const std::string& payload);
  void ticker();
  void update_gauges();
  // Cloud sync: outbox, sync client, the hooks that feed the outbox.
  void setup_sync();
  // A live snapshot's view of the runtime (sync_client.h set_runtime_state): each part
  // copied under its owner's lock, then formatted.
  RuntimeStateCopy copy_runtime_state();
  void queue_reported(sqlite3* db, const std::vector<Reading>& batch);
  void queue_transactuations(const std::vector<std::pair<std::uint64_t, nlohmann::json>>& records);
  const devices::KindInfo* device_kind(const std::string& id);
  const devices::KindInfo* device_kind_or_null(const std::string& device);
  nlohmann::json device_json(const DeviceRecord& d);

  GatewayConfig config_;
  devices::Home home_;
  std::unique_ptr<Store> store_;
  Metrics metrics_;
  TokenTable tokens_;
  BrokerProvisioner provisioner_;
  std::unique_ptr<ReadingWriter> writer_;
  std::unique_ptr<MqttLink> link_;
  // Started at the first broker connect, so recovery's status queries can leave at once.
  std::unique_ptr<TransactuationService> transactuations_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<TransactuationDesiredRunner> desired_runner_;
  std::unique_ptr<SyncClient> sync_;
  // Only with cloud.shared_devices; created after sync_ and stopped before it.
  std::unique_ptr<LeaseManager> leases_;
  // Reading-writer thread only: the reported baseline, and the changes of the batch being
  // committed (handed to the conflict detector after the commit).
  ReportedChanges reported_changes_;
  std::vector<std::pair<std::string, nlohmann::json>> committed_changes_;

  // Ingest state: the cache and the open commands change together (an ack updates both).
  std::mutex core_mutex_;
  StateCache cache_;
  CommandTracker tracker_;
  // Serialises command-log writes with their publishes, so a "sent" record can never land
  // after the "acked" one for the same command.
  std::mutex command_mutex_;
  std::condition_variable command_done_;
  // The last commands that reached a final status, as persisted (under command_mutex_): a
  // long-poll woken by the ack answers from here instead of reading the record back.
  std::map<std::string, CommandRecord> recently_final_;
  std::deque<std::string> recently_final_order_;
  // Final command statuses per device since this process started (under command_mutex_),
  // for a live snapshot's gateway part.
  std::map<std::string, FinalCommandCounts> final_command_counts_;
  // REST commands holding their device in the runtime's lock queue, by command id: since
  // when (wall ms). The ticker lets go of holds older than commands.hold_max_ms.
  std::mutex holds_mutex_;
  std::map<std::string, std::int64_t> hold_since_ms_;
  void note_hold_granted(const std::string& command_id);
  void release_hold(const std::string& command_id);
  void release_overdue_holds();
  std::mutex registry_mutex_;  // create/patch/delete device
  // Ingest thread only: what the first (locked) pass of on_messages found per message.
  struct IngestedMessage {
    bool broker_topic = false;  // $SYS or homeassistant/status, handled in the second pass
    IngestResult result;
    std::optional<CommandRecord> settled;
    nlohmann::json reported;  // state reports, when the transactuation runtime wants them
  };
  std::vector<IngestedMessage> ingest_results_;

  std::chrono::steady_clock::time_point started_;
  std::atomic<std::int64_t> link_changed_ms_{0};
  std::thread ticker_;
  std::mutex ticker_mutex_;
  std::condition_variable ticker_wake_;
  bool stopping_ = false;
};

}  // namespace homestead::gateway
