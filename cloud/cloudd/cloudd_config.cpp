#include "cloud/cloudd/cloudd_config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

namespace homestead::cloudd {

HostPort parse_host_port(const std::string& text, const std::string& field) {
  const auto colon = text.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0) {
    throw config::ConfigError(field, "field '" + field + "': expected \"host:port\", got \"" + text + "\"");
  }
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  const auto parsed = std::from_chars(begin, end, port);
  if (parsed.ec != std::errc() || parsed.ptr != end || port < 0 || port > 65535) {
    throw config::ConfigError(field, "field '" + field + "': bad port in \"" + text + "\"");
  }
  return HostPort{text.substr(0, colon), port};
}

const MemberAddress* CloudConfig::member(std::uint64_t member_id) const {
  for (const auto& m : members) {
    if (m.id == member_id) return &m;
  }
  return nullptr;
}

CloudConfig load_cloud_config(const std::filesystem::path& path) {
  return parse_cloud_config(config::Config::load_file(path));
}

CloudConfig parse_cloud_config(const config::Config& c) {
  c.reject_unknown("", {"id", "data_dir", "http_listen", "peer_listen", "members", "join", "token_file",
                        "cluster_secret_file", "tick_ms", "election_ticks", "heartbeat_ticks", "lease_reads", "snapshot_entries",
                        "snapshot_marker_linger_ms",
                        "fsync", "http_threads", "http_frontend", "request_timeout_ms", "dht"});
  CloudConfig out;
  out.id = static_cast<std::uint64_t>(c.get_int("id", 0, 1, INT64_MAX));
  if (!c.has("id")) throw config::ConfigError("id", c.source() + ": field 'id' is required (a member id >= 1)");
  out.data_dir = c.require_string("data_dir");
  out.http_listen = parse_host_port(c.require_string("http_listen"), "http_listen");
  out.peer_listen = parse_host_port(c.require_string("peer_listen"), "peer_listen");
  out.join = c.get_bool("join", false);
  out.token_file = c.get_string("token_file", (out.data_dir / "token").string());
  out.cluster_secret_file = c.get_string("cluster_secret_file", (out.data_dir / "cluster-secret").string());
  out.tick_ms = static_cast<int>(c.get_int("tick_ms", out.tick_ms, 1, 1000));
  out.election_ticks = static_cast<int>(c.get_int("election_ticks", out.election_ticks, 3, 10000));
  out.heartbeat_ticks = static_cast<int>(c.get_int("heartbeat_ticks", out.heartbeat_ticks, 1, 10000));
  if (out.heartbeat_ticks >= out.election_ticks) {
    throw config::ConfigError("heartbeat_ticks", c.source() + ": field 'heartbeat_ticks' must be below election_ticks");
  }
  out.lease_reads = c.get_bool("lease_reads", out.lease_reads);
  out.snapshot_entries = static_cast<std::uint64_t>(c.get_int("snapshot_entries", 10000, 0, INT64_MAX));
  out.snapshot_marker_linger_ms =
      static_cast<int>(c.get_int("snapshot_marker_linger_ms", out.tick_ms * out.heartbeat_ticks, 0, 10000));
  out.fsync = c.get_bool("fsync", true);
  out.http_threads = static_cast<int>(c.get_int("http_threads", out.http_threads, 2, 4096));
  // The environment picks the default for configs that do not say, so the same test suites
  // and benchmarks can run against either front end.
  const char* env_frontend = std::getenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND");
  const bool from_env = !c.has("http_frontend") && env_frontend != nullptr && *env_frontend != '\0';
  const std::string frontend = from_env ? std::string(env_frontend) : c.get_string("http_frontend", "epoll");
  if (frontend == "epoll") {
    out.http_frontend = CloudConfig::HttpFrontend::epoll;
  } else if (frontend == "httplib") {
    out.http_frontend = CloudConfig::HttpFrontend::httplib;
  } else {
    const std::string where = from_env ? "environment HOMESTEAD_CLOUDD_HTTP_FRONTEND" : c.source() + ": field 'http_frontend'";
    throw config::ConfigError("http_frontend", where + ": expected \"epoll\" or \"httplib\", got \"" + frontend + "\"");
  }
  out.request_timeout_ms = static_cast<int>(c.get_int("request_timeout_ms", out.request_timeout_ms, 10, 600000));

  if (c.has("dht")) {
    if (!c.find("dht")->is_object()) {
      throw config::ConfigError("dht", c.source() + ": field 'dht': expected an object");
    }
    c.reject_unknown("dht", {"enabled", "bits", "stabilize_ms", "request_timeout_ticks", "successor_list_length",
                             "group", "virtual_nodes"});
  }
  out.dht.enabled = c.get_bool("dht.enabled", out.dht.enabled);
  out.dht.bits = static_cast<unsigned>(c.get_int("dht.bits", out.dht.bits, 1, 63));
  out.dht.stabilize_ms = static_cast<int>(c.get_int("dht.stabilize_ms", out.dht.stabilize_ms, 1, 60000));
  out.dht.request_timeout_ticks =
      static_cast<unsigned>(c.get_int("dht.request_timeout_ticks", out.dht.request_timeout_ticks, 1, 1000));
  out.dht.successor_list_length = static_cast<std::size_t>(
      c.get_int("dht.successor_list_length", static_cast<std::int64_t>(out.dht.successor_list_length), 1, 64));
  out.dht.group = static_cast<std::uint32_t>(c.get_int("dht.group", out.dht.group, 1, UINT32_MAX));
  out.dht.virtual_nodes = static_cast<unsigned>(c.get_int("dht.virtual_nodes", out.dht.virtual_nodes, 1, 64));

  const nlohmann::json* members = c.find("members");
  if (members == nullptr || !members->is_array() || members->empty()) {
    throw config::ConfigError("members", c.source() + ": field 'members': expected a non-empty array of "
                                                      "{\"id\", \"peer\", \"http\"}");
  }
  std::set<std::uint64_t> seen;
  for (std::size_t i = 0; i < members->size(); ++i) {
    const std::string field = "members[" + std::to_string(i) + "]";
    const nlohmann::json& m = (*members)[i];
    auto need = [&](const char* name) -> const nlohmann::json& {
      if (!m.is_object() || !m.contains(name)) {
        throw config::ConfigError(field + "." + name, c.source() + ": field '" + field + "." + name + "' is required");
      }
      return m.at(name);
    };
    MemberAddress address;
    const auto& id = need("id");
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() == 0) {
      throw config::ConfigError(field + ".id", c.source() + ": field '" + field + ".id': expected an integer >= 1");
    }
    address.id = id.get<std::uint64_t>();
    for (const char* name : {"peer", "http"}) {
      const auto& value = need(name);
      if (!value.is_string()) {
        throw config::ConfigError(field + "." + name, c.source() + ": field '" + field + "." + name +
                                                          "': expected \"host:port\", got " + config::json_type_name(value));
      }
      (std::string(name) == "peer" ? address.peer : address.http) =
          parse_host_port(value.get<std::string>(), field + "." + name);
    }
    if (!seen.insert(address.id).second) {
      throw config::ConfigError(field + ".id", c.source() + ": field '" + field + ".id': duplicate member id " +
                                                   std::to_string(address.id));
    }
    out.members.push_back(address);
  }
  if (!out.join && out.member(out.id) == nullptr) {
    throw config::ConfigError("members", c.source() + ": field 'members' does not list this node's id " +
                                             std::to_string(out.id) + " (set \"join\": true to be added later)");
  }
  return out;
}

}  // namespace homestead::cloudd
