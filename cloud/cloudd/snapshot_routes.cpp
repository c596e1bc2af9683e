#include "cloud/cloudd/snapshot_routes.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "cloud/snapshot/live_report.h"

namespace homestead::cloudd {
namespace {

using nlohmann::json;

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  reply(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

std::optional<snapshot::SnapshotId> parse_id(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// One member's part (and the gateway parts it holds), asked over its HTTP API. nullopt +
// reason when there is none.
std::optional<snapshot::LiveLocal> fetch_part(std::vector<snapshot::LiveLocal>& gateway_parts, const std::string& http_address, snapshot::SnapshotId id,
                                              const std::string& secret, int timeout_ms, std::string& reason) {
  const auto colon = http_address.rfind(':');
  if (colon == std::string::npos) {
    reason = "bad http address " + http_address;
    return std::nullopt;
  }
  httplib::Client client(http_address.substr(0, colon), std::stoi(http_address.substr(colon + 1)));
  client.set_connection_timeout(std::chrono::milliseconds(timeout_ms));
  client.set_read_timeout(std::chrono::milliseconds(timeout_ms));
  client.set_tcp_nodelay(true);
  const auto res = client.Get(("/api/v1/snapshots/" + std::to_string(id) + "/local").c_str(),
                              {{"Authorization", "Bearer " + secret}});
  if (!res) {
    reason = "unreachable: " + httplib::to_string(res.error());
    return std::nullopt;
  }
  if (res->status == 404) {
    reason = "not recorded yet";
    return std::nullopt;
  }
  if (res->status != 200) {
    reason = "answered " + std::to_string(res->status);
    return std::nullopt;
  }
  try {
    const json body = json::parse(res->body);
    if (body.contains("gateway_parts")) {
      for (const auto& part : body["gateway_parts"]) gateway_parts.push_back(snapshot::live_local_from_json(part));
    }
    return snapshot::live_local_from_json(body);
  } catch (const std::exception& e) {
    reason = std::string("bad part: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace

void install_snapshot_routes(httplib::Server& s, RaftServer& raft, std::shared_ptr<SnapshotChannels> snapshots,
                             std::string cluster_secret, int timeout_ms) {
  auto enabled = [snapshots](httplib::Response& res) {
    if (snapshots) return true;
    error(res, 503, "unavailable", "live snapshots are not enabled on this node");
    return false;
  };

  s.Post("/api/v1/snapshots", [snapshots, enabled](const httplib::Request&, httplib::Response& res) {
    if (!enabled(res)) return;
    const auto id = snapshots->initiate();
    reply(res, 202, {{"id", std::to_string(id)}, {"initiator", snapshots->self()}});
  });

  s.Get("/api/v1/snapshots", [snapshots, enabled](const httplib::Request&, httplib::Response& res) {
    if (!enabled(res)) return;
    json ids = json::array();
    for (auto id : snapshots->snapshots()) ids.push_back(std::to_string(id));
    reply(res, 200, {{"snapshots", ids}});
  });

  s.Get(R"(/api/v1/snapshots/([^/]+)/local)", [snapshots, enabled](const httplib::Request& req, httplib::Response& res) {
    if (!enabled(res)) return;
    const auto id = parse_id(req.matches[1]);
    if (!id) return error(res, 400, "bad_request", "path: snapshot id must be a decimal number");
    const auto local = snapshots->local(*id);
    if (!local) return error(res, 404, "not_found", snapshots->self() + " has not recorded snapshot " + std::to_string(*id));
    json body = snapshot::to_json(*local);
    body["gateway_parts"] = json::array();
    for (const auto& part : snapshots->gateway_parts(*id)) body["gateway_parts"].push_back(snapshot::to_json(part));
    reply(res, 200, body);
  });

  s.Get(R"(/api/v1/snapshots/([^/]+))", [&raft, snapshots, enabled, cluster_secret, timeout_ms](
                                             const httplib::Request& req, httplib::Response& res) {
    if (!enabled(res)) return;
    const auto id = parse_id(req.matches[1]);
    if (!id) return error(res, 400, "bad_request", "path: snapshot id must be a decimal number");
    std::map<snapshot::ProcessId, snapshot::LiveLocal> parts;
    std::map<snapshot::ProcessId, std::string> missing;
    std::vector<snapshot::LiveLocal> gateway_parts = snapshots->gateway_parts(*id);
    if (auto local = snapshots->local(*id)) {
      parts[local->process] = *local;
    } else {
      missing[snapshots->self()] = "not recorded yet";
    }
    const ClusterStatus status = raft.status(std::chrono::milliseconds(timeout_ms));
    for (const auto& member : status.members) {
      if (member.id == raft.id()) continue;
      const std::string name = cloud_process_name(member.id);
      std::string reason;
      if (auto part = fetch_part(gateway_parts, member.http_address, *id, cluster_secret, timeout_ms, reason)) {
        parts[name] = std::move(*part);
      } else {
        missing[name] = reason;
      }
    }
    if (parts.empty()) return error(res, 404, "not_found", "no member has recorded snapshot " + std::to_string(*id));
    // Gateways are participants when a member counted one as a channel at its cut; each
    // ships its part to a member once complete.
    for (const auto& part : gateway_parts) parts[part.process] = part;
    std::map<snapshot::ProcessId, snapshot::LiveLocal> members_only = parts;
    for (const auto& [process, part] : members_only) {
      for (const auto& [from, channel] : part.incoming) {
        if (from.rfind("gateway:", 0) == 0 && !parts.count(from)) missing[from] = "its part has not arrived yet";
      }
    }
    reply(res, 200, snapshot::global_report(*id, parts, missing));
  });
}

}  // namespace homestead::cloudd
