#include "gateway/config.h"

#include "common/config/config.h"
#include "common/log/log.h"

namespace homestead::gateway {
namespace {

GatewayConfig from_config(const config::Config& c) {
  c.reject_unknown("", {"home_file", "data_dir", "stale_after_s", "log_level", "mqtt", "http", "storage", "commands",
                        "provisioning", "transactuations", "cloud"});
  if (c.has("mqtt")) {
    c.reject_unknown("mqtt", {"uri", "username", "password_file", "client_id", "keepalive_s", "reconnect_min_ms",
                              "reconnect_max_ms", "max_buffered_messages", "ca_file"});
  }
  if (c.has("http")) {
    c.reject_unknown("http", {"bind", "port", "threads", "max_body_bytes", "read_timeout_ms", "keep_alive_max_count",
                              "keep_alive_timeout_s"});
  }
  if (c.has("storage")) {
    c.reject_unknown("storage", {"db_file", "batch_max_rows", "flush_interval_ms", "retention_max_age_s",
                                 "retention_max_rows", "retention_interval_ms"});
  }
  if (c.has("commands")) c.reject_unknown("commands", {"default_expiry_s", "max_expiry_s", "hold_max_ms"});
  if (c.has("provisioning")) {
    c.reject_unknown("provisioning", {"enabled", "password_file", "acl_file", "base_password_file", "base_acl_file",
                                      "broker_pid_file"});
  }
  if (c.has("transactuations")) {
    c.reject_unknown("transactuations",
                     {"enabled", "log_file", "app_files", "builtin", "flush_interval_ms", "history", "utc_offset_s"});
  }
  if (c.has("cloud")) {
    c.reject_unknown("cloud", {"enabled", "urls", "home_id", "gateway_id", "token_file", "sync_interval_ms", "batch_max",
                               "outbox_max_items", "outbox_full_policy", "request_timeout_ms", "shared_devices",
                               "lease_ttl_ms", "lease_deadline_ms"});
  }
  GatewayConfig g;
  g.home_file = c.get_string("home_file", g.home_file);
  g.data_dir = c.get_string("data_dir", g.data_dir);
  g.stale_after_s = c.get_int("stale_after_s", g.stale_after_s, 1, 365LL * 24 * 3600);
  g.log_level = c.get_string("log_level", g.log_level);
  log::Level ignored;
  if (!log::parse_level(g.log_level, ignored)) {
    throw config::ConfigError("log_level", c.source() + ": field 'log_level': expected trace, debug, info, warn, error "
                                                        "or off, got \"" + g.log_level + "\"");
  }

  auto& m = g.mqtt;
  m.uri = c.get_string("mqtt.uri", m.uri);
  if (m.uri.rfind("tcp://", 0) != 0 && m.uri.rfind("ssl://", 0) != 0 && m.uri.rfind("mqtt://", 0) != 0 &&
      m.uri.rfind("mqtts://", 0) != 0) {
    throw config::ConfigError("mqtt.uri", c.source() + ": field 'mqtt.uri': expected tcp://HOST:PORT or ssl://HOST:PORT, "
                                                       "got \"" + m.uri + "\"");
  }
  m.username = c.get_string("mqtt.username", m.username);
  m.password_file = c.get_string("mqtt.password_file", m.password_file);
  m.client_id = c.get_string("mqtt.client_id", m.client_id);
  m.keepalive_s = static_cast<int>(c.get_int("mqtt.keepalive_s", m.keepalive_s, 1, 3600));
  m.reconnect_min_ms = static_cast<int>(c.get_int("mqtt.reconnect_min_ms", m.reconnect_min_ms, 1, 600'000));
  m.reconnect_max_ms = static_cast<int>(c.get_int("mqtt.reconnect_max_ms", m.reconnect_max_ms, m.reconnect_min_ms, 600'000));
  m.max_buffered_messages =
      static_cast<int>(c.get_int("mqtt.max_buffered_messages", m.max_buffered_messages, 100, 10'000'000));
  m.ca_file = c.get_string("mqtt.ca_file", m.ca_file);

  auto& h = g.http;
  h.bind = c.get_string("http.bind", h.bind);
  h.port = static_cast<int>(c.get_int("http.port", h.port, 0, 65535));
  h.threads = static_cast<int>(c.get_int("http.threads", h.threads, 2, 1024));
  h.max_body_bytes = c.get_int("http.max_body_bytes", h.max_body_bytes, 256, 64LL * 1024 * 1024);
  h.read_timeout_ms = static_cast<int>(c.get_int("http.read_timeout_ms", h.read_timeout_ms, 10, 600'000));
  h.keep_alive_max_count = static_cast<int>(c.get_int("http.keep_alive_max_count", h.keep_alive_max_count, 1, INT32_MAX));
  h.keep_alive_timeout_s = static_cast<int>(c.get_int("http.keep_alive_timeout_s", h.keep_alive_timeout_s, 1, 3600));

  auto& s = g.storage;
  s.db_file = c.get_string("storage.db_file", s.db_file);
  s.batch_max_rows = static_cast<int>(c.get_int("storage.batch_max_rows", s.batch_max_rows, 1, 1'000'000));
  s.flush_interval_ms = static_cast<int>(c.get_int("storage.flush_interval_ms", s.flush_interval_ms, 1, 60'000));
  s.retention_max_age_s = c.get_int("storage.retention_max_age_s", s.retention_max_age_s, 1, INT32_MAX);
  s.retention_max_rows = c.get_int("storage.retention_max_rows", s.retention_max_rows, 1, INT64_MAX);
  s.retention_interval_ms = static_cast<int>(c.get_int("storage.retention_interval_ms", s.retention_interval_ms, 10, 86'400'000));

  g.commands.default_expiry_s = c.get_int("commands.default_expiry_s", g.commands.default_expiry_s, 1, 365LL * 24 * 3600);
  g.commands.max_expiry_s = c.get_int("commands.max_expiry_s", g.commands.max_expiry_s, g.commands.default_expiry_s,
                                      365LL * 24 * 3600);

  g.commands.hold_max_ms = c.get_int("commands.hold_max_ms", g.commands.hold_max_ms, 10, 24LL * 3600 * 1000);

  auto& p = g.provisioning;
  p.enabled = c.get_bool("provisioning.enabled", p.enabled);
  p.password_file = c.get_string("provisioning.password_file", p.password_file);
  p.acl_file = c.get_string("provisioning.acl_file", p.acl_file);
  p.base_password_file = c.get_string("provisioning.base_password_file", p.base_password_file);
  p.base_acl_file = c.get_string("provisioning.base_acl_file", p.base_acl_file);
  p.broker_pid_file = c.get_string("provisioning.broker_pid_file", p.broker_pid_file);
  if (p.enabled) {
    for (const auto& [name, value] : {std::pair{"password_file", p.password_file}, {"acl_file", p.acl_file},
                                      {"broker_pid_file", p.broker_pid_file}}) {
      if (value.empty()) {
        throw config::ConfigError(std::string("provisioning.") + name,
                                  c.source() + ": field 'provisioning." + name +
                                      "': required when provisioning.enabled is true");
      }
    }
  }
  auto& t = g.transactuations;
  t.enabled = c.get_bool("transactuations.enabled", t.enabled);
  t.log_file = c.get_string("transactuations.log_file", t.log_file);
  t.app_files = c.get_string_list("transactuations.app_files", t.app_files);
  if (const auto* builtin = c.find("transactuations.builtin")) {
    if (!builtin->is_object()) {
      throw config::ConfigError("transactuations.builtin", c.source() + ": field 'transactuations.builtin': expected an "
                                                                        "object of app name: settings, got " +
                                                                        config::json_type_name(*builtin));
    }
    t.builtin = *builtin;
  }
  t.flush_interval_ms = static_cast<int>(c.get_int("transactuations.flush_interval_ms", t.flush_interval_ms, 1, 10'000));
  t.history = static_cast<int>(c.get_int("transactuations.history", t.history, 1, 1'000'000));
  t.utc_offset_s = c.get_int("transactuations.utc_offset_s", t.utc_offset_s, -14 * 3600, 14 * 3600);

  auto& cl = g.cloud;
  cl.enabled = c.get_bool("cloud.enabled", cl.enabled);
  cl.urls = c.get_string_list("cloud.urls", cl.urls);
  cl.home_id = c.get_string("cloud.home_id", cl.home_id);
  cl.gateway_id = c.get_string("cloud.gateway_id", cl.gateway_id);
  cl.token_file = c.get_string("cloud.token_file", cl.token_file);
  cl.sync_interval_ms = static_cast<int>(c.get_int("cloud.sync_interval_ms", cl.sync_interval_ms, 1, 3'600'000));
  cl.batch_max = static_cast<int>(c.get_int("cloud.batch_max", cl.batch_max, 1, 100'000));
  cl.outbox_max_items = c.get_int("cloud.outbox_max_items", cl.outbox_max_items, 1, INT64_MAX);
  cl.outbox_full_policy = c.get_string("cloud.outbox_full_policy", cl.outbox_full_policy);
  if (cl.outbox_full_policy != "drop_oldest_reported") {
    throw config::ConfigError("cloud.outbox_full_policy", c.source() + ": field 'cloud.outbox_full_policy': expected "
                                                                       "drop_oldest_reported, got \"" +
                                                                       cl.outbox_full_policy + "\"");
  }
  cl.request_timeout_ms = static_cast<int>(c.get_int("cloud.request_timeout_ms", cl.request_timeout_ms, 10, 600'000));
  cl.shared_devices = c.get_string_list("cloud.shared_devices", cl.shared_devices);
  cl.lease_ttl_ms = c.get_int("cloud.lease_ttl_ms", cl.lease_ttl_ms, 300, 3'600'000);
  cl.lease_deadline_ms = c.get_int("cloud.lease_deadline_ms", cl.lease_deadline_ms, 10, 600'000);
  if (!cl.shared_devices.empty() && !cl.enabled) {
    throw config::ConfigError("cloud.shared_devices", c.source() + ": field 'cloud.shared_devices': needs "
                                                                   "cloud.enabled (leases come from the cloud)");
  }
  if (cl.enabled) {
    const std::pair<const char*, bool> required[] = {
        {"urls", cl.urls.empty()}, {"gateway_id", cl.gateway_id.empty()}, {"token_file", cl.token_file.empty()}};
    for (const auto& [name, missing] : required) {
      if (missing) {
        throw config::ConfigError(std::string("cloud.") + name,
                                  c.source() + ": field 'cloud." + name + "': required when cloud.enabled is true");
      }
    }
  }
  return g;
}

}  // namespace

std::filesystem::path GatewayConfig::db_path() const {
  return storage.db_file.empty() ? std::filesystem::path(data_dir) / "gateway.db" : std::filesystem::path(storage.db_file);
}

std::filesystem::path GatewayConfig::intent_log_path() const {
  return transactuations.log_file.empty() ? std::filesystem::path(data_dir) / "transactuations.db"
                                          : std::filesystem::path(transactuations.log_file);
}

std::filesystem::path GatewayConfig::admin_token_path() const { return std::filesystem::path(data_dir) / "admin.token"; }

GatewayConfig load_gateway_config(const std::filesystem::path& path) {
  return from_config(config::Config::load_file(path));
}

GatewayConfig parse_gateway_config(std::string_view text, const std::string& source) {
  return from_config(config::Config::parse(text, source));
}

}  // namespace homestead::gateway
