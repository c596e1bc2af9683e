// Gateway operations on the device registry and device state (REST: /devices...).
#include "common/log/log.h"
#include "devices/discovery.h"
#include "devices/topics.h"
#include "gateway/gateway.h"

namespace homestead::gateway {
namespace {

const log::Logger logger("registry");

void check_fields(const nlohmann::json& body, std::initializer_list<std::string_view> known) {
  if (!body.is_object()) throw ApiError(400, "invalid_body", "expected a JSON object");
  for (const auto& [k, v] : body.items()) {
    bool ok = false;
    std::string list;
    for (auto name : known) {
      ok = ok || k == name;
      list += (list.empty() ? "" : ", ") + std::string(name);
    }
    if (!ok) throw ApiError(400, "unknown_field", "field '" + k + "': unknown (known: " + list + ")");
  }
}

std::string string_field(const nlohmann::json& body, const std::string& name, std::size_t max_len) {
  const auto& v = body[name];
  if (!v.is_string()) throw ApiError(400, "invalid_field", "field '" + name + "': expected a string");
  const auto s = v.get<std::string>();
  if (s.size() > max_len) {
    throw ApiError(400, "invalid_field", "field '" + name + "': longer than " + std::to_string(max_len) + " characters");
  }
  return s;
}

}  // namespace

const devices::KindInfo* Gateway::device_kind(const std::string& id) {
  if (!devices::valid_id(id)) throw ApiError(400, "invalid_id", "device id must be 1..48 of [a-z0-9_-]");
  std::lock_guard lock(core_mutex_);
  const auto* state = cache_.find(id);
  if (!state) throw ApiError(404, "not_found", "device '" + id + "' not found");
  return state->kind;
}

nlohmann::json Gateway::device_json(const DeviceRecord& d) {
  nlohmann::json j = {{"id", d.id},         {"kind", d.kind},       {"name", d.name},
                      {"room", d.room},     {"source", d.source},   {"credentials", d.credentials},
                      {"created_ms", d.created_ms}, {"updated_ms", d.updated_ms}};
  std::lock_guard lock(core_mutex_);
  if (const auto* s = cache_.find(d.id)) {
    j["online"] = s->online ? nlohmann::json(*s->online) : nlohmann::json(nullptr);
    j["last_seen_ms"] = s->last_seen_ms;
  }
  return j;
}

nlohmann::json Gateway::list_devices() {
  auto out = nlohmann::json::array();
  for (const auto& d : store_->devices()) out.push_back(device_json(d));
  return {{"devices", out}};
}

nlohmann::json Gateway::get_device(const std::string& id) {
  device_kind(id);
  auto d = store_->device(id);
  if (!d) throw ApiError(404, "not_found", "device '" + id + "' not found");
  return device_json(*d);
}

nlohmann::json Gateway::device_state(const std::string& id) {
  device_kind(id);
  std::lock_guard lock(core_mutex_);
  const auto* s = cache_.find(id);
  if (!s) throw ApiError(404, "not_found", "device '" + id + "' not found");
  return state_json(*s, wall_ms(), config_.stale_after_s * 1000, link_up());
}

nlohmann::json Gateway::readings(const ReadingQuery& query) {
  device_kind(query.device);
  auto out = nlohmann::json::array();
  for (const auto& r : store_->readings(query)) {
    out.push_back({{"received_ms", r.received_ms},
                   {"device_ts_ms", r.device_ts_ms},
                   {"seq", r.seq},
                   {"state", nlohmann::json::parse(r.state, nullptr, false)}});
  }
  return {{"device", query.device}, {"readings", out}};
}

nlohmann::json Gateway::create_device(const nlohmann::json& body) {
  check_fields(body, {"id", "kind", "room", "name"});
  if (!body.contains("id")) throw ApiError(400, "missing_field", "field 'id': required");
  if (!body.contains("kind")) throw ApiError(400, "missing_field", "field 'kind': required");
  DeviceRecord d;
  d.id = string_field(body, "id", 48);
  if (!devices::valid_id(d.id)) throw ApiError(400, "invalid_field", "field 'id': expected 1..48 of [a-z0-9_-]");
  d.kind = string_field(body, "kind", 48);
  const auto* kind = devices::find_kind(d.kind);
  if (!kind) {
    throw ApiError(400, "invalid_field", "field 'kind': unknown kind \"" + d.kind + "\" (known: " + devices::kind_names() + ")");
  }
  d.name = body.contains("name") ? string_field(body, "name", 100) : d.id;
  d.room = body.contains("room") ? string_field(body, "room", 48) : "";
  if (!d.room.empty() && !home_.rooms.empty() && !home_.room(d.room)) {
    throw ApiError(400, "invalid_field", "field 'room': unknown room '" + d.room + "'");
  }
  d.credentials = d.id;
  d.source = "api";
  d.created_ms = d.updated_ms = wall_ms();
  std::string password;
  if (provisioner_.enabled()) {
    password = random_hex(16);
    d.mqtt_password_hash = mosquitto_password_hash(password);
  }
  std::lock_guard registry_lock(registry_mutex_);
  if (store_->device(d.id)) throw ApiError(409, "conflict", "device '" + d.id + "' already exists");
  store_->upsert_device(d);
  {
    std::lock_guard lock(core_mutex_);
    cache_.add_device(d.id, *kind);
  }
  if (provisioner_.enabled()) {
    try {
      provisioner_.apply(store_->devices());
    } catch (const std::exception& e) {
      store_->delete_device(d.id);
      {
        std::lock_guard lock(core_mutex_);
        cache_.remove_device(d.id);
      }
      logger.error("provisioning failed", {{"device", d.id}, {"error", e.what()}});
      throw ApiError(502, "provisioning_failed", std::string("broker provisioning failed: ") + e.what());
    }
  }
  publish_discovery(d);
  logger.info("device registered", {{"device", d.id}, {"kind", d.kind}});
  auto j = device_json(d);
  if (provisioner_.enabled()) {
    nlohmann::json topics = nlohmann::json::object();
    for (auto ch : {devices::Channel::state, devices::Channel::cmd, devices::Channel::ack, devices::Channel::status}) {
      topics[std::string(devices::channel_name(ch))] = devices::device_topic(home_.id, d.id, ch);
    }
    // The only time the password is shown; the registry keeps its hash.
    j["mqtt"] = {{"username", d.credentials}, {"password", password}, {"topics", topics}};
  }
  return j;
}

nlohmann::json Gateway::patch_device(const std::string& id, const nlohmann::json& body) {
  device_kind(id);
  check_fields(body, {"name", "room"});
  std::lock_guard registry_lock(registry_mutex_);
  auto d = store_->device(id);
  if (!d) throw ApiError(404, "not_found", "device '" + id + "' not found");
  if (body.contains("name")) d->name = string_field(body, "name", 100);
  if (body.contains("room")) {
    d->room = string_field(body, "room", 48);
    if (!d->room.empty() && !home_.rooms.empty() && !home_.room(d->room)) {
      throw ApiError(400, "invalid_field", "field 'room': unknown room '" + d->room + "'");
    }
  }
  d->updated_ms = wall_ms();
  store_->upsert_device(*d);
  publish_discovery(*d);
  return device_json(*d);
}

void Gateway::delete_device(const std::string& id) {
  const auto* kind = device_kind(id);
  std::lock_guard registry_lock(registry_mutex_);
  if (!store_->delete_device(id)) throw ApiError(404, "not_found", "device '" + id + "' not found");
  std::vector<CommandRecord> dropped;
  {
    std::lock_guard lock(core_mutex_);
    cache_.remove_device(id);
    dropped = tracker_.drop_device(id, wall_ms());
  }
  for (const auto& c : dropped) persist_command(c);
  if (provisioner_.enabled()) {
    try {
      provisioner_.apply(store_->devices());
    } catch (const std::exception& e) {
      logger.error("revocation failed", {{"device", id}, {"error", e.what()}});
      throw ApiError(502, "provisioning_failed", std::string("device deleted but broker revocation failed: ") + e.what());
    }
  }
  // An empty retained config removes the entity from Home Assistant.
  if (link_) link_->publish(devices::discovery_topic(*kind, home_.id, id), "", 1, true);
  logger.info("device deleted", {{"device", id}});
}

nlohmann::json Gateway::create_token(const nlohmann::json& body) {
  check_fields(body, {"id", "scope"});
  if (!body.contains("id") || !body.contains("scope")) throw ApiError(400, "missing_field", "fields 'id' and 'scope' are required");
  const auto id = string_field(body, "id", 48);
  if (!devices::valid_id(id)) throw ApiError(400, "invalid_field", "field 'id': expected 1..48 of [a-z0-9_-]");
  Scope scope;
  if (!parse_scope(string_field(body, "scope", 16), scope)) {
    throw ApiError(400, "invalid_field", "field 'scope': expected \"read\" or \"admin\"");
  }
  const auto token = generate_token();
  TokenRecord record{id, sha256_hex(token), scope, wall_ms()};
  store_->put_token(record);
  tokens_.add(record);
  logger.info("API token created", {{"id", id}, {"scope", std::string(scope_name(scope))}});
  return {{"id", id}, {"scope", scope_name(scope)}, {"token", token}};
}

}  // namespace homestead::gateway
