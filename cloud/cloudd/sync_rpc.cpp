#include "cloud/cloudd/sync_rpc.h"

#include <algorithm>
#include <thread>

#include "cloud/cloudd/dht_service.h"
#include "cloud/cloudd/service_writer.h"
#include "cloud/rpc/http_server.h"
#include "cloud/rpc/skeleton.h"
#include "cloud/services/ops.h"
#include "cloud/services/sync_api.h"

namespace homestead::cloudd {
namespace {

using sync_api::SyncService;

// The principal the authenticator gave must be exactly the home/gateway the request names.
void check_caller(const rpc::CallContext& context, const std::string& home, const std::string& gateway) {
  if (context.principal != home + "/" + gateway) {
    throw rpc::RemoteError("forbidden: the token of " + (context.principal.empty() ? "(none)" : context.principal) +
                           " cannot act for " + home + "/" + gateway);
  }
}

// Leases named "home/<h>/..." belong to home <h>: a gateway may only take its own home's.
void check_lease_name(const std::string& home, const std::string& name) {
  if (name.rfind("home/", 0) == 0 && name.rfind("home/" + home + "/", 0) != 0) {
    throw rpc::RemoteError("forbidden: lease \"" + name + "\" belongs to another home");
  }
}

nlohmann::json write_or_throw(RaftServer& raft, const nlohmann::json& op, std::chrono::milliseconds timeout) {
  const ServiceWrite write = propose_service_op(raft, op, timeout);
  switch (write.status) {
    case ServiceWrite::Status::ok:
      if (write.refused()) {
        const auto& error = write.result["error"];
        throw rpc::RemoteError(error.value("code", std::string("error")) + ": " +
                               error.value("message", std::string()));
      }
      return write.result;
    case ServiceWrite::Status::not_leader: throw rpc::RemoteError("not_leader " + write.leader_http);
    case ServiceWrite::Status::not_applied: throw rpc::RemoteError("unavailable: not applied: " + write.reason);
    case ServiceWrite::Status::unknown: throw rpc::RemoteError("unavailable: outcome unknown: " + write.reason);
  }
  throw rpc::RemoteError("unavailable");
}

// How long a call with a token unknown here waits for a read point before it is refused.
constexpr std::chrono::milliseconds kUnknownTokenReadWait{2000};
// Between asks for a read point while none can be had (no leader known yet).
constexpr std::chrono::milliseconds kNoReadPointRetry{20};

}  // namespace

SyncRpc::SyncRpc(RaftServer& raft, const DhtService* dht, std::chrono::milliseconds timeout)
    : raft_(raft), dht_(dht), timeout_(timeout) {
  rpc::ServerOptions options;
  options.workers = 1;  // calls run on the HTTP connection threads (rpc::Server::execute)
  options.authenticator = [this](std::string_view token) -> std::optional<std::string> {
    const std::string hash = services::sha256_hex(token);
    const auto lookup = [&] {
      return raft_.read([&](const KvStateMachine& state) -> std::optional<std::string> {
        const services::Gateway* gateway = state.services().gateway_by_token_hash(hash);
        if (!gateway) return std::nullopt;
        return gateway->home + "/" + gateway->id;
      });
    };
    if (auto principal = lookup()) return principal;
    // Unknown here may only mean not applied here yet: the admin API answers 201 for a new
    // gateway from the member that proxied it to the leader, before that member has applied
    // it, and the gateway may call that member at once. Refuse only what is unknown at a
    // linearizable read point (a follower asks the leader for it: one round trip, paid only
    // by tokens this member does not know).
    // A member that has just come back may know no leader for a moment: ask again until the
    // wait is over.
    const auto deadline = std::chrono::steady_clock::now() + std::min(timeout_, kUnknownTokenReadWait);
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds::zero()) return std::nullopt;
      if (raft_.linearizable_read_barrier(left).ok) return lookup();
      std::this_thread::sleep_for(std::min(left, kNoReadPointRetry));
    }
  };
  server_ = std::make_unique<rpc::Server>(std::move(options));

  rpc::Skeleton<SyncService> sync;
  sync.on<SyncService::Push>([this](const sync_api::PushRequest& request, const rpc::CallContext& context) {
    check_caller(context, request.home_id, request.gateway_id);
    return rpc::from_document<sync_api::PushReply>(write_or_throw(raft_, services::ops::push(request), timeout_));
  });
  sync.on<SyncService::Pull>([this](const sync_api::PullRequest& request, const rpc::CallContext& context) {
    check_caller(context, request.home_id, request.gateway_id);
    return raft_.read([&](const KvStateMachine& state) { return state.services().pull(request); });
  });
  sync.on<SyncService::AcquireLease>([this](const sync_api::LeaseRequest& request, const rpc::CallContext& context) {
    check_caller(context, request.home_id, request.gateway_id);
    check_lease_name(request.home_id, request.name);
    return rpc::from_document<sync_api::LeaseReply>(write_or_throw(
        raft_, services::ops::acquire_lease(request.home_id, request.gateway_id, request.name, request.ttl_ms),
        timeout_));
  });
  sync.on<SyncService::ReleaseLease>([this](const sync_api::LeaseRequest& request, const rpc::CallContext& context) {
    check_caller(context, request.home_id, request.gateway_id);
    check_lease_name(request.home_id, request.name);
    return rpc::from_document<sync_api::LeaseReply>(write_or_throw(
        raft_, services::ops::release_lease(request.home_id, request.gateway_id, request.name), timeout_));
  });
  sync.on<SyncService::Locate>([this](const sync_api::LocateRequest& request, const rpc::CallContext& context) {
    check_caller(context, request.home_id, request.gateway_id);
    return locate(request.home_id);
  });
  sync.install(*server_);
}

sync_api::LocateReply SyncRpc::locate(const std::string& home) const {
  if (dht_ == nullptr) throw rpc::RemoteError("unavailable: the DHT is disabled on this member (config 'dht.enabled')");
  const DhtLookup found = dht_->lookup(dht::home_key(dht_->space(), home), timeout_);
  if (!found.ok) throw rpc::RemoteError("unavailable: ring lookup failed: " + found.error);
  sync_api::LocateReply reply;
  reply.group = dht_->group_of_host(found.owner.host);
  reply.owner_member = found.owner.host;
  reply.hops = found.path.empty() ? 0 : static_cast<std::uint32_t>(found.path.size() - 1);
  if (reply.group == dht_->config().dht.group) {
    // Our own group: its members are this Raft cluster's voters and learners.
    const ClusterStatus status = raft_.status(timeout_);
    for (const auto& member : status.members) {
      if (!member.http_address.empty()) reply.members.push_back(member.http_address);
    }
  }
  return reply;
}

SyncRpc::~SyncRpc() = default;

void SyncRpc::mount(httplib::Server& http) { rpc::install_rpc_routes(http, *server_); }

}  // namespace homestead::cloudd
