// The gateway <-> cloud sync contract (issue 8): one RPC service, declared once here and
// used by cloudd (server, cloud/services) and gatewayd (client, gateway/sync_*). The prose
// version with the conflict rule is docs/sync-protocol.md; keep the two in step.
//
// Transport: cloud/rpc `http`, mounted on cloudd's own HTTP listener
// (POST /rpc/v1/Sync/<Method>), credential = the gateway's own bearer token issued by the
// cloud admin API. The token identifies (home_id, gateway_id); a request naming any other
// home or gateway is refused (ErrorKind::unauthenticated or remote "forbidden").
//
// Leader: a follower answers Push/AcquireLease/ReleaseLease with ErrorKind::remote and a
// message "not_leader <http host:port of the leader or empty>"; the client goes there (or
// to its next configured URL when empty) and sends the same request again. Pull works on
// any member.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "cloud/rpc/service.h"

namespace homestead::sync_api {

namespace rpc = ::homestead::rpc;

// One durable outbox item. `seq` is the gateway's own outbox sequence: 1, 2, 3, ... with no
// gaps, never reused (persisted in the gateway's SQLite). The cloud applies item `seq` only
// if it is exactly its applied_through + 1 for that gateway, so a resend of anything already
// applied is a no-op (exactly once, in order, across timeouts, leader changes and gateway
// restarts), whatever the RPC session layer does.
struct OutboxItem {
  std::uint64_t seq = 0;
  // "reported"       body = {"device": id, "state": {attr: value, ...}, "device_ts_ms": n?, "device_seq": n?}
  // "transactuation" body = the gateway's full transactuation record (id, app, outcome,
  //                  reason, trigger, readings, actuations, writes, started/finished times)
  // "conflict"       body = {"device", "attribute", "local_value", "desired_value",
  //                  "desired_version", "resolution", "detail"} (docs/sync-protocol.md)
  std::string kind;
  std::int64_t at_ms = 0;  // gateway wall clock when the item was committed locally
  std::string body;        // JSON object text
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("seq", &OutboxItem::seq), rpc::required("kind", &OutboxItem::kind),
                           rpc::required("at_ms", &OutboxItem::at_ms), rpc::required("body", &OutboxItem::body));
  }
};

struct PushRequest {
  std::string home_id;
  std::string gateway_id;
  std::vector<OutboxItem> items;  // ascending seq, contiguous
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("home_id", &PushRequest::home_id),
                           rpc::required("gateway_id", &PushRequest::gateway_id),
                           rpc::required("items", &PushRequest::items));
  }
};

struct PushReply {
  // Highest seq of this gateway the cloud has applied (after this call). The gateway
  // deletes its outbox items up to here and, if it is below what it sent (a gap or an
  // invalid item), resends from applied_through + 1.
  std::uint64_t applied_through = 0;
  std::uint64_t applied = 0;     // items applied by this call
  std::uint64_t duplicates = 0;  // items at or below the previous applied_through
  std::string rejected;          // empty, or why the first unapplied item was refused
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("applied_through", &PushReply::applied_through),
                           rpc::optional("applied", &PushReply::applied),
                           rpc::optional("duplicates", &PushReply::duplicates),
                           rpc::optional("rejected", &PushReply::rejected));
  }
};

// A desired-state change made in the cloud (PATCH .../shadow desired). `cursor` is the
// home's desired-change counter (1, 2, 3, ...), assigned at commit.
struct DesiredChange {
  std::uint64_t cursor = 0;
  std::string device;
  std::string desired;            // JSON object text: the attributes this change set
  std::uint64_t shadow_version = 0;  // the shadow version this change produced
  std::int64_t at_ms = 0;            // cloud (proposer) wall clock of the change
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("cursor", &DesiredChange::cursor),
                           rpc::required("device", &DesiredChange::device),
                           rpc::required("desired", &DesiredChange::desired),
                           rpc::required("shadow_version", &DesiredChange::shadow_version),
                           rpc::required("at_ms", &DesiredChange::at_ms));
  }
};

struct PullRequest {
  std::string home_id;
  std::string gateway_id;
  std::uint64_t after_cursor = 0;  // the last cursor the gateway has durably handled
  std::uint32_t limit = 100;
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("home_id", &PullRequest::home_id),
                           rpc::required("gateway_id", &PullRequest::gateway_id),
                           rpc::required("after_cursor", &PullRequest::after_cursor),
                           rpc::optional("limit", &PullRequest::limit));
  }
};

struct PullReply {
  std::vector<DesiredChange> changes;  // ascending cursor, all > after_cursor
  std::uint64_t latest_cursor = 0;     // the home's newest cursor (more to pull if above the last change)
  std::uint64_t applied_through = 0;   // this gateway's outbox position in the cloud (resume point)
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("changes", &PullReply::changes),
                           rpc::required("latest_cursor", &PullReply::latest_cursor),
                           rpc::optional("applied_through", &PullReply::applied_through));
  }
};

// Leases (the seed's Chubby-like lock service): `name` is free text, conventionally
// "home/<home>/device/<id>". Expiry is decided deterministically inside the state machine
// from the proposer's clock carried in the Raft entry, so every replica agrees.
struct LeaseRequest {
  std::string home_id;
  std::string gateway_id;  // the holder
  std::string name;
  std::uint32_t ttl_ms = 10000;  // Acquire/renew only
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("home_id", &LeaseRequest::home_id),
                           rpc::required("gateway_id", &LeaseRequest::gateway_id),
                           rpc::required("name", &LeaseRequest::name),
                           rpc::optional("ttl_ms", &LeaseRequest::ttl_ms));
  }
};

struct LeaseReply {
  bool granted = false;        // Acquire: held by the caller now (new, or renewed)
  std::string holder;          // current holder ("" when free)
  std::int64_t expires_at_ms = 0;
  std::uint64_t fencing_token = 0;  // bumps on every new grant (not on renew): pass it along with commands
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("granted", &LeaseReply::granted), rpc::required("holder", &LeaseReply::holder),
                           rpc::required("expires_at_ms", &LeaseReply::expires_at_ms),
                           rpc::optional("fencing_token", &LeaseReply::fencing_token));
  }
};

// Where a home lives (issue 11): any member resolves the home id on the Chord ring to the
// Raft group that owns it. `members` are that group's HTTP addresses ("host:port") when the
// answering member belongs to it (always, while one group hosts every ring position);
// empty for another group, whose addresses this member does not know yet. A gateway
// configured with one cloud URL learns the rest of its group this way.
struct LocateRequest {
  std::string home_id;
  std::string gateway_id;
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("home_id", &LocateRequest::home_id),
                           rpc::required("gateway_id", &LocateRequest::gateway_id));
  }
};

struct LocateReply {
  std::uint32_t group = 0;
  std::uint64_t owner_member = 0;  // the member holding the ring position that owns the home
  std::uint32_t hops = 0;          // Chord hops the lookup took
  std::vector<std::string> members;
  static constexpr auto schema() {
    return std::make_tuple(rpc::required("group", &LocateReply::group),
                           rpc::required("owner_member", &LocateReply::owner_member),
                           rpc::required("hops", &LocateReply::hops), rpc::required("members", &LocateReply::members));
  }
};

struct SyncService {
  static constexpr std::string_view name = "Sync";
  static constexpr int version = 1;
  // Exactly-once at two levels: the RPC session (client id = the gateway's, seq per call)
  // and the item seq check inside the replicated state machine, which alone is enough.
  HOMESTEAD_RPC_METHOD(Push, PushRequest, PushReply, exactly_once);
  HOMESTEAD_RPC_METHOD(Pull, PullRequest, PullReply, at_least_once);
  HOMESTEAD_RPC_METHOD(AcquireLease, LeaseRequest, LeaseReply, exactly_once);
  HOMESTEAD_RPC_METHOD(ReleaseLease, LeaseRequest, LeaseReply, exactly_once);
  HOMESTEAD_RPC_METHOD(Locate, LocateRequest, LocateReply, at_least_once);
  using Methods = std::tuple<Push, Pull, AcquireLease, ReleaseLease, Locate>;
};

}  // namespace homestead::sync_api
