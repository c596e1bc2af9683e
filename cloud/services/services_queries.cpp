// Read-only views of ServicesState (called under cloudd's reader lock).
#include <algorithm>

#include "cloud/services/services_state.h"

namespace homestead::services {

const Home* ServicesState::home(const std::string& id) const {
  const auto it = homes_.find(id);
  return it == homes_.end() ? nullptr : &it->second;
}

std::vector<const Gateway*> ServicesState::gateways(const std::string& home) const {
  std::vector<const Gateway*> out;
  for (auto it = gateways_.lower_bound({home, ""}); it != gateways_.end() && it->first.first == home; ++it) {
    out.push_back(&it->second);
  }
  return out;
}

const Gateway* ServicesState::gateway(const std::string& home, const std::string& id) const {
  const auto it = gateways_.find({home, id});
  return it == gateways_.end() ? nullptr : &it->second;
}

std::vector<const Device*> ServicesState::devices(const std::string& home) const {
  std::vector<const Device*> out;
  for (auto it = devices_.lower_bound({home, ""}); it != devices_.end() && it->first.first == home; ++it) {
    out.push_back(&it->second);
  }
  return out;
}

const Device* ServicesState::device(const std::string& home, const std::string& id) const {
  const auto it = devices_.find({home, id});
  return it == devices_.end() ? nullptr : &it->second;
}

const Gateway* ServicesState::gateway_by_token_hash(const std::string& token_sha256) const {
  const Gateway* found = nullptr;
  for (const auto& [key, gateway] : gateways_) {
    const std::string& stored = gateway.token_sha256;
    unsigned char diff = stored.size() == token_sha256.size() ? 0 : 1;
    for (std::size_t i = 0; i < stored.size(); ++i) {
      const unsigned char other = i < token_sha256.size() ? static_cast<unsigned char>(token_sha256[i]) : 0;
      diff |= static_cast<unsigned char>(stored[i]) ^ other;
    }
    // No early exit: every stored hash is compared whatever matched.
    if (diff == 0 && !stored.empty()) found = &gateway;
  }
  return found;
}

std::vector<const AuditRecord*> ServicesState::audit(const AuditQuery& query) const {
  std::vector<const AuditRecord*> out;
  const auto it = audit_.find(query.home);
  if (it == audit_.end()) return out;
  // Newest first: the log is in apply order, which is per-gateway seq order.
  for (auto record = it->second.rbegin(); record != it->second.rend(); ++record) {
    if (query.limit != 0 && out.size() >= query.limit) break;
    if (!query.app.empty() && record->app != query.app) continue;
    if (!query.outcome.empty() && record->outcome != query.outcome) continue;
    if (!query.gateway.empty() && record->gateway != query.gateway) continue;
    if (query.since_ms && record->at_ms < *query.since_ms) continue;
    if (query.until_ms && record->at_ms >= *query.until_ms) continue;
    out.push_back(&*record);
  }
  return out;
}

const std::vector<ConflictRecord>& ServicesState::conflicts(const std::string& home) const {
  static const std::vector<ConflictRecord> kNone;
  const auto it = conflicts_.find(home);
  return it == conflicts_.end() ? kNone : it->second;
}

std::size_t ServicesState::audit_count() const {
  std::size_t n = 0;
  for (const auto& [home, records] : audit_) n += records.size();
  return n;
}

std::size_t ServicesState::conflict_count() const {
  std::size_t n = 0;
  for (const auto& [home, records] : conflicts_) n += records.size();
  return n;
}

sync_api::PullReply ServicesState::pull(const sync_api::PullRequest& request) const {
  sync_api::PullReply reply;
  if (const Home* h = home(request.home_id)) reply.latest_cursor = h->desired_cursor;
  if (const Gateway* g = gateway(request.home_id, request.gateway_id)) reply.applied_through = g->applied_through;
  const auto log = desired_log_.find(request.home_id);
  if (log == desired_log_.end()) return reply;
  // Cursors are 1, 2, 3, ... in order, so change `c` sits at index c - 1.
  const std::size_t limit = std::clamp<std::size_t>(request.limit, 1, 1000);
  for (std::size_t i = request.after_cursor; i < log->second.size() && reply.changes.size() < limit; ++i) {
    reply.changes.push_back(log->second[i]);
  }
  return reply;
}

std::vector<Lease> ServicesState::leases(std::int64_t now_ms) const {
  std::vector<Lease> out;
  for (const auto& [name, lease] : leases_) {
    if (lease.fencing_token != 0 && lease.expires_at_ms > now_ms) out.push_back(lease);
  }
  return out;
}

json ServicesState::delta(const Device& device) {
  json out = json::object();
  for (const auto& [attribute, value] : device.desired.items()) {
    const auto reported = device.reported.find(attribute);
    if (reported == device.reported.end() || *reported != value) out[attribute] = value;
  }
  return out;
}

json ServicesState::shadow_json(const Device& device) {
  return {{"home", device.home},
          {"device", device.id},
          {"type", device.type},
          {"reported", device.reported},
          {"desired", device.desired},
          {"delta", delta(device)},
          {"version", device.version},
          {"metadata",
           {{"reported_ms", device.reported_ms},
            {"desired_ms", device.desired_ms},
            {"desired_cursor", device.desired_cursor}}}};
}

}  // namespace homestead::services
