#include "cloud/cloudd/http_api.h"

#include <httplib.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cloud/cloudd/dht_routes.h"
#include "cloud/cloudd/http_frontend.h"
#include "cloud/cloudd/httplib_bridge.h"
#include "cloud/cloudd/kv_fast_routes.h"
#include "cloud/cloudd/kv_http_common.h"
#include "common/net/listen_backlog.h"
#include "cloud/cloudd/secrets.h"
#include "cloud/cloudd/services_routes.h"
#include "cloud/cloudd/snapshot_routes.h"
#include "cloud/cloudd/snapshot_sync_hooks.h"
#include "cloud/cloudd/sync_rpc.h"
#include "common/log/log.h"

namespace homestead::cloudd {
namespace {

using nlohmann::json;

const log::Logger& logger() {
  static const log::Logger instance("cloudd.http");
  return instance;
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void reply(httplib::Response& res, const JsonReply& answer) { reply(res, answer.status, answer.body); }

Command with_session(const httplib::Request& req, Command command) {
  set_session(command, [&](const char* name) {
    return req.has_header(name) ? std::optional<std::string>(req.get_header_value(name)) : std::nullopt;
  });
  return command;
}

json parse_body(const httplib::Request& req) { return parse_json_body(req.body); }

std::vector<TxnOp> parse_ops(const json& body, const char* name) {
  std::vector<TxnOp> ops;
  if (!body.contains(name)) return ops;
  const json& list = body.at(name);
  if (!list.is_array()) throw BadRequest(std::string("field '") + name + "': expected an array");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = std::string(name) + "[" + std::to_string(i) + "].";
    const json& item = list[i];
    TxnOp op;
    if (item.is_object() && item.contains("put")) {
      op.kind = TxnOp::Kind::put;
      op.key = json_string_field(item.at("put"), "key", path + "put.");
      op.value = json_string_field(item.at("put"), "value", path + "put.");
    } else if (item.is_object() && item.contains("delete")) {
      op.kind = TxnOp::Kind::remove;
      op.key = json_string_field(item.at("delete"), "key", path + "delete.");
    } else {
      throw BadRequest("field '" + path.substr(0, path.size() - 1) + "': expected {\"put\": {...}} or {\"delete\": {...}}");
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

Command parse_txn(const json& body) {
  if (!body.is_object()) throw BadRequest("body: expected a JSON object");
  Command command;
  command.kind = CommandKind::txn;
  if (body.contains("compare")) {
    const json& list = body.at("compare");
    if (!list.is_array()) throw BadRequest("field 'compare': expected an array");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string path = "compare[" + std::to_string(i) + "].";
      Compare cmp;
      cmp.key = json_string_field(list[i], "key", path);
      if (list[i].contains("value")) {
        cmp.target = Compare::Target::value;
        cmp.value = json_string_field(list[i], "value", path);
      } else if (list[i].contains("mod_revision")) {
        cmp.target = Compare::Target::mod_revision;
        cmp.revision = json_number_field(list[i], "mod_revision", path);
      } else {
        throw BadRequest("field '" + path + "value' or '" + path + "mod_revision' is required");
      }
      command.compares.push_back(std::move(cmp));
    }
  }
  command.success = parse_ops(body, "success");
  command.failure = parse_ops(body, "failure");
  return command;
}

bool linearizable(const httplib::Request& req) {
  return wants_linearizable(req.has_param("consistency") ? std::optional<std::string>(req.get_param_value("consistency"))
                                                          : std::nullopt);
}

}  // namespace

HttpApi::HttpApi(RaftServer& raft, const CloudConfig& config, std::string token, std::string cluster_secret,
                 const DhtService* dht, std::shared_ptr<SnapshotChannels> snapshots)
    : raft_(raft),
      dht_(dht),
      snapshots_(std::move(snapshots)),
      sync_snapshots_(snapshots_ ? std::make_unique<SyncSnapshotHooks>(raft, snapshots_) : nullptr),
      config_(config),
      token_(std::move(token)),
      secret_(cluster_secret),
      forwarder_(std::move(cluster_secret), config.request_timeout_ms),
      sync_(std::make_unique<SyncRpc>(raft, dht, std::chrono::milliseconds(config.request_timeout_ms))),
      server_(std::make_unique<HttplibBridge>()) {
  install_routes();
}

HttpApi::~HttpApi() { stop(); }

void HttpApi::start() {
  const int threads = config_.http_threads;
  server_->set_keep_alive_max_count(1 << 30);
  server_->set_keep_alive_timeout(120);
  if (config_.http_frontend == CloudConfig::HttpFrontend::epoll) {
    fast_routes_ = std::make_unique<KvFastRoutes>(raft_, token_, secret_, std::chrono::milliseconds(config_.request_timeout_ms));
    HttpFrontendHandlers handlers;
    handlers.fast = [routes = fast_routes_.get()](const HttpRequest& request,
                                                  const std::shared_ptr<HttpConnection>& connection) {
      return routes->handle(request, connection);
    };
    handlers.slow = [server = server_.get()](const std::string& raw, const std::string& ip, int port, bool continue_sent,
                                             bool& close) { return server->handle(raw, ip, port, continue_sent, close); };
    frontend_ = std::make_unique<HttpFrontend>(config_.http_listen, threads, std::move(handlers));
    frontend_->start();
    return;
  }
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  server_->set_tcp_nodelay(true);
  server_->set_read_timeout(120, 0);
  if (!server_->bind_to_port(config_.http_listen.host.c_str(), config_.http_listen.port)) {
    throw std::runtime_error("cannot listen on http_listen " + config_.http_listen.text());
  }
  // At least every HTTP worker's connection arriving at once (the pool is sized for them).
  const int backlog = std::max(1024, threads);
  if (net::raise_listen_backlog(config_.http_listen.port, backlog) == 0) {
    logger().warn("could not raise the HTTP listen backlog; many clients connecting at once may wait 1 s",
                  {{"port", std::to_string(config_.http_listen.port)}});
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

void HttpApi::stop() {
  if (frontend_) frontend_->stop();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpApi::install_routes() {
  httplib::Server& s = *server_;
  const auto timeout = std::chrono::milliseconds(config_.request_timeout_ms);

  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/ping") return httplib::Server::HandlerResponse::Unhandled;
    // The Sync RPC authenticates gateways by their own tokens (sync_rpc.h).
    if (req.path.rfind("/rpc/v1/", 0) == 0) {
      if (sync_snapshots_ && req.path.rfind("/rpc/v1/Sync/", 0) == 0) sync_snapshots_->on_request(req);
      return httplib::Server::HandlerResponse::Unhandled;
    }
    // Gateways ship their snapshot parts with their own tokens (checked by the route).
    if (sync_snapshots_ && SyncSnapshotHooks::is_parts_path(req.path)) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    const std::string presented = auth.rfind(prefix, 0) == 0 ? auth.substr(prefix.size()) : std::string();
    if (!presented.empty() && (secrets_equal(presented, token_) || secrets_equal(presented, secret_))) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    reply(res, 401, {{"error", {{"code", "unauthorized"}, {"message", "missing or wrong bearer token"}}}});
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const BadRequest& e) {
      reply(res, 400, {{"error", e.what()}});
    } catch (const std::exception& e) {
      logger().error("request failed", {{"error", e.what()}});
      reply(res, 500, {{"error", e.what()}});
    } catch (...) {
      reply(res, 500, {{"error", "unknown error"}});
    }
  });

  s.Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.set_content("pong\n", "text/plain"); });
  install_dht_routes(s, dht_, config_.request_timeout_ms);
  services_routes_ = install_services_routes(s, raft_, forwarder_, timeout);
  install_metrics_route(s, raft_, *sync_);
  install_snapshot_routes(s, raft_, snapshots_, secret_, config_.request_timeout_ms);
  if (sync_snapshots_) {
    sync_snapshots_->install_parts_route(s);
    s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path.rfind("/rpc/v1/Sync/", 0) == 0) sync_snapshots_->on_response(req, res);
    });
  }
  sync_->mount(s);

  // Runs a write here if this node leads, else hands it to the leader over the Raft peer
  // link; HTTP forwarding is the fallback when that link is not there.
  auto write = [this, timeout](const httplib::Request& req, httplib::Response& res, const std::string& path,
                               Command command, std::function<void(json&)> shape) {
    const WriteOutcome out = raft_.write_via_leader(with_session(req, std::move(command)), timeout);
    if (out.status == WriteOutcome::Status::not_leader) {
      const auto leader_http = out.leader != 0 ? raft_.http_address(out.leader) : std::nullopt;
      if (leader_http && out.leader != raft_.id() && !req.has_header(kForwardedHeader)) {
        forwarder_.forward(req, path, *leader_http, res);
        return;
      }
    }
    JsonReply answer = write_reply(out, nullptr);
    if (answer.status == 200) shape(answer.body);
    reply(res, answer);
  };

  // Waits for a linearizable read point (ReadIndex); false after answering 503.
  auto read_barrier = [this, timeout](const httplib::Request& req, httplib::Response& res) {
    if (!linearizable(req)) return true;
    const ReadOutcome out = raft_.linearizable_read_barrier(timeout);
    if (!out.ok) reply(res, read_barrier_refused(out));
    return out.ok;
  };

  s.Put(R"(/api/v1/kv/(.+))", [write](const httplib::Request& req, httplib::Response& res) {
    const std::string key = req.matches[1];
    const json body = parse_body(req);
    Command command;
    command.kind = CommandKind::put;
    command.key = key;
    command.value = json_string_field(body, "value", "");
    write(req, res, "/api/v1/kv/" + encode_path_key(key), std::move(command), [&](json& out) { out["key"] = key; });
  });
  s.Delete(R"(/api/v1/kv/(.+))", [write](const httplib::Request& req, httplib::Response& res) {
    const std::string key = req.matches[1];
    Command command;
    command.kind = CommandKind::remove;
    command.key = key;
    write(req, res, "/api/v1/kv/" + encode_path_key(key), std::move(command), [&](json& out) { out["key"] = key; });
  });
  s.Post("/api/v1/kv/txn", [write](const httplib::Request& req, httplib::Response& res) {
    write(req, res, "/api/v1/kv/txn", parse_txn(parse_body(req)), [](json&) {});
  });
  s.Get(R"(/api/v1/kv/(.+))", [this, read_barrier](const httplib::Request& req, httplib::Response& res) {
    const std::string key = req.matches[1];
    if (!read_barrier(req, res)) return;
    const auto kv = raft_.read([&](const KvStateMachine& state) { return state.get(key); });
    reply(res, get_reply(key, kv));
  });
  s.Get(R"(/api/v1/kv/?)", [this, read_barrier](const httplib::Request& req, httplib::Response& res) {
    const std::string prefix = req.has_param("prefix") ? req.get_param_value("prefix") : std::string();
    std::size_t limit = 0;
    if (req.has_param("limit")) {
      const std::string text = req.get_param_value("limit");
      const auto parsed = std::from_chars(text.data(), text.data() + text.size(), limit);
      if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) {
        throw BadRequest("parameter 'limit': expected an unsigned integer, got \"" + text + "\"");
      }
    }
    if (!read_barrier(req, res)) return;
    json body = raft_.read([&](const KvStateMachine& state) {
      json kvs = json::array();
      for (const auto& [key, kv] : state.range(prefix, limit)) kvs.push_back(kv_json(key, kv));
      return json{{"kvs", std::move(kvs)}, {"revision", state.revision()}};
    });
    reply(res, 200, body);
  });

  s.Get("/api/v1/cluster", [this](const httplib::Request&, httplib::Response& res) {
    const ClusterStatus st = raft_.status(std::chrono::seconds(2));
    json members = json::array();
    for (const auto& m : st.members) {
      json item{{"id", m.id},
                {"role", m.voter ? "voter" : "learner"},
                {"peer", m.peer_address},
                {"http", m.http_address},
                {"is_leader", m.id == st.leader}};
      if (m.match) item["match_index"] = *m.match;
      members.push_back(std::move(item));
    }
    reply(res, 200,
          {{"id", st.id},
           {"role", raft::to_string(st.role)},
           {"term", st.term},
           {"leader", st.leader},
           {"linearizable_reads", config_.lease_reads ? "lease" : "read_index"},
           {"commit_index", st.commit_index},
           {"applied_index", st.applied_index},
           {"last_index", st.last_index},
           {"snapshot_index", st.snapshot_index},
           {"revision", st.revision},
           {"keys", st.keys},
           {"state_hash", std::to_string(st.state_hash)},
           {"members", std::move(members)},
           // Where the Raft loop's time went (slow = over kSlowLoopMs; each is also logged).
           {"loop",
            {{"turns", st.loop.turns},
             {"persists", st.loop.persists},
             {"entries_persisted", st.loop.entries_persisted},
             {"slow_persists", st.loop.slow_persists},
             {"max_persist_us", st.loop.max_persist_us},
             {"slow_turns", st.loop.slow_turns},
             {"max_turn_us", st.loop.max_turn_us},
             {"snapshots", st.loop.snapshots},
             {"last_snapshot_us", st.loop.last_snapshot_us},
             {"leader_changes", st.loop.leader_changes},
             {"snapshot_marker_frames", st.loop.marker_frames}}}});
  });

  // Membership and leadership changes run on the leader; a follower forwards them.
  auto on_leader = [this](const httplib::Request& req, httplib::Response& res, const WriteOutcome& out,
                          const json& ok_body) {
    switch (out.status) {
      case WriteOutcome::Status::ok: reply(res, 200, ok_body); return;
      case WriteOutcome::Status::not_leader: {
        const auto leader_http = out.leader != 0 ? raft_.http_address(out.leader) : std::nullopt;
        if (leader_http && out.leader != raft_.id() && !req.has_header(kForwardedHeader)) {
          forwarder_.forward(req, req.path, *leader_http, res);
          return;
        }
        reply(res, 503, {{"error", "no leader; not applied"}, {"leader", out.leader}});
        return;
      }
      case WriteOutcome::Status::refused: reply(res, 409, {{"error", out.reason}, {"leader", out.leader}}); return;
      case WriteOutcome::Status::unknown: reply(res, 504, {{"error", out.reason}, {"outcome", "unknown"}}); return;
    }
  };
  s.Post("/api/v1/cluster/members", [this, on_leader, timeout](const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req);
    const std::uint64_t id = json_number_field(body, "id", "");
    if (id == 0) throw BadRequest("field 'id': must be >= 1");
    const std::string peer = json_string_field(body, "peer", "");
    const std::string http = json_string_field(body, "http", "");
    try {
      parse_host_port(peer, "peer");
      parse_host_port(http, "http");
    } catch (const config::ConfigError& e) {
      throw BadRequest(e.what());
    }
    on_leader(req, res, raft_.add_member(id, peer, http, timeout), {{"added", id}, {"role", "learner"}});
  });
  s.Delete(R"(/api/v1/cluster/members/(\d+))", [this, on_leader, timeout](const httplib::Request& req,
                                                                          httplib::Response& res) {
    const std::uint64_t id = std::stoull(req.matches[1]);
    on_leader(req, res, raft_.remove_member(id, timeout), {{"removed", id}});
  });
  s.Post("/api/v1/cluster/transfer-leader", [this, on_leader, timeout](const httplib::Request& req,
                                                                        httplib::Response& res) {
    std::uint64_t to = 0;
    if (!req.body.empty()) {
      const json body = parse_body(req);
      if (body.contains("to")) to = json_number_field(body, "to", "");
    }
    const WriteOutcome out = raft_.transfer_leader(to, timeout);
    on_leader(req, res, out, {{"leader", out.leader}});
  });
}

}  // namespace homestead::cloudd
