#include "gateway/sync_client.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include <httplib.h>

#include "cloud/rpc/http_channel.h"
#include "gateway/snapshot_channel.h"
#include "common/log/log.h"

namespace homestead::gateway {
namespace {

const log::Logger logger("sync");

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cloud.token_file: cannot read " + path);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    // The path and mode, never the token.
    logger.warn("cloud token file is readable by group or others; chmod 600 it", {{"file", path}});
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) throw std::runtime_error("cloud.token_file: " + path + " is empty");
  return line;
}

// Failures where the request certainly did not run or may not have reached a working
// leader: try the next URL.
bool endpoint_failure(rpc::ErrorKind kind) {
  return kind == rpc::ErrorKind::transport || kind == rpc::ErrorKind::timeout ||
         kind == rpc::ErrorKind::unknown_outcome || kind == rpc::ErrorKind::shutting_down ||
         kind == rpc::ErrorKind::overloaded;
}

constexpr std::string_view kNotLeader = "not_leader";

}  // namespace

std::pair<std::string, int> parse_cloud_url(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("cloud url \"" + url + "\": expected host:port");
  int port = 0;
  try {
    std::size_t used = 0;
    port = std::stoi(rest.substr(colon + 1), &used);
    if (used != rest.size() - colon - 1) throw std::invalid_argument(url);
  } catch (const std::exception&) {
    throw std::invalid_argument("cloud url \"" + url + "\": bad port");
  }
  if (port <= 0 || port > 65535) throw std::invalid_argument("cloud url \"" + url + "\": port out of range");
  return {rest.substr(0, colon), port};
}

SyncClient::SyncClient(CloudSettings settings, Outbox& outbox, DesiredRunner* runner, KindLookup kinds,
                       Metrics& metrics)
    : settings_(std::move(settings)),
      token_(read_token(settings_.token_file)),
      outbox_(outbox),
      runner_(runner),
      kinds_(std::move(kinds)),
      metrics_(metrics) {
  for (const auto& url : settings_.urls) parse_cloud_url(url);  // fail at start, naming the bad one
  urls_ = settings_.urls;
  // The gateway's recorded state: read at the cut, on the thread that recorded it.
  snapshot_ = std::make_shared<GatewaySnapshotAgent>(settings_.home_id, settings_.gateway_id, [this] {
    nlohmann::json state = nlohmann::json::object();
    try {
      if (runtime_state_) state = runtime_state_();
    } catch (const std::exception& e) {
      // The part is still recorded (its channels must close); it says what is missing.
      state = {{"runtime_state_error", e.what()}};
    }
    if (!state.is_object()) state = nlohmann::json::object();
    const OutboxStats stats = outbox_.stats();
    state["outbox"] = {{"depth", stats.depth},
                       {"next_seq", stats.next_seq},
                       {"applied_through", stats.applied_through},
                       {"desired_cursor", stats.desired_cursor}};
    return state;
  });
}

SyncClient::~SyncClient() { stop(); }

void SyncClient::start() {
  std::lock_guard lock(wake_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void SyncClient::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SyncClient::wake() {
  {
    std::lock_guard lock(wake_mutex_);
    woken_ = true;
  }
  wake_cv_.notify_all();
}

void SyncClient::run() {
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      round();
    } catch (const std::exception& e) {
      metrics_.add("homestead_sync_errors_total", "kind=\"local\"");
      std::lock_guard state(mutex_);
      last_error_ = std::string("local: ") + e.what();
      logger.error("sync round failed", {{"error", e.what()}});
    }
    int failures;
    {
      std::lock_guard state(mutex_);
      failures = failures_;
    }
    lock.lock();
    // While the cloud fails, back off (doubling, at most 5 s) and ignore wake-ups: an outbox
    // growing offline must not turn into a busy retry loop.
    const auto wait = failures == 0 ? std::chrono::milliseconds(settings_.sync_interval_ms)
                                    : std::chrono::milliseconds(std::min<std::int64_t>(
                                          5000, static_cast<std::int64_t>(settings_.sync_interval_ms)
                                                    << std::min(failures, 10)));
    wake_cv_.wait_for(lock, wait, [&] { return stopping_ || (woken_ && failures == 0); });
    woken_ = false;
  }
}

void SyncClient::connect_to(const std::string& address) {
  endpoint_.address = address;
  endpoint_.stub = make_stub(address);
  std::lock_guard lock(mutex_);
  cloud_url_ = address;
}

std::unique_ptr<rpc::Stub<sync_api::SyncService>> SyncClient::make_stub(const std::string& address) {
  const auto [host, port] = parse_cloud_url(address);
  rpc::HttpChannelOptions options;
  options.credential = token_;
  options.max_connections = 2;
  options.connect_timeout = std::chrono::milliseconds(std::min(settings_.request_timeout_ms, 1000));
  auto channel = std::make_shared<SnapshotStampingChannel>(std::make_shared<rpc::HttpChannel>(host, port, options),
                                                          address, snapshot_);
  rpc::StubOptions stub;
  stub.timeout = std::chrono::milliseconds(settings_.request_timeout_ms);
  // Retries are ours: a down node should send us to the next URL, not be retried in place.
  stub.retry = rpc::RetryPolicy::none();
  stub.session = session_;
  return std::make_unique<rpc::Stub<sync_api::SyncService>>(std::move(channel), stub);
}

void SyncClient::snapshot_round(std::chrono::steady_clock::time_point round_started) {
  // The explicit marker: one harmless Pull to each member this gateway has a channel with.
  for (const auto& url : snapshot_->take_marker_urls()) {
    const sync_api::PullRequest pull{settings_.home_id, settings_.gateway_id, outbox_.stats().desired_cursor, 1};
    if (url == endpoint_.address && endpoint_.stub) {
      (void)endpoint_.stub->call<sync_api::SyncService::Pull>(pull);
    } else {
      (void)make_stub(url)->call<sync_api::SyncService::Pull>(pull);
    }
  }
  // Parts ready since the round started ride on the next round's first request instead.
  for (const auto& part : snapshot_->take_finished_parts(round_started)) {
    const std::string path = "/api/v1/snapshots/" + part["id"].get<std::string>() + "/parts";
    bool shipped = false;
    // Any member that recorded the snapshot keeps the part; the one in use first.
    std::vector<std::string> urls{endpoint_.address};
    urls.insert(urls.end(), urls_.begin(), urls_.end());
    for (const auto& url : urls) {
      if (url.empty() || shipped) continue;
      const auto [host, port] = parse_cloud_url(url);
      httplib::Client client(host, port);
      client.set_connection_timeout(std::chrono::milliseconds(settings_.request_timeout_ms));
      client.set_read_timeout(std::chrono::milliseconds(settings_.request_timeout_ms));
      client.set_bearer_token_auth(token_.c_str());
      const auto res = client.Post(path.c_str(), part.dump(), "application/json");
      shipped = res && res->status == 204;
    }
    if (!shipped) logger.warn("snapshot part not shipped", {{"snapshot", part["id"].get<std::string>()}});
  }
}

void SyncClient::next_url() {
  url_index_ = (url_index_ + 1) % urls_.size();
  endpoint_.stub.reset();
}

void SyncClient::locate_round() {
  constexpr std::int64_t kLocateEveryMs = 60'000;
  const auto now = now_ms();
  int failures;
  {
    std::lock_guard lock(mutex_);
    failures = failures_;
  }
  const bool all_failed = failures >= static_cast<int>(urls_.size());
  if (located_at_ms_ != 0 && now - located_at_ms_ < kLocateEveryMs && !all_failed) return;
  if (all_failed && now - located_at_ms_ < 5'000) return;  // not on every backoff round
  located_at_ms_ = now;
  const auto reply = invoke<sync_api::SyncService::Locate>({settings_.home_id, settings_.gateway_id});
  std::lock_guard lock(mutex_);
  if (!reply.ok()) {
    // An older cloud without Locate, or the DHT off: the configured URLs still work.
    locate_error_ = reply.error().describe();
    return;
  }
  locate_error_.clear();
  nlohmann::json members = nlohmann::json::array();
  for (const auto& member : reply.value().members) {
    const std::string url = member.rfind("http://", 0) == 0 ? member : "http://" + member;
    members.push_back(url);
    if (std::find(urls_.begin(), urls_.end(), url) == urls_.end()) {
      parse_cloud_url(url);  // throws on a malformed address: the round logs it
      urls_.push_back(url);
      logger.info("learnt a cloud member", {{"url", url}, {"group", std::to_string(reply.value().group)}});
    }
  }
  home_group_ = {{"group", reply.value().group},
                 {"owner_member", reply.value().owner_member},
                 {"hops", reply.value().hops},
                 {"members", members},
                 {"via", endpoint_.address},
                 {"resolved_at_ms", now}};
}

template <class M>
rpc::Result<typename M::Response> SyncClient::invoke(const typename M::Request& request) {
  // Each URL once, plus a few leader redirects.
  const std::size_t max_hops = urls_.size() + 3;
  rpc::Result<typename M::Response> result(rpc::ErrorKind::transport, "no cloud url");
  for (std::size_t hop = 0; hop < max_hops; ++hop) {
    if (!endpoint_.stub) connect_to(urls_[url_index_]);
    result = endpoint_.stub->template call<M>(request);
    if (result.ok()) return result;
    const auto& error = result.error();
    const auto at = error.message.find(kNotLeader);
    if (error.kind == rpc::ErrorKind::remote && at != std::string::npos) {
      std::string hint = error.message.substr(at + kNotLeader.size());
      hint.erase(0, hint.find_first_not_of(' '));
      hint = hint.substr(0, hint.find_first_of(" \n"));
      if (!hint.empty() && hint.rfind("http://", 0) != 0) hint = "http://" + hint;  // as the urls are written
      metrics_.add("homestead_sync_errors_total", "kind=\"not_leader\"");
      if (hint.empty() || hint == endpoint_.address) {
        next_url();
      } else {
        connect_to(hint);
      }
      continue;
    }
    if (endpoint_failure(error.kind)) {
      next_url();
      // Not sent at all: the next node may answer at once. Timeouts already cost a full
      // request timeout; leave the next URL for the next round.
      if (error.kind == rpc::ErrorKind::transport) continue;
    }
    return result;
  }
  return result;
}

void SyncClient::note_error(const rpc::RpcError& error) {
  metrics_.add("homestead_sync_errors_total", "kind=\"" + std::string(rpc::to_string(error.kind)) + "\"");
  std::lock_guard lock(mutex_);
  if (connected_ || failures_ == 0) {
    logger.warn("cloud call failed", {{"url", cloud_url_}, {"error", error.describe().substr(0, 200)}});
  }
  connected_ = false;
  ++failures_;
  last_error_ = error.describe();
  metrics_.set("homestead_sync_connected", {}, 0);
}

void SyncClient::note_success() {
  std::lock_guard lock(mutex_);
  if (!connected_) logger.info("connected to the cloud", {{"url", endpoint_.address}});
  connected_ = true;
  failures_ = 0;
  leader_ = endpoint_.address;
  last_success_ms_ = now_ms();
  metrics_.set("homestead_sync_connected", {}, 1);
}

void SyncClient::round() {
  std::lock_guard round_lock(round_mutex_);
  const auto started = std::chrono::steady_clock::now();
  locate_round();
  const bool pushed_all = push_round();
  bool connected;
  {
    std::lock_guard lock(mutex_);
    connected = connected_;
  }
  // Desired changes are pulled and applied even while the push is stuck on a refused item:
  // the two directions are independent.
  if (pushed_all || connected) pull_round();
  desired_round();
  snapshot_round(started);
  update_gauges(outbox_.stats());
}

bool SyncClient::push_round() {
  const auto started = now_ms();
  // Bounded per round so pulls still happen under a steady stream of reports.
  for (int batch = 0; batch < 64; ++batch) {
    const auto rows = outbox_.next_batch(static_cast<std::size_t>(settings_.batch_max));
    if (rows.empty()) {
      // Drained: the cloud has every local change committed before this round started.
      std::lock_guard lock(mutex_);
      detector_.cloud_caught_up(started, now_ms());
      synced_through_ms_ = started;
      return true;
    }
    sync_api::PushRequest request{settings_.home_id, settings_.gateway_id, {}};
    request.items.reserve(rows.size());
    for (const auto& row : rows) request.items.push_back({row.seq, row.kind, row.at_ms, row.body});
    snapshot_->note_push(rows.back().seq);
    const auto reply = invoke<sync_api::SyncService::Push>(request);
    if (!reply.ok()) {
      note_error(reply.error());
      return false;
    }
    note_success();
    const auto applied_through = reply->applied_through;
    const auto deleted = outbox_.acknowledge(applied_through);
    metrics_.add("homestead_sync_items_pushed_total", {}, static_cast<double>(deleted));
    if (applied_through < rows.back().seq) {
      std::string why = "cloud applied through " + std::to_string(applied_through) + " of " +
                        std::to_string(rows.front().seq) + ".." + std::to_string(rows.back().seq);
      if (!reply->rejected.empty()) why += ": " + reply->rejected;
      if (applied_through + 1 < rows.front().seq) why += " (the cloud is behind this outbox: rows already deleted)";
      metrics_.add("homestead_sync_errors_total", "kind=\"rejected\"");
      std::lock_guard lock(mutex_);
      last_error_ = why;
      return false;  // resend from applied_through + 1 next round
    }
  }
  return true;
}

void SyncClient::pull_round() {
  if (!pending_.empty()) return;
  const auto cursor = outbox_.stats().desired_cursor;
  const auto reply = invoke<sync_api::SyncService::Pull>({settings_.home_id, settings_.gateway_id, cursor, 100});
  if (!reply.ok()) {
    note_error(reply.error());
    return;
  }
  note_success();
  const auto [run_cursor, run_id] = outbox_.desired_run();
  std::lock_guard lock(mutex_);
  for (const auto& change : reply->changes) {
    if (change.cursor <= cursor) continue;
    auto desired = nlohmann::json::parse(change.desired, nullptr, false);
    // A run started before a restart: wait for its outcome rather than run the change twice.
    PendingChange pending{change, {}, change.cursor == run_cursor ? run_id : 0};
    if (desired.is_object()) {
      pending.conflicts = detector_.check(change.device, desired, change.at_ms);
      detector_.cloud_asked(change.device, desired);
    }
    pending_.push_back(std::move(pending));
  }
}

void SyncClient::desired_round() {
  while (!pending_.empty()) {
    auto& p = pending_.front();
    if (p.run_id == 0) {
      auto desired = nlohmann::json::parse(p.change.desired, nullptr, false);
      if (!desired.is_object()) {
        finish_change(p, false, "desired is not a JSON object");
        pending_.pop_front();
        continue;
      }
      // null removes a desired attribute in the cloud: nothing to actuate for it.
      for (auto it = desired.begin(); it != desired.end();) it = it->is_null() ? desired.erase(it) : std::next(it);
      if (desired.empty()) {
        finish_change(p, true, "nothing to actuate");
        pending_.pop_front();
        continue;
      }
      const auto* kind = kinds_ ? kinds_(p.change.device) : nullptr;
      if (!runner_ || !kind) {
        finish_change(p, false, !runner_ ? "transactuations are disabled on this gateway"
                                         : "device '" + p.change.device + "' is not registered on this gateway");
        pending_.pop_front();
        continue;
      }
      nlohmann::json actuations = nlohmann::json::array();
      try {
        for (const auto& c : desired_commands(*kind, desired)) {
          actuations.push_back({{"device", p.change.device}, {"command", c.command}, {"args", c.args}});
        }
      } catch (const DesiredError& e) {
        finish_change(p, false, e.what());
        pending_.pop_front();
        continue;
      }
      const nlohmann::json payload = {{"device", p.change.device},
                                      {"desired", desired},
                                      {"cursor", p.change.cursor},
                                      {"shadow_version", p.change.shadow_version},
                                      {"actuations", actuations}};
      auto started = runner_->start(payload);
      if (const auto* why = std::get_if<std::string>(&started)) {
        std::lock_guard lock(mutex_);
        last_error_ = "desired change " + std::to_string(p.change.cursor) + " not started: " + *why;
        return;  // e.g. the runtime is not up yet: next round
      }
      p.run_id = std::get<std::uint64_t>(started);
      outbox_.set_desired_run(p.change.cursor, p.run_id);
    }
    const auto outcome = runner_->outcome(p.run_id);
    if (!outcome) return;
    finish_change(p, outcome->committed, outcome->detail);
    pending_.pop_front();
  }
}

void SyncClient::finish_change(PendingChange& p, bool committed, const std::string& detail) {
  std::vector<ConflictRecord> records;
  const auto now = now_ms();
  for (const auto& c : p.conflicts) {
    records.push_back({now, p.change.device, c.attribute, c.local_value, c.desired_value, p.change.shadow_version,
                       committed ? "desired_applied" : "desired_aborted", detail});
  }
  outbox_.finish_desired(p.change.cursor, committed, records, now);
  if (!records.empty()) metrics_.add("homestead_sync_conflicts_total", {}, static_cast<double>(records.size()));
  logger.info("desired change handled", {{"cursor", std::to_string(p.change.cursor)},
                                         {"device", p.change.device},
                                         {"outcome", committed ? "applied" : "failed"},
                                         {"conflicts", std::to_string(records.size())},
                                         {"detail", detail.substr(0, 200)}});
  wake();  // conflict rows to push
}

void SyncClient::note_local_changes(const std::string& device, const nlohmann::json& attributes, std::int64_t at_ms) {
  std::lock_guard lock(mutex_);
  detector_.note_local(device, attributes, at_ms);
}

void SyncClient::update_gauges(const OutboxStats& stats) {
  metrics_.set("homestead_sync_outbox_depth", {}, static_cast<double>(stats.depth));
  metrics_.set("homestead_sync_outbox_dropped", {}, static_cast<double>(stats.dropped));
  metrics_.set("homestead_sync_outbox_oldest_age_seconds", {},
               stats.oldest_at_ms == 0 ? 0.0 : static_cast<double>(now_ms() - stats.oldest_at_ms) / 1000.0);
}

void SyncClient::refresh_gauges() { update_gauges(outbox_.stats()); }

nlohmann::json SyncClient::status() {
  const auto stats = outbox_.stats();
  const auto now = now_ms();
  std::lock_guard lock(mutex_);
  return {{"enabled", true},
          {"home_id", settings_.home_id},
          {"gateway_id", settings_.gateway_id},
          {"connected", connected_},
          {"cloud_url", cloud_url_},
          {"leader", leader_},
          {"outbox",
           {{"depth", stats.depth},
            {"oldest_age_ms", stats.oldest_at_ms == 0 ? 0 : std::max<std::int64_t>(0, now - stats.oldest_at_ms)},
            {"bytes", stats.bytes},
            {"dropped", stats.dropped},
            {"max_items", outbox_.max_items()}}},
          {"next_seq", stats.next_seq},
          {"applied_through", stats.applied_through},
          {"last_success_ms", last_success_ms_},
          {"synced_through_ms", synced_through_ms_},
          {"last_error", last_error_},
          {"desired_cursor", stats.desired_cursor},
          {"conflicts_resolved", stats.conflicts_resolved},
          {"desired_applied", stats.desired_applied},
          {"desired_failed", stats.desired_failed},
          {"home_group", home_group_},
          {"locate_error", locate_error_}};
}

rpc::Result<sync_api::LeaseReply> SyncClient::acquire_lease(const std::string& name, std::uint32_t ttl_ms) {
  std::lock_guard round_lock(round_mutex_);
  auto reply = invoke<sync_api::SyncService::AcquireLease>({settings_.home_id, settings_.gateway_id, name, ttl_ms});
  if (!reply.ok()) note_error(reply.error());
  return reply;
}

rpc::Result<sync_api::LeaseReply> SyncClient::release_lease(const std::string& name) {
  std::lock_guard round_lock(round_mutex_);
  auto reply = invoke<sync_api::SyncService::ReleaseLease>({settings_.home_id, settings_.gateway_id, name, 0});
  if (!reply.ok()) note_error(reply.error());
  return reply;
}

}  // namespace homestead::gateway
