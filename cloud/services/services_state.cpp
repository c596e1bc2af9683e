// The mutating rules of ServicesState (queries in services_queries.cpp, snapshot and hash
// in services_codec.cpp).
#include <algorithm>

#include "cloud/services/services_state.h"

namespace homestead::services {
namespace {

// Ids appear in URLs, lease names and log lines: keep them to a safe alphabet.
void check_id(const std::string& value, const char* field) {
  if (value.empty() || value.size() > 64) {
    throw ServiceError("invalid", std::string("field '") + field + "': must be 1-64 characters", field);
  }
  for (const unsigned char c : value) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) {
      throw ServiceError("invalid",
                         std::string("field '") + field + "': only letters, digits, '-', '_' and '.' are allowed, got \"" +
                             value + "\"",
                         field);
    }
  }
}

const json& member(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) throw ServiceError("invalid", std::string("field '") + name + "' is required", name);
  return *it;
}
std::string string_member(const json& object, const char* name) {
  const json& value = member(object, name);
  if (!value.is_string()) {
    throw ServiceError("invalid", std::string("field '") + name + "': expected a string, got " + value.type_name(), name);
  }
  return value.get<std::string>();
}
std::uint64_t unsigned_member(const json& object, const char* name) {
  const json& value = member(object, name);
  if (!value.is_number_unsigned()) {
    throw ServiceError("invalid", std::string("field '") + name + "': expected an unsigned integer", name);
  }
  return value.get<std::uint64_t>();
}

// Merges `changes` into `target` (null removes an attribute); true when anything changed.
bool merge(json& target, const json& changes) {
  bool changed = false;
  for (const auto& [attribute, value] : changes.items()) {
    if (value.is_null()) {
      changed = target.erase(attribute) > 0 || changed;
    } else if (!target.contains(attribute) || target[attribute] != value) {
      target[attribute] = value;
      changed = true;
    }
  }
  return changed;
}

// Why an outbox item cannot be applied ("" when it can).
std::string item_problem(const sync_api::OutboxItem& item, json& body) {
  try {
    body = json::parse(item.body);
  } catch (const json::parse_error& e) {
    return "body is not valid JSON: " + std::string(e.what());
  }
  if (!body.is_object()) return "body must be a JSON object";
  auto needs_string = [&](const char* name) -> std::string {
    const auto it = body.find(name);
    if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return std::string("body field '") + name + "' must be a non-empty string";
    }
    return {};
  };
  if (item.kind == "reported") {
    if (auto problem = needs_string("device"); !problem.empty()) return problem;
    const auto state = body.find("state");
    if (state == body.end() || !state->is_object()) return "body field 'state' must be an object";
    return {};
  }
  if (item.kind == "transactuation") {
    for (const char* name : {"app", "outcome"}) {
      if (auto problem = needs_string(name); !problem.empty()) return problem;
    }
    return {};
  }
  if (item.kind == "conflict") {
    for (const char* name : {"device", "attribute", "resolution"}) {
      if (auto problem = needs_string(name); !problem.empty()) return problem;
    }
    return {};
  }
  return "unknown kind \"" + item.kind + "\" (expected reported, transactuation or conflict)";
}

}  // namespace

json ServiceError::to_json() const {
  json error{{"code", code_}, {"message", what()}};
  if (!field_.empty()) error["field"] = field_;
  return {{"error", std::move(error)}};
}

json ServicesState::apply(const json& op, std::int64_t now_ms, std::string_view op_text) {
  now_ms_ = std::max(now_ms_, now_ms);  // proposers' clocks differ: never let time go back
  auto chain = [this](std::string_view bytes) {
    for (const unsigned char c : bytes) op_chain_ = (op_chain_ ^ c) * 1099511628211ull;
  };
  if (op_text.empty()) {
    chain(op.dump(-1, ' ', false, json::error_handler_t::replace));
  } else {
    chain(op_text);
  }
  chain("@");  // two calls: g++ 12 -O3 reports a false -Wrestrict on "@" + std::string
  chain(std::to_string(now_ms_));
  try {
    if (!op.is_object()) throw ServiceError("invalid", "operation must be a JSON object");
    const std::string name = string_member(op, "op");
    if (name == "create_home") return create_home(string_member(op, "id"), op.value("name", std::string()));
    if (name == "add_gateway") {
      return add_gateway(string_member(op, "home"), string_member(op, "id"), string_member(op, "token_sha256"));
    }
    if (name == "remove_gateway") return remove_gateway(string_member(op, "home"), string_member(op, "id"));
    if (name == "add_device") {
      return add_device(string_member(op, "home"), string_member(op, "id"), op.value("type", std::string()));
    }
    if (name == "set_desired") {
      std::optional<std::uint64_t> if_match;
      if (op.contains("if_match")) if_match = unsigned_member(op, "if_match");
      return set_desired(string_member(op, "home"), string_member(op, "device"), member(op, "desired"), if_match);
    }
    if (name == "push") {
      sync_api::PushRequest request;
      try {
        rpc::from_document(member(op, "request"), request);
      } catch (const rpc::SchemaError& e) {
        throw ServiceError("invalid", e.what(), e.field());
      }
      return rpc::to_document(push(request));
    }
    if (name == "acquire_lease" || name == "release_lease") {
      const std::string home = string_member(op, "home");
      const std::string holder = string_member(op, "holder");
      const std::string lease = string_member(op, "name");
      if (name == "release_lease") return rpc::to_document(release_lease(home, holder, lease));
      return rpc::to_document(
          acquire_lease(home, holder, lease, static_cast<std::uint32_t>(unsigned_member(op, "ttl_ms"))));
    }
    throw ServiceError("invalid", "unknown operation \"" + name + "\"", "op");
  } catch (const ServiceError& e) {
    return e.to_json();
  } catch (const json::exception& e) {
    // A field of the wrong type the typed checks above did not name (e.g. "name": 5).
    return ServiceError("invalid", std::string("malformed operation: ") + e.what()).to_json();
  }
}

Home& ServicesState::require_home(const std::string& id) {
  const auto it = homes_.find(id);
  if (it == homes_.end()) throw ServiceError("not_found", "no home \"" + id + "\"", "home");
  return it->second;
}

json ServicesState::create_home(const std::string& id, const std::string& name) {
  check_id(id, "id");
  if (homes_.count(id)) throw ServiceError("already_exists", "home \"" + id + "\" exists", "id");
  Home& home = homes_[id];
  home.id = id;
  home.name = name.empty() ? id : name;
  home.created_ms = now_ms_;
  return {{"id", id}, {"name", home.name}, {"created_ms", home.created_ms}};
}

json ServicesState::add_gateway(const std::string& home, const std::string& id, const std::string& token_sha256) {
  require_home(home);
  check_id(id, "id");
  if (token_sha256.size() != 64) throw ServiceError("invalid", "field 'token_sha256': expected 64 hex digits", "token_sha256");
  if (gateways_.count({home, id})) {
    throw ServiceError("already_exists", "gateway \"" + id + "\" exists in home \"" + home + "\"", "id");
  }
  Gateway& gateway = gateways_[{home, id}];
  gateway.home = home;
  gateway.id = id;
  gateway.token_sha256 = token_sha256;
  gateway.created_ms = now_ms_;
  return {{"home", home}, {"id", id}};
}

json ServicesState::remove_gateway(const std::string& home, const std::string& id) {
  require_home(home);
  if (gateways_.erase({home, id}) == 0) {
    throw ServiceError("not_found", "no gateway \"" + id + "\" in home \"" + home + "\"", "id");
  }
  return {{"home", home}, {"id", id}, {"removed", true}};
}

json ServicesState::add_device(const std::string& home, const std::string& id, const std::string& type) {
  require_home(home);
  check_id(id, "id");
  if (devices_.count({home, id})) {
    throw ServiceError("already_exists", "device \"" + id + "\" exists in home \"" + home + "\"", "id");
  }
  Device& device = device_for_write(home, id);
  device.type = type;
  return shadow_json(device);
}

Device& ServicesState::device_for_write(const std::string& home, const std::string& id) {
  auto [it, created] = devices_.try_emplace({home, id});
  if (created) {
    it->second.home = home;
    it->second.id = id;
  }
  return it->second;
}

void ServicesState::record_history(Device& device, HistoryEntry entry) {
  device.history.push_back(std::move(entry));
  while (device.history.size() > kHistoryLimit) device.history.pop_front();
}

json ServicesState::set_desired(const std::string& home_id, const std::string& device_id, const json& desired,
                                std::optional<std::uint64_t> if_match) {
  Home& home = require_home(home_id);
  check_id(device_id, "device");
  if (!desired.is_object() || desired.empty()) {
    throw ServiceError("invalid", "field 'desired': expected a non-empty object of attribute -> value", "desired");
  }
  const auto existing = devices_.find({home_id, device_id});
  const std::uint64_t current = existing == devices_.end() ? 0 : existing->second.version;
  if (if_match && *if_match != current) {
    throw ServiceError("version_mismatch",
                       "If-Match version " + std::to_string(*if_match) + " is not the current version " +
                           std::to_string(current),
                       std::to_string(current));
  }
  // A PATCH is an intent even when it repeats the current value (the gateway applies it
  // again, e.g. after someone changed the device by hand): it always gets a version and a
  // cursor.
  Device& device = device_for_write(home_id, device_id);
  merge(device.desired, desired);
  ++device.version;
  device.desired_ms = now_ms_;
  device.desired_cursor = ++home.desired_cursor;
  desired_log_[home_id].push_back(
      sync_api::DesiredChange{home.desired_cursor, device_id, desired.dump(), device.version, now_ms_});
  record_history(device, HistoryEntry{device.version, now_ms_, "desired", "", 0, desired});
  ++counters_.desired_changes;
  return shadow_json(device);
}

sync_api::PushReply ServicesState::push(const sync_api::PushRequest& request) {
  const auto found = gateways_.find({request.home_id, request.gateway_id});
  if (found == gateways_.end()) {
    throw ServiceError("forbidden",
                       "gateway \"" + request.gateway_id + "\" is not registered in home \"" + request.home_id + "\"",
                       "gateway_id");
  }
  Gateway& gateway = found->second;
  ++counters_.pushes;
  gateway.last_push_ms = now_ms_;
  sync_api::PushReply reply;
  for (const auto& item : request.items) {
    if (item.seq <= gateway.applied_through) {
      ++reply.duplicates;
      continue;
    }
    if (item.seq != gateway.applied_through + 1) {
      reply.rejected = "gap: expected seq " + std::to_string(gateway.applied_through + 1) + ", got " +
                       std::to_string(item.seq);
      break;
    }
    json body;
    if (const std::string problem = item_problem(item, body); !problem.empty()) {
      reply.rejected = "item seq " + std::to_string(item.seq) + ": " + problem;
      break;
    }
    apply_item(gateway, item, body);
    gateway.applied_through = item.seq;
    ++reply.applied;
  }
  if (!reply.rejected.empty()) {
    ++gateway.rejected;
    ++counters_.rejected;
  }
  gateway.items_applied += reply.applied;
  gateway.duplicates += reply.duplicates;
  counters_.items_applied += reply.applied;
  counters_.duplicates += reply.duplicates;
  reply.applied_through = gateway.applied_through;
  return reply;
}

// Only called for items item_problem() accepted (`body` is the item's parsed body).
void ServicesState::apply_item(Gateway& gateway, const sync_api::OutboxItem& item, const json& body) {
  if (item.kind == "reported") {
    Device& device = device_for_write(gateway.home, body.at("device").get<std::string>());
    if (body.contains("type") && body.at("type").is_string() && device.type.empty()) {
      device.type = body.at("type").get<std::string>();
    }
    device.reported_ms = item.at_ms;
    if (merge(device.reported, body.at("state"))) {
      ++device.version;
      record_history(device, HistoryEntry{device.version, item.at_ms, "reported", gateway.id, item.seq, body.at("state")});
    }
  } else if (item.kind == "transactuation") {
    audit_[gateway.home].push_back(AuditRecord{gateway.id, item.seq, item.at_ms, body.at("app").get<std::string>(),
                                               body.at("outcome").get<std::string>(), body});
  } else {  // conflict
    const std::string device_id = body.at("device").get<std::string>();
    conflicts_[gateway.home].push_back(ConflictRecord{gateway.id, item.seq, item.at_ms, device_id, body});
    // Kept with the device's history too; a conflict changes neither side, so no version.
    Device& device = device_for_write(gateway.home, device_id);
    record_history(device, HistoryEntry{device.version, item.at_ms, "conflict", gateway.id, item.seq, body});
  }
}

sync_api::LeaseReply ServicesState::acquire_lease(const std::string& home, const std::string& holder,
                                                  const std::string& name, std::uint32_t ttl_ms) {
  if (name.empty()) throw ServiceError("invalid", "field 'name': must not be empty", "name");
  if (holder.empty()) throw ServiceError("invalid", "field 'holder': must not be empty", "holder");
  if (ttl_ms == 0) throw ServiceError("invalid", "field 'ttl_ms': must be >= 1", "ttl_ms");
  auto& lease = leases_[name];
  const bool live = lease.fencing_token != 0 && lease.expires_at_ms > now_ms_;
  const bool mine = lease.holder == holder && lease.home == home;
  if (live && !mine) return sync_api::LeaseReply{false, lease.holder, lease.expires_at_ms, lease.fencing_token};
  if (!live) {
    // A new grant (free, or expired even if the caller held it: someone may have acted on
    // the expiry) gets a new fencing token, so commands under the old grant are refusable.
    lease = Lease{name, home, holder, 0, next_fencing_token_++};
    ++counters_.lease_grants;
  }
  lease.expires_at_ms = now_ms_ + ttl_ms;
  return sync_api::LeaseReply{true, lease.holder, lease.expires_at_ms, lease.fencing_token};
}

sync_api::LeaseReply ServicesState::release_lease(const std::string& home, const std::string& holder,
                                                  const std::string& name) {
  const auto it = leases_.find(name);
  if (it == leases_.end() || it->second.expires_at_ms <= now_ms_) {
    if (it != leases_.end()) leases_.erase(it);
    return sync_api::LeaseReply{false, "", 0, 0};
  }
  const Lease& lease = it->second;
  if (lease.holder != holder || lease.home != home) {
    return sync_api::LeaseReply{false, lease.holder, lease.expires_at_ms, lease.fencing_token};
  }
  leases_.erase(it);
  return sync_api::LeaseReply{false, "", 0, 0};
}

}  // namespace homestead::services
