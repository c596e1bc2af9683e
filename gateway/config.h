// gatewayd's settings. Every field has a default (an empty JSON object is a valid config);
// a present field of the wrong type or out of range, or an unknown field, is an error that
// names it ("gateway.json: field 'mqtt.port': ..."). See docs/gateway-api.md for the table.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace homestead::gateway {

struct MqttSettings {
  std::string uri = "tcp://127.0.0.1:1883";
  std::string username = "gateway";
  // File holding the gateway's broker password (one line, mode 0600); empty = no password.
  std::string password_file;
  std::string client_id;  // default "gatewayd-<home>"
  int keepalive_s = 30;
  int reconnect_min_ms = 100;
  int reconnect_max_ms = 5000;
  // Paho's create_options default is 100, which throws error -12 on bursts even while
  // connected (DESIGN.md section 5).
  int max_buffered_messages = 100000;
  std::string ca_file;  // non-empty with an ssl:// uri turns TLS on
};

struct HttpSettings {
  std::string bind = "127.0.0.1";
  int port = 8080;
  // At least the number of keep-alive clients: a connection occupies a worker while open.
  int threads = 32;
  std::int64_t max_body_bytes = 64 * 1024;
  int read_timeout_ms = 5000;
  int keep_alive_max_count = 1000000;
  int keep_alive_timeout_s = 30;
};

struct StorageSettings {
  std::string db_file;  // default <data_dir>/gateway.db
  int batch_max_rows = 5000;
  int flush_interval_ms = 10;
  std::int64_t retention_max_age_s = 30LL * 24 * 3600;
  std::int64_t retention_max_rows = 2'000'000;
  int retention_interval_ms = 10'000;
};

struct CommandSettings {
  std::int64_t default_expiry_s = 300;
  std::int64_t max_expiry_s = 7 * 24 * 3600;
  // A REST command holds its device in the transactuation runtime's lock queue (ordering with
  // transactuations) at most this long: a command to an offline device may stay open for
  // its whole expiry, and must not keep, say, the fire alarm off that device meanwhile.
  std::int64_t hold_max_ms = 5000;
};

// Broker-side provisioning through Mosquitto's password_file + acl_file and SIGHUP.
struct ProvisioningSettings {
  bool enabled = false;
  std::string password_file;       // the broker's password_file, rewritten by gatewayd
  std::string acl_file;            // the broker's acl_file, rewritten by gatewayd
  std::string base_password_file;  // hashed entries kept verbatim (the gateway's own user, admins)
  std::string base_acl_file;       // ACL entries kept verbatim
  std::string broker_pid_file;     // Mosquitto's pid_file, for SIGHUP
};

// The transactuation runtime inside gatewayd (docs/gateway-api.md, "Transactuations").
// Nothing runs unless configured: built-in apps are off until listed in `builtin`, JSON apps
// come from `app_files` (and the REST API).
struct TransactuationSettings {
  bool enabled = true;              // false: no runtime, the /apps and /transactuations routes answer 503
  std::string log_file;             // intent log; default <data_dir>/transactuations.db
  std::vector<std::string> app_files;  // JSON app files (one app or an array), all-or-nothing each
  nlohmann::json builtin = nlohmann::json::object();  // {"intrusion_alarm": {...}, ...}; validated at start
  int flush_interval_ms = 2;        // group commit of outcome records
  int history = 1000;               // finished transactuations kept for the API
  std::int64_t utc_offset_s = 0;    // local time = UTC + offset (time-of-day windows)
};

// Sync with the cloud (docs/sync-protocol.md, "Gateway side"). Off unless enabled.
struct CloudSettings {
  bool enabled = false;
  std::vector<std::string> urls;  // cloudd http addresses, "http://host:port" or "host:port"
  std::string home_id;            // default: the home file's id
  std::string gateway_id;         // required when enabled
  std::string token_file;         // required when enabled: the token the cloud admin API issued
  int sync_interval_ms = 200;
  int batch_max = 256;
  std::int64_t outbox_max_items = 1'000'000;
  std::string outbox_full_policy = "drop_oldest_reported";  // the only policy
  int request_timeout_ms = 2000;
  // Devices shared with other gateways of the home: a command to one is published only while
  // this gateway holds the cloud lease "home/<home>/device/<id>" (docs/gateway-api.md,
  // "Shared devices"). Empty = no leases at all.
  std::vector<std::string> shared_devices;
  std::int64_t lease_ttl_ms = 10000;
  // How long a command to a shared device waits for the cloud's answer before it fails
  // with lease_unavailable.
  std::int64_t lease_deadline_ms = 2000;
};

struct GatewayConfig {
  std::string home_file = "/etc/homestead/home.json";
  std::string data_dir = "/var/lib/homestead";
  std::int64_t stale_after_s = 120;
  std::string log_level = "info";
  MqttSettings mqtt;
  HttpSettings http;
  StorageSettings storage;
  CommandSettings commands;
  ProvisioningSettings provisioning;
  TransactuationSettings transactuations;
  CloudSettings cloud;

  std::filesystem::path db_path() const;
  std::filesystem::path admin_token_path() const;
  std::filesystem::path intent_log_path() const;
};

// Throws config::ConfigError naming the file and field.
GatewayConfig load_gateway_config(const std::filesystem::path& path);
GatewayConfig parse_gateway_config(std::string_view text, const std::string& source = "<config>");

}  // namespace homestead::gateway
