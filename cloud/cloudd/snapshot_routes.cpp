#include "cloud/cloudd/snapshot_routes.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string_view>

#include "cloud/snapshot/live_report.h"
#include "cloud/snapshot/part_codec.h"

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

// ?wait_ms=N (0..kMaxWait): a long poll. nullopt + a 400 reply when malformed.
constexpr std::chrono::milliseconds kMaxWait{30000};

std::optional<std::chrono::milliseconds> parse_wait(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_param("wait_ms")) return std::chrono::milliseconds(0);
  const std::string text = req.get_param_value("wait_ms");
  const auto value = parse_id(text);
  if (!value || *value > static_cast<std::uint64_t>(kMaxWait.count())) {
    error(res, 400, "bad_request",
          "wait_ms: '" + text + "' is not a whole number of milliseconds from 0 to " + std::to_string(kMaxWait.count()));
    return std::nullopt;
  }
  return std::chrono::milliseconds(*value);
}

// Keep-alive HTTP clients to the other members, reused across report requests: an operator
// polling a report every 20 ms would otherwise open a fresh TCP connection to every member
// per poll (connect, accept, a server thread's setup) for a few hundred bytes each.
// httplib::Client is not safe for concurrent requests, so a request takes a client out and
// gives it back when it is done; a client whose request failed is dropped.
class MemberClients {
 public:
  explicit MemberClients(int timeout_ms) : timeout_ms_(timeout_ms) {}

  // A client for host:port and whether it is a kept one (its connection may have gone).
  std::pair<std::unique_ptr<httplib::Client>, bool> take(const std::string& host, int port, bool fresh = false) {
    const std::string key = host + ":" + std::to_string(port);
    if (!fresh) {
      std::lock_guard lock(mutex_);
      auto& idle = idle_[key];
      if (!idle.empty()) {
        auto client = std::move(idle.back());
        idle.pop_back();
        return {std::move(client), true};
      }
    }
    auto client = std::make_unique<httplib::Client>(host, port);
    client->set_connection_timeout(std::chrono::milliseconds(timeout_ms_));
    client->set_read_timeout(std::chrono::milliseconds(timeout_ms_));
    client->set_tcp_nodelay(true);
    client->set_keep_alive(true);
    return {std::move(client), false};
  }

  void give_back(const std::string& host, int port, std::unique_ptr<httplib::Client> client) {
    std::lock_guard lock(mutex_);
    auto& idle = idle_[host + ":" + std::to_string(port)];
    if (idle.size() < kMaxIdlePerMember) idle.push_back(std::move(client));
  }

 private:
  static constexpr std::size_t kMaxIdlePerMember = 4;  // concurrent report requests kept warm
  int timeout_ms_;
  std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle_;
};

// One member's part (and the gateway parts it holds), asked over its HTTP API. nullopt +
// reason when there is none.
std::optional<snapshot::LiveLocal> fetch_part(MemberClients& clients, std::vector<snapshot::LiveLocal>& gateway_parts,
                                              const std::string& http_address, snapshot::SnapshotId id,
                                              const std::string& secret, std::chrono::milliseconds wait,
                                              std::string& reason) {
  const auto colon = http_address.rfind(':');
  int port = 0;
  try {
    port = colon == std::string::npos ? 0 : std::stoi(http_address.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port <= 0) {
    reason = "bad http address " + http_address;
    return std::nullopt;
  }
  const std::string host = http_address.substr(0, colon);
  std::string path = "/api/v1/snapshots/" + std::to_string(id) + "/local";
  // Members before the long poll ignore the parameter and answer at once.
  if (wait.count() > 0) path += "?wait_ms=" + std::to_string(wait.count());
  // The binary form (part_codec.h): members before it ignore Accept and answer JSON.
  const httplib::Headers headers{{"Authorization", "Bearer " + secret},
                                 {"Accept", std::string(snapshot::kPartContentType)}};
  auto [client, reused] = clients.take(host, port);
  auto res = client->Get(path.c_str(), headers);
  if (!res && reused) {
    // A kept connection the member closed meanwhile (restart, idle timeout): once more on a
    // fresh one before calling the member unreachable.
    client = clients.take(host, port, /*fresh=*/true).first;
    res = client->Get(path.c_str(), headers);
  }
  if (!res) {
    reason = "unreachable: " + httplib::to_string(res.error());
    return std::nullopt;  // the client is dropped with its broken connection
  }
  clients.give_back(host, port, std::move(client));
  if (res->status == 404) {
    reason = "not recorded yet";
    return std::nullopt;
  }
  if (res->status != 200) {
    reason = "answered " + std::to_string(res->status);
    return std::nullopt;
  }
  try {
    if (res->get_header_value("Content-Type") == snapshot::kPartContentType) {
      snapshot::MemberPart part = snapshot::decode_member_part(res->body);
      for (auto& gateway : part.gateway_parts) gateway_parts.push_back(std::move(gateway));
      return std::move(part.own);
    }
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

// "cloud-<id>" -> id; 0 for anything else.
struct ReportSources {
  RaftServer& raft;
  SnapshotChannels& snapshots;
  MemberClients& clients;
  const std::string& cluster_secret;
  // A long poll's deadline: each asked member may wait until then for its part to settle,
  // within half the request timeout its client here reads with. None: it answers at once.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  int timeout_ms = 0;
  std::chrono::milliseconds member_wait() const {
    if (!deadline) return std::chrono::milliseconds(0);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
    return std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(timeout_ms / 2));
  }
};

// The other cloud members (process name -> member id) this node has snapshot channels with
// (its Raft peers): read from the channels, not from a cluster status, which would wait for
// a turn of the Raft loop.
std::map<std::string, std::uint64_t> other_members(const ReportSources& from) {
  std::map<std::string, std::uint64_t> out;
  for (const std::string& name : from.snapshots.members()) {
    const std::uint64_t member = cloud_member_id(name);
    if (member != 0 && member != from.raft.id()) out.emplace(name, member);
  }
  return out;
}

// The global report of snapshot `id` from this node's part, the other members' parts (pushed
// here when this node started it and `use_pushed`, else asked over HTTP) and the gateway
// parts the members hold. nullopt when no member has recorded it.
std::optional<json> gather_report(const ReportSources& from, snapshot::SnapshotId id, bool ask_all, bool use_pushed) {
  std::map<snapshot::ProcessId, snapshot::LiveLocal> parts;
  std::map<snapshot::ProcessId, std::string> missing;
  std::vector<snapshot::LiveLocal> gateway_parts = from.snapshots.gateway_parts(id);
  auto pushed = use_pushed ? from.snapshots.member_parts(id) : std::map<std::string, snapshot::MemberPart>{};
  bool own_open = false;
  if (auto local = from.snapshots.local(id)) {
    own_open = !local->complete;
    parts[local->process] = *local;
  } else {
    missing[from.snapshots.self()] = "not recorded yet";
  }
  // While this member's own part is open the report cannot be complete, so the other
  // members are not asked (an operator polling a running snapshot would otherwise cost two
  // requests to the others per poll), unless ?gather=all.
  const bool ask = !own_open || ask_all;
  json asked = json::array();
  json pushed_names = json::array();
  for (const auto& [name, member] : other_members(from)) {
    if (auto it = pushed.find(name); it != pushed.end()) {
      for (auto& part : it->second.gateway_parts) gateway_parts.push_back(std::move(part));
      parts[name] = std::move(it->second.own);
      pushed_names.push_back(name);
      continue;
    }
    if (!ask) {
      missing[name] = "not asked while " + from.snapshots.self() + "'s own part is open (?gather=all asks)";
      continue;
    }
    const auto http_address = from.raft.http_address(member);
    if (!http_address) {
      missing[name] = "no http address known";
      continue;
    }
    std::string reason;
    asked.push_back(name);
    if (auto part = fetch_part(from.clients, gateway_parts, *http_address, id, from.cluster_secret, from.member_wait(),
                               reason)) {
      parts[name] = std::move(*part);
    } else {
      missing[name] = reason;
    }
  }
  if (parts.empty()) return std::nullopt;
  // Gateways are participants when a member counted one as a channel at its cut; each
  // ships its part to a member once complete.
  // Members may hold different versions of a gateway's part (it ships again, maybe to
  // another member, when it moved to another member while the snapshot marked): the newest.
  for (auto& part : gateway_parts) snapshot::keep_most_channels(parts, std::move(part));
  for (const auto& [process, part] : parts) {
    if (process.rfind("gateway:", 0) == 0) continue;  // the members' channels from gateways
    for (const auto& [gateway_name, channel] : part.incoming) {
      if (gateway_name.rfind("gateway:", 0) != 0) continue;
      auto gateway = parts.find(gateway_name);
      if (gateway == parts.end()) {
        missing[gateway_name] = "its part has not arrived yet";
      } else if (!gateway->second.sent_through.count(process)) {
        missing[gateway_name] = "its part does not cover " + process + " yet";
      }
    }
  }
  json body = snapshot::global_report(id, parts, missing);
  body["members_asked"] = std::move(asked);
  body["members_pushed"] = std::move(pushed_names);
  return body;
}

// The report, with ?wait_ms: once complete or at the deadline, gathered as few times as it
// takes. Waits for this node's part to settle (complete, with the parts of the gateways it
// has channels from), then asks the others, each waiting for its own part likewise, so a
// snapshot is usually gathered exactly once. Another round only when that one was not
// complete (a gateway's part went to another member, a member was slow), after the next
// change here or a short backoff.
std::optional<json> wait_for_report(ReportSources from, snapshot::SnapshotId id, bool ask_all,
                                    std::chrono::milliseconds wait) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + wait;
  if (wait.count() > 0) from.deadline = deadline;
  auto backoff = std::chrono::milliseconds(10);
  // The first gathering takes the parts the others pushed here (this node started it),
  // waiting a little for them once its own part settled; a later one asks everyone afresh
  // (a pushed part is a copy from when it settled).
  const bool started_here = SnapshotChannels::initiator_of(id) == from.raft.id();
  for (bool first = true;; first = false) {
    if (wait.count() > 0) from.snapshots.wait_settled(id, deadline);
    if (wait.count() > 0 && first && started_here) {
      std::vector<std::string> others;
      for (const auto& entry : other_members(from)) others.push_back(entry.first);
      from.snapshots.wait_member_parts(id, others,
                                       std::min(deadline, Clock::now() + SnapshotChannels::kPushedPartWait));
    }
    auto report = gather_report(from, id, ask_all, first);
    if (first && report && (*report)["status"] != "complete" && !(*report)["members_pushed"].empty()) {
      // A pushed part lacks what came to its member later (a gateway's part after the push,
      // from a gateway that moved between members): ask them now.
      report = gather_report(from, id, ask_all, false);
    }
    if (!report || (*report)["status"] == "complete" || Clock::now() >= deadline) return report;
    from.snapshots.wait_change(std::min(deadline, Clock::now() + backoff));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
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

  // The report of `id` (wait_for_report), for the POST's and the GET's long polls.
  auto report_of = [&raft, snapshots, cluster_secret, timeout_ms, clients = std::make_shared<MemberClients>(timeout_ms)](
                       snapshot::SnapshotId id, bool ask_all, std::chrono::milliseconds wait) {
    return wait_for_report(ReportSources{raft, *snapshots, *clients, cluster_secret, {}, timeout_ms}, id, ask_all, wait);
  };

  // ?wait_ms: start it and answer with the report once complete (a long poll as the GET's),
  // one request instead of two for an operator who wants the result.
  s.Post("/api/v1/snapshots", [snapshots, enabled, report_of](const httplib::Request& req, httplib::Response& res) {
    if (!enabled(res)) return;
    const auto wait = parse_wait(req, res);
    if (!wait) return;
    const auto id = snapshots->initiate();
    if (wait->count() == 0) return reply(res, 202, {{"id", std::to_string(id)}, {"initiator", snapshots->self()}});
    auto report = report_of(id, false, *wait);
    if (!report) report = json{{"id", std::to_string(id)}, {"status", "running"}};  // retired meanwhile: not expected
    (*report)["initiator"] = snapshots->self();
    reply(res, 200, *report);
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
    const auto wait = parse_wait(req, res);
    if (!wait) return;
    if (wait->count() > 0) snapshots->wait_settled(*id, std::chrono::steady_clock::now() + *wait);
    const auto local = snapshots->local(*id);
    if (!local) return error(res, 404, "not_found", snapshots->self() + " has not recorded snapshot " + std::to_string(*id));
    if (req.get_header_value("Accept") == snapshot::kPartContentType) {
      // Another member gathering a report: no JSON document built here or parsed there.
      res.status = 200;
      res.set_content(snapshot::encode_member_part(*local, snapshots->gateway_parts(*id)),
                      std::string(snapshot::kPartContentType));
      return;
    }
    json body = snapshot::to_json(*local);
    body["gateway_parts"] = json::array();
    for (const auto& part : snapshots->gateway_parts(*id)) body["gateway_parts"].push_back(snapshot::to_json(part));
    reply(res, 200, body);
  });

  s.Get(R"(/api/v1/snapshots/([^/]+))", [enabled, report_of](const httplib::Request& req, httplib::Response& res) {
    if (!enabled(res)) return;
    const auto id = parse_id(req.matches[1]);
    if (!id) return error(res, 400, "bad_request", "path: snapshot id must be a decimal number");
    const auto wait = parse_wait(req, res);
    if (!wait) return;
    const auto report = report_of(*id, req.get_param_value("gather") == "all", *wait);
    if (!report) return error(res, 404, "not_found", "no member has recorded snapshot " + std::to_string(*id));
    reply(res, 200, *report);
  });
}

}  // namespace homestead::cloudd
