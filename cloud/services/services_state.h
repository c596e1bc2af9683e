// The cloud services state machine (issue 8): registry (homes, gateways, devices), device
// shadows with history, the transactuation audit log, the conflict log, leases and each
// gateway's sync position. PURE and deterministic: no I/O, no clock, no randomness. Time
// comes in with every operation (the Raft proposer's wall clock, made monotonic inside), so
// every replica that applies the same operations in the same order holds the same state and
// gives the same answers (state_hash() proves it).
//
// Operations are JSON objects {"op": "<name>", ...} (ops.h builds them); they travel in a
// cloudd Raft entry and come back here through apply(). Every answer is JSON: the result
// object, or {"error": {"code", "message", "field"?}} (ServiceError below). Queries are const
// methods that the adapters call under cloudd's reader lock.
//
// Storage choice: this is its own state inside cloudd's KvStateMachine (not keys in the KV
// map), which snapshots it (snapshot()/restore()) and mixes state_hash() into its own hash.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cloud/services/sync_api.h"

namespace homestead::services {

using nlohmann::json;

// An operation refused by a rule. `code` is stable (the REST status and the RPC error come
// from it): invalid, not_found, already_exists, version_mismatch, forbidden.
class ServiceError : public std::runtime_error {
 public:
  ServiceError(std::string code, const std::string& message, std::string field = {})
      : std::runtime_error(message), code_(std::move(code)), field_(std::move(field)) {}
  const std::string& code() const { return code_; }
  const std::string& field() const { return field_; }
  json to_json() const;

 private:
  std::string code_;
  std::string field_;
};

struct Home {
  std::string id;
  std::string name;
  std::int64_t created_ms = 0;
  std::uint64_t desired_cursor = 0;  // the home's last desired-change cursor
};

struct Gateway {
  std::string home;
  std::string id;
  std::string token_sha256;  // hex; the token itself is never stored
  std::int64_t created_ms = 0;
  std::uint64_t applied_through = 0;
  std::int64_t last_push_ms = 0;
  std::uint64_t items_applied = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
};

struct HistoryEntry {
  std::uint64_t version = 0;  // the shadow version after this change
  std::int64_t at_ms = 0;
  std::string source;  // "reported" | "desired" | "conflict"
  std::string gateway;  // reported/conflict: the gateway; desired: "" (cloud)
  std::uint64_t seq = 0;  // the gateway's outbox seq, 0 for cloud changes
  json change;          // the attributes set (null = removed), or the conflict body
};

struct Device {
  std::string home;
  std::string id;
  std::string type;
  json reported = json::object();
  json desired = json::object();
  std::uint64_t version = 0;  // bumps on every change of reported or desired, never goes back
  std::uint64_t desired_cursor = 0;  // the home cursor of this device's last desired change
  std::int64_t reported_ms = 0;
  std::int64_t desired_ms = 0;
  std::deque<HistoryEntry> history;  // oldest first, at most kHistoryLimit (deque: O(1) trim)
};

struct AuditRecord {
  std::string gateway;
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;  // gateway commit time
  std::string app;
  std::string outcome;
  json record;
};

struct ConflictRecord {
  std::string gateway;
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;
  std::string device;
  json body;
};

struct Lease {
  std::string name;
  std::string home;    // the holder's home ("" for admin holders)
  std::string holder;  // gateway id, or an admin-chosen name
  std::int64_t expires_at_ms = 0;
  std::uint64_t fencing_token = 0;
};

struct AuditQuery {
  std::string home;
  std::string app;      // "" = any
  std::string outcome;  // "" = any
  std::string gateway;  // "" = any
  std::optional<std::int64_t> since_ms;  // at_ms >= since
  std::optional<std::int64_t> until_ms;  // at_ms <  until
  std::size_t limit = 100;               // newest first
};

struct Counters {
  std::uint64_t pushes = 0;
  std::uint64_t items_applied = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  std::uint64_t desired_changes = 0;
  std::uint64_t lease_grants = 0;
};

inline constexpr std::size_t kHistoryLimit = 1000;

class ServicesState {
 public:
  // Applies one operation (see ops.h) at the proposer's time `now_ms`. Never throws for a
  // refused operation: the answer is {"error": {...}}. `op_text`, when the caller has it
  // (the Raft entry's bytes), feeds the hash chain instead of re-encoding `op`.
  json apply(const json& op, std::int64_t now_ms, std::string_view op_text = {});

  // --- typed operations (apply() dispatches to these; they throw ServiceError) ---
  json create_home(const std::string& id, const std::string& name);
  json add_gateway(const std::string& home, const std::string& id, const std::string& token_sha256);
  json remove_gateway(const std::string& home, const std::string& id);
  json add_device(const std::string& home, const std::string& id, const std::string& type);
  // `if_match`: the shadow version the caller read; a different current version is a
  // version_mismatch (the error carries the current version in "field").
  json set_desired(const std::string& home, const std::string& device, const json& desired,
                   std::optional<std::uint64_t> if_match);
  sync_api::PushReply push(const sync_api::PushRequest& request);
  sync_api::LeaseReply acquire_lease(const std::string& home, const std::string& holder, const std::string& name,
                                     std::uint32_t ttl_ms);
  sync_api::LeaseReply release_lease(const std::string& home, const std::string& holder, const std::string& name);

  // --- queries ---
  const std::map<std::string, Home>& homes() const { return homes_; }
  const Home* home(const std::string& id) const;
  std::vector<const Gateway*> gateways(const std::string& home) const;
  const Gateway* gateway(const std::string& home, const std::string& id) const;
  std::vector<const Device*> devices(const std::string& home) const;
  const Device* device(const std::string& home, const std::string& id) const;
  // The gateway whose token hashes to `token_sha256` (compared in constant time against
  // every registered hash, so timing does not tell how close a guess was).
  const Gateway* gateway_by_token_hash(const std::string& token_sha256) const;
  std::vector<const AuditRecord*> audit(const AuditQuery& query) const;
  const std::vector<ConflictRecord>& conflicts(const std::string& home) const;
  sync_api::PullReply pull(const sync_api::PullRequest& request) const;
  // Leases as of `now_ms` (the caller's clock; expired ones are left out).
  std::vector<Lease> leases(std::int64_t now_ms) const;
  std::size_t gateway_count() const { return gateways_.size(); }
  std::size_t device_count() const { return devices_.size(); }
  std::size_t audit_count() const;
  std::size_t conflict_count() const;
  const Counters& counters() const { return counters_; }
  std::int64_t now_ms() const { return now_ms_; }

  // Shadow document as the REST API and the history show it.
  static json shadow_json(const Device& device);
  // Desired attributes whose value differs from reported (absent in reported counts).
  static json delta(const Device& device);

  // A hash chain over every applied operation and its time (O(1): cloudd asks for it on
  // the Raft loop thread for /api/v1/cluster and /metrics, where an O(state) walk would
  // stall heartbeats). Equal on replicas that applied the same operations; travels in the
  // snapshot. full_state_hash() walks the whole state (tests compare replicas with it).
  std::uint64_t state_hash() const { return op_chain_; }
  std::uint64_t full_state_hash() const;
  std::string snapshot() const;  // CBOR of to_json()
  // Throws std::runtime_error on a malformed snapshot (the state is then unchanged).
  void restore(std::string_view data);
  json to_json() const;
  static ServicesState from_json(const json& document);

 private:
  using Key = std::pair<std::string, std::string>;  // (home, id)
  Home& require_home(const std::string& id);
  Device& device_for_write(const std::string& home, const std::string& id);
  void record_history(Device& device, HistoryEntry entry);
  void apply_item(Gateway& gateway, const sync_api::OutboxItem& item, const json& body);

  std::map<std::string, Home> homes_;
  std::map<Key, Gateway> gateways_;
  std::map<Key, Device> devices_;
  std::map<std::string, std::vector<AuditRecord>> audit_;
  std::map<std::string, std::vector<ConflictRecord>> conflicts_;
  std::map<std::string, std::vector<sync_api::DesiredChange>> desired_log_;  // per home, cursor order
  std::map<std::string, Lease> leases_;
  std::uint64_t next_fencing_token_ = 1;
  std::int64_t now_ms_ = 0;  // max of every operation's time: never goes back
  std::uint64_t op_chain_ = 1469598103934665603ull;  // FNV-1a offset basis
  Counters counters_;
};

// SHA-256 of `text`, lower-case hex (OpenSSL libcrypto).
std::string sha256_hex(std::string_view text);

}  // namespace homestead::services
