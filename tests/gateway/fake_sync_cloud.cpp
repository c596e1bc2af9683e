#include "tests/gateway/fake_sync_cloud.h"

#include <chrono>
#include <thread>

#include "cloud/rpc/skeleton.h"

namespace homestead::testing {

using sync_api::SyncService;

FakeSyncCloud::FakeSyncCloud(std::string token, std::string home_id, std::string gateway_id)
    : token_(std::move(token)), home_id_(std::move(home_id)), gateway_id_(std::move(gateway_id)) {}

FakeSyncCloud::~FakeSyncCloud() { stop(); }

void FakeSyncCloud::start() {
  for (int node = 0; node < 2; ++node) {
    if (listeners_[node]) continue;
    rpc::ServerOptions options;
    options.credentials = {token_};
    options.workers = 2;
    servers_[node] = std::make_unique<rpc::Server>(options);
    rpc::Skeleton<SyncService> skeleton;
    const bool leader = node == 0;
    skeleton.on<SyncService::Push>([this, leader](const sync_api::PushRequest& r) {
      if (!leader) {
        std::lock_guard lock(mutex_);
        ++not_leader_;
        throw rpc::RemoteError("not_leader 127.0.0.1:" + std::to_string(ports_[0]));
      }
      return push(r);
    });
    skeleton.on<SyncService::Pull>([this](const sync_api::PullRequest& r) { return pull(r); });
    auto lease = [this, leader](const sync_api::LeaseRequest& r) {
      std::lock_guard lock(mutex_);
      if (!leader) {
        ++not_leader_;
        throw rpc::RemoteError("not_leader 127.0.0.1:" + std::to_string(ports_[0]));
      }
      check_identity(r.home_id, r.gateway_id);
      ++lease_calls_;
      return sync_api::LeaseReply{true, r.gateway_id, 0, lease_calls_};
    };
    skeleton.on<SyncService::AcquireLease>(lease);
    skeleton.on<SyncService::ReleaseLease>(lease);
    // Like a cloud with its DHT turned off: the gateway keeps its configured URLs.
    skeleton.on<SyncService::Locate>([](const sync_api::LocateRequest&) -> sync_api::LocateReply {
      throw rpc::RemoteError("unavailable: the DHT is disabled on this member");
    });
    skeleton.install(*servers_[node]);
    rpc::HttpListenerOptions listener_options;
    listener_options.threads = 8;
    listeners_[node] = std::make_unique<rpc::HttpListener>(*servers_[node], "127.0.0.1", ports_[node], listener_options);
    ports_[node] = listeners_[node]->port();
    listeners_[node]->start();
  }
}

void FakeSyncCloud::stop() {
  for (int node = 0; node < 2; ++node) {
    if (listeners_[node]) listeners_[node]->stop();
    listeners_[node].reset();
    servers_[node].reset();
  }
}

void FakeSyncCloud::set_fault(Fault fault, int hold_ms) {
  std::lock_guard lock(mutex_);
  fault_ = fault;
  hold_ms_ = hold_ms;
}

void FakeSyncCloud::check_identity(const std::string& home, const std::string& gateway) const {
  if (home != home_id_ || gateway != gateway_id_) throw rpc::RemoteError("forbidden: " + home + "/" + gateway);
}

namespace {

// The body fields cloudd's services check (cloud/services/services_state.cpp), so a gateway
// whose items the real cloud would refuse fails here too.
std::string item_problem(const sync_api::OutboxItem& item) {
  const auto body = nlohmann::json::parse(item.body, nullptr, false);
  if (!body.is_object()) return "body is not a JSON object";
  auto needs_string = [&](const char* name) {
    return body.contains(name) && body[name].is_string() && !body[name].get<std::string>().empty();
  };
  if (item.kind == "reported") return needs_string("device") && body.contains("state") && body["state"].is_object() ? "" : "bad reported body";
  if (item.kind == "transactuation") return needs_string("app") && needs_string("outcome") ? "" : "bad transactuation body";
  if (item.kind == "conflict") {
    return needs_string("device") && needs_string("attribute") && needs_string("resolution") ? "" : "bad conflict body";
  }
  return "unknown kind " + item.kind;
}

}  // namespace

sync_api::PushReply FakeSyncCloud::push(const sync_api::PushRequest& r) {
  int hold_ms = 0;
  sync_api::PushReply reply;
  {
    std::lock_guard lock(mutex_);
    check_identity(r.home_id, r.gateway_id);
    if (fault_ == Fault::refuse) {
      ++refused_;
      throw rpc::RemoteError("injected failure");
    }
    std::uint64_t through = applied_.empty() ? 0 : applied_.back().seq;
    for (const auto& item : r.items) {
      if (item.seq <= through) {
        ++duplicates_;
        ++reply.duplicates;
      } else if (const auto problem = item_problem(item); !problem.empty()) {
        reply.rejected = "seq " + std::to_string(item.seq) + ": " + problem;
        break;
      } else if (item.seq == through + 1) {
        applied_.push_back(item);
        through = item.seq;
        ++reply.applied;
      } else {
        reply.rejected = "gap: expected seq " + std::to_string(through + 1) + ", got " + std::to_string(item.seq);
        break;
      }
    }
    reply.applied_through = through;
    if (fault_ == Fault::drop_reply) hold_ms = hold_ms_;
  }
  // Applied, but the reply arrives after the client gave up: its outcome is unknown to it.
  if (hold_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
  return reply;
}

sync_api::PullReply FakeSyncCloud::pull(const sync_api::PullRequest& r) {
  std::lock_guard lock(mutex_);
  check_identity(r.home_id, r.gateway_id);
  sync_api::PullReply reply;
  for (const auto& c : desired_) {
    if (c.cursor > r.after_cursor && reply.changes.size() < r.limit) reply.changes.push_back(c);
  }
  reply.latest_cursor = desired_.empty() ? 0 : desired_.back().cursor;
  reply.applied_through = applied_.empty() ? 0 : applied_.back().seq;
  return reply;
}

std::uint64_t FakeSyncCloud::add_desired(const std::string& device, const nlohmann::json& desired) {
  std::lock_guard lock(mutex_);
  const auto cursor = desired_.size() + 1;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  desired_.push_back({cursor, device, desired.dump(), cursor * 10, now});
  return cursor;
}

std::vector<sync_api::OutboxItem> FakeSyncCloud::applied() const {
  std::lock_guard lock(mutex_);
  return applied_;
}

std::uint64_t FakeSyncCloud::applied_through() const {
  std::lock_guard lock(mutex_);
  return applied_.empty() ? 0 : applied_.back().seq;
}

std::uint64_t FakeSyncCloud::duplicates() const {
  std::lock_guard lock(mutex_);
  return duplicates_;
}

std::uint64_t FakeSyncCloud::not_leader_answers() const {
  std::lock_guard lock(mutex_);
  return not_leader_;
}

std::uint64_t FakeSyncCloud::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

std::vector<nlohmann::json> FakeSyncCloud::bodies(const std::string& kind) const {
  std::lock_guard lock(mutex_);
  std::vector<nlohmann::json> out;
  for (const auto& item : applied_) {
    if (item.kind == kind) out.push_back(nlohmann::json::parse(item.body, nullptr, false));
  }
  return out;
}

}  // namespace homestead::testing
