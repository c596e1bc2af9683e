// The gateway's side of Sync (docs/sync-protocol.md, cloud/services/sync_api.h): one thread
// that, every sync_interval_ms (sooner when the outbox grows),
//   1. pushes outbox rows in seq order, batch_max at a time, and deletes what the cloud
//      says it applied (applied_through); resends from applied_through + 1 otherwise;
//   2. pulls desired changes after the durable desired_cursor (when none is in hand), checks
//      each against local changes (the conflict rule), and applies them one at a time as
//      transactuations of the built-in app `cloud_desired`; the cursor advances, with the
//      conflicts recorded, once the run has a durable outcome.
// Every minute (and when every URL failed) the gateway asks the member in use where its home
// lives (Locate: the Chord ring maps the home to its Raft group) and adds the group's
// members to the URLs it tries, so one configured URL is enough to find the rest.
// The cloud leader is found through any configured URL: a "not_leader <addr>" reply sends
// the same request there; a transport error or timeout moves to the next URL and backs off
// (doubling up to 5 s). With the cloud unreachable the outbox just grows (bounded, see
// outbox.h); everything else in the gateway keeps running.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "cloud/rpc/stub.h"
#include "cloud/services/sync_api.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/outbox.h"
#include "gateway/snapshot_agent.h"
#include "gateway/sync_rules.h"

namespace homestead::gateway {

// How desired changes become transactuations (the gateway's TransactuationService; a fake in
// unit tests).
class DesiredRunner {
 public:
  struct Outcome {
    bool committed = false;
    std::string detail;  // status/reason/detail of the run
  };
  virtual ~DesiredRunner() = default;
  // Starts a run of `cloud_desired` with this trigger payload: its id, or why it could not
  // start now (the change is tried again next round).
  virtual std::variant<std::uint64_t, std::string> start(const nlohmann::json& payload) = 0;
  // nullopt while the run has no durable outcome yet.
  virtual std::optional<Outcome> outcome(std::uint64_t run_id) = 0;
};

using KindLookup = std::function<const devices::KindInfo*(const std::string& device)>;

// "http://host:port", "host:port" -> {host, port}; throws std::invalid_argument naming the text.
std::pair<std::string, int> parse_cloud_url(const std::string& url);

class SyncClient {
 public:
  // `runner` may be null (transactuations disabled): desired changes are then recorded as
  // failed. Reads the token from settings.token_file; throws naming the file.
  SyncClient(CloudSettings settings, Outbox& outbox, DesiredRunner* runner, KindLookup kinds, Metrics& metrics);
  ~SyncClient();
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  void start();
  void stop();
  // New outbox rows: push soon rather than at the next interval.
  void wake();
  // One round of push + pull + desired handling, on the caller's thread (tests drive it).
  void round();

  // A local change of a device's attributes, called once its outbox row has committed.
  void note_local_changes(const std::string& device, const nlohmann::json& attributes, std::int64_t at_ms);

  // GET /api/v1/sync.
  nlohmann::json status();
  // Outbox gauges for /metrics (also refreshed after every round).
  void refresh_gauges();

  // Live snapshots (issue 10): what this gateway adds to its recorded part besides the outbox
  // (a JSON object whose members are merged in: open transactuations, device command
  // states). Called on the sync thread at the cut, under the snapshot agent's lock, so it
  // must be quick and must not call the cloud. Call before start().
  void set_runtime_state(std::function<nlohmann::json()> provider) { runtime_state_ = std::move(provider); }

  rpc::Result<sync_api::LeaseReply> acquire_lease(const std::string& name, std::uint32_t ttl_ms);
  rpc::Result<sync_api::LeaseReply> release_lease(const std::string& name);

 private:
  struct PendingChange {
    sync_api::DesiredChange change;
    std::vector<DetectedConflict> conflicts;
    std::uint64_t run_id = 0;  // 0 = not started
  };
  // The endpoint in use (host:port) and a stub for it; `leader_hint` when a follower named one.
  struct Endpoint {
    std::string address;
    std::unique_ptr<rpc::Stub<sync_api::SyncService>> stub;
  };
  template <class M>
  rpc::Result<typename M::Response> invoke(const typename M::Request& request);
  void connect_to(const std::string& address);
  // A stub for `address` whose calls ride the live-snapshot channel (snapshot_channel.h).
  std::unique_ptr<rpc::Stub<sync_api::SyncService>> make_stub(const std::string& address);
  // Live snapshots (issue 10): explicit marker Pulls owed, finished parts that no request
  // of the round carried shipped (those ready before `round_started`).
  void snapshot_round(std::chrono::steady_clock::time_point round_started);
  void next_url();
  // Locate the home's group and learn its members (see top); every 60 s or when all failed.
  void locate_round();
  void note_error(const rpc::RpcError& error);
  void note_success();
  bool push_round();
  void pull_round();
  void desired_round();
  void finish_change(PendingChange& pending, bool committed, const std::string& detail);
  void run();
  void update_gauges(const OutboxStats& stats);

  const CloudSettings settings_;
  std::string token_;
  Outbox& outbox_;
  DesiredRunner* runner_;
  KindLookup kinds_;
  Metrics& metrics_;
  std::shared_ptr<rpc::ClientSession> session_ = std::make_shared<rpc::ClientSession>();
  std::shared_ptr<GatewaySnapshotAgent> snapshot_;  // this gateway's part of live snapshots
  std::function<nlohmann::json()> runtime_state_;   // set_runtime_state()

  // Sync-thread state (round() runs on one thread at a time).
  std::mutex round_mutex_;
  Endpoint endpoint_;
  std::size_t url_index_ = 0;
  std::vector<std::string> urls_;  // the configured URLs, then members learnt by Locate
  std::int64_t located_at_ms_ = 0;  // last Locate attempt
  std::deque<PendingChange> pending_;

  mutable std::mutex mutex_;  // what status() and the ingest path touch
  ConflictDetector detector_;
  bool connected_ = false;
  std::string cloud_url_;
  std::string leader_;
  std::int64_t last_success_ms_ = 0;
  // The cloud has every outbox row committed before this time (start of the last push
  // round that drained the outbox).
  std::int64_t synced_through_ms_ = 0;
  std::string last_error_;
  int failures_ = 0;
  nlohmann::json home_group_ = nullptr;  // last Locate answer (GET /api/v1/sync "home_group")
  std::string locate_error_;

  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace homestead::gateway
