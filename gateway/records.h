// Plain records the gateway keeps in memory and in SQLite.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace homestead::gateway {

struct DeviceRecord {
  std::string id;
  std::string kind;  // catalog wire name
  std::string name;
  std::string room;
  std::string credentials;  // broker username
  std::string source;       // "home_file" or "api"
  std::string mqtt_password_hash;  // Mosquitto password-file hash; empty for home-file devices
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

struct Reading {
  std::string device;
  std::int64_t received_ms = 0;  // gateway clock
  std::int64_t device_ts_ms = 0;
  std::uint64_t seq = 0;
  std::string state;  // JSON text
};

enum class CommandStatus { pending, sent, acked, failed, expired };
std::string_view status_name(CommandStatus status);
bool parse_status(std::string_view text, CommandStatus& out);
inline bool is_final(CommandStatus s) { return s == CommandStatus::acked || s == CommandStatus::failed || s == CommandStatus::expired; }

struct CommandRecord {
  std::string id;  // also the cmd_id on the wire
  std::string device;
  std::string command;
  nlohmann::json args = nlohmann::json::object();
  CommandStatus status = CommandStatus::pending;
  std::string reason;
  std::string origin = "api";  // "api", later "transactuation"
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t expires_ms = 0;
  std::int64_t sent_ms = 0;
  std::int64_t acked_ms = 0;
  // Shared devices: the cloud lease's fencing token the command was published under (0 =
  // not a shared device). Devices do not check it (devices/ has no field for it).
  std::uint64_t fencing_token = 0;
};

enum class Scope { read, admin };
std::string_view scope_name(Scope scope);
bool parse_scope(std::string_view text, Scope& out);

struct TokenRecord {
  std::string id;    // public handle, e.g. "admin"
  std::string hash;  // hex SHA-256 of the token
  Scope scope = Scope::read;
  std::int64_t created_ms = 0;
};

}  // namespace homestead::gateway
