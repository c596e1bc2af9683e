#include "gateway/http_api.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <regex>

#include "common/log/log.h"
#include "common/net/listen_backlog.h"
#include "gateway/gateway.h"
#include "gateway/openapi.h"

namespace homestead::gateway {
namespace {

const log::Logger logger("http");

// Not "application/json": the Debian .so gzips replies of exactly that type when a client
// sends Accept-Encoding, which costs more than it saves on small replies (DESIGN.md section 4).
constexpr const char* kJson = "application/json; charset=utf-8";

std::string next_request_id() {
  static const std::string prefix = random_hex(4);
  static std::atomic<std::uint64_t> counter{0};
  return prefix + "-" + std::to_string(++counter);
}

struct Call {
  const httplib::Request& req;
  httplib::Response& res;
  std::string request_id;
  std::string id() const { return req.matches.size() > 1 ? std::string(req.matches[1]) : std::string(); }
};

using Handler = std::function<void(Gateway&, Call&)>;

void reply(Call& c, int status, const nlohmann::json& body) {
  c.res.status = status;
  c.res.set_content(body.dump(), kJson);
}

void reply_error(httplib::Response& res, int status, const std::string& code, const std::string& message,
                 const std::string& request_id) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", {{"code", code}, {"message", message}, {"request_id", request_id}}}}.dump(),
                  kJson);
}

nlohmann::json parse_body(const Call& c) {
  if (c.req.body.empty()) throw ApiError(400, "invalid_json", "request body is empty; expected a JSON object");
  try {
    return nlohmann::json::parse(c.req.body);
  } catch (const nlohmann::json::parse_error& e) {
    throw ApiError(400, "invalid_json", "request body is not valid JSON at byte " + std::to_string(e.byte));
  }
}

std::int64_t query_int(const Call& c, const std::string& name, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  if (!c.req.has_param(name.c_str())) return fallback;
  const auto text = c.req.get_param_value(name.c_str());
  try {
    std::size_t used = 0;
    const auto v = std::stoll(text, &used);
    if (used != text.size() || v < min || v > max) throw std::out_of_range(name);
    return v;
  } catch (const std::exception&) {
    throw ApiError(400, "invalid_parameter", "query parameter '" + name + "': expected an integer in " +
                                                 std::to_string(min) + ".." + std::to_string(max) + ", got \"" +
                                                 text.substr(0, 40) + "\"");
  }
}

TransactuationService& runtime(Gateway& g) {
  auto* service = g.transactuations();
  if (!service) throw ApiError(503, "unavailable", "transactuations are disabled (transactuations.enabled is false)");
  return *service;
}

const std::map<std::string, Handler>& handlers() {
  static const std::map<std::string, Handler> table = {
      {"GET /api/v1/ping", [](Gateway&, Call& c) { reply(c, 200, {{"pong", true}, {"version", kVersion}}); }},
      {"GET /api/v1/health", [](Gateway& g, Call& c) { reply(c, 200, g.health()); }},
      {"GET /api/v1/openapi.json", [](Gateway&, Call& c) { reply(c, 200, openapi_document()); }},
      {"GET /metrics",
       [](Gateway& g, Call& c) {
         c.res.status = 200;
         // A parameter on the type keeps the .so from gzipping it (see kJson).
         c.res.set_content(g.render_metrics(), "text/plain; version=0.0.4; charset=utf-8");
       }},
      {"GET /api/v1/devices", [](Gateway& g, Call& c) { reply(c, 200, g.list_devices()); }},
      {"POST /api/v1/devices", [](Gateway& g, Call& c) { reply(c, 201, g.create_device(parse_body(c))); }},
      {"GET /api/v1/devices/{id}", [](Gateway& g, Call& c) { reply(c, 200, g.get_device(c.id())); }},
      {"PATCH /api/v1/devices/{id}", [](Gateway& g, Call& c) { reply(c, 200, g.patch_device(c.id(), parse_body(c))); }},
      {"DELETE /api/v1/devices/{id}",
       [](Gateway& g, Call& c) {
         g.delete_device(c.id());
         c.res.status = 204;
       }},
      {"GET /api/v1/devices/{id}/state", [](Gateway& g, Call& c) { reply(c, 200, g.device_state(c.id())); }},
      {"GET /api/v1/devices/{id}/readings",
       [](Gateway& g, Call& c) {
         ReadingQuery q;
         q.device = c.id();
         q.since_ms = query_int(c, "since", 0, 0, INT64_MAX);
         q.until_ms = query_int(c, "until", INT64_MAX, 0, INT64_MAX);
         q.limit = static_cast<int>(query_int(c, "limit", 100, 1, 10000));
         reply(c, 200, g.readings(q));
       }},
      {"POST /api/v1/devices/{id}/commands",
       [](Gateway& g, Call& c) {
         // wait_ms (optional) answers with the outcome in the same request: 200 with the final
         // record, or 202 with the record so far when the wait ends first. Read before the
         // command is made, so a bad value creates nothing.
         const auto wait = query_int(c, "wait_ms", 0, 0, 30000);
         auto accepted = g.submit_command(c.id(), parse_body(c));
         if (wait == 0) return reply(c, 202, accepted);
         auto outcome = g.get_command(accepted["command_id"].get<std::string>(), std::chrono::milliseconds(wait));
         CommandStatus status = CommandStatus::pending;
         const bool final = parse_status(outcome["status"].get<std::string>(), status) && is_final(status);
         reply(c, final ? 200 : 202, outcome);
       }},
      {"GET /api/v1/commands/{id}",
       [](Gateway& g, Call& c) {
         const auto wait = query_int(c, "wait_ms", 0, 0, 30000);
         reply(c, 200, g.get_command(c.id(), std::chrono::milliseconds(wait)));
       }},
      {"POST /api/v1/tokens", [](Gateway& g, Call& c) { reply(c, 201, g.create_token(parse_body(c))); }},
      {"GET /api/v1/apps", [](Gateway& g, Call& c) { reply(c, 200, runtime(g).list_apps()); }},
      {"POST /api/v1/apps", [](Gateway& g, Call& c) { reply(c, 201, runtime(g).install_app(parse_body(c))); }},
      {"GET /api/v1/apps/{id}", [](Gateway& g, Call& c) { reply(c, 200, runtime(g).get_app(c.id())); }},
      {"DELETE /api/v1/apps/{id}",
       [](Gateway& g, Call& c) {
         runtime(g).remove_app(c.id());
         c.res.status = 204;
       }},
      {"POST /api/v1/apps/{id}/enable", [](Gateway& g, Call& c) { reply(c, 200, runtime(g).set_enabled(c.id(), true)); }},
      {"POST /api/v1/apps/{id}/disable",
       [](Gateway& g, Call& c) { reply(c, 200, runtime(g).set_enabled(c.id(), false)); }},
      {"POST /api/v1/apps/{id}/trigger",
       [](Gateway& g, Call& c) {
         const auto payload = c.req.body.empty() ? nlohmann::json::object() : parse_body(c);
         reply(c, 202, runtime(g).trigger(c.id(), payload));
       }},
      {"GET /api/v1/app-state", [](Gateway& g, Call& c) { reply(c, 200, runtime(g).app_state()); }},
      {"GET /api/v1/sync", [](Gateway& g, Call& c) { reply(c, 200, g.sync_status()); }},
      {"GET /api/v1/sync/conflicts", [](Gateway& g, Call& c) { reply(c, 200, g.sync_conflicts()); }},
      {"GET /api/v1/transactuations",
       [](Gateway& g, Call& c) {
         RunQuery q;
         q.status = c.req.get_param_value("status");
         q.app = c.req.get_param_value("app");
         q.limit = static_cast<int>(query_int(c, "limit", 50, 1, 1000));
         reply(c, 200, runtime(g).list_runs(q));
       }},
      {"GET /api/v1/transactuations/{id}", [](Gateway& g, Call& c) { reply(c, 200, runtime(g).get_run(c.id())); }},
  };
  return table;
}

// "/api/v1/devices/{id}/state" -> "/api/v1/devices/([^/]+)/state"
std::string to_regex(const std::string& path) {
  return std::regex_replace(path, std::regex(R"(\{[a-z_]+\})"), "([^/]+)");
}

std::string bearer_token(const httplib::Request& req) {
  const auto header = req.get_header_value("Authorization");
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() <= prefix.size() || header.compare(0, prefix.size(), prefix) != 0) return {};
  return header.substr(prefix.size());
}

}  // namespace

HttpApi::HttpApi(Gateway& gateway, HttpSettings settings)
    : gateway_(gateway), settings_(std::move(settings)), server_(std::make_unique<httplib::Server>()) {
  install_routes();
}

HttpApi::~HttpApi() { stop(); }

void HttpApi::install_routes() {
  auto& s = *server_;
  const auto threads = static_cast<std::size_t>(settings_.threads);
  // Each keep-alive connection holds a worker while it is open; extra connections would
  // starve silently with the default pool of 8.
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(static_cast<std::size_t>(settings_.keep_alive_max_count));
  s.set_keep_alive_timeout(settings_.keep_alive_timeout_s);
  s.set_read_timeout(std::chrono::milliseconds(settings_.read_timeout_ms));
  s.set_write_timeout(std::chrono::seconds(5));
  s.set_payload_max_length(static_cast<std::size_t>(settings_.max_body_bytes));
  // The default options add SO_REUSEPORT, with which a stale gatewayd on the same port would
  // share (steal) connections; bind fails instead.
  s.set_socket_options([](int sock) {
    int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  });

  const auto& table = handlers();
  std::size_t used = 0;
  for (const auto& spec : route_specs()) {
    const auto key = spec.method + " " + spec.path;
    auto it = table.find(key);
    if (it == table.end()) throw std::logic_error("http_api: route without handler: " + key);
    ++used;
    Handler handler = it->second;
    const auto scope = spec.scope;
    auto wrapped = [this, handler, scope](const httplib::Request& req, httplib::Response& res) {
      Call call{req, res, next_request_id()};
      res.set_header("X-Request-Id", call.request_id);
      try {
        if (scope) {
          const auto token = bearer_token(req);
          const auto granted = token.empty() ? std::nullopt : gateway_.tokens().check(token);
          if (!granted) {
            res.set_header("WWW-Authenticate", "Bearer realm=\"homestead\"");
            gateway_.metrics().add("homestead_http_rejected_total", "reason=\"unauthenticated\"");
            return reply_error(res, 401, "unauthenticated",
                               token.empty() ? "missing bearer token" : "invalid bearer token", call.request_id);
          }
          if (*scope == Scope::admin && *granted != Scope::admin) {
            gateway_.metrics().add("homestead_http_rejected_total", "reason=\"forbidden\"");
            return reply_error(res, 403, "forbidden", "this route needs a token with scope admin", call.request_id);
          }
        }
        handler(gateway_, call);
      } catch (const ApiError& e) {
        if (e.status() < 500) gateway_.metrics().add("homestead_http_rejected_total", "reason=\"" + e.code() + "\"");
        reply_error(res, e.status(), e.code(), e.what(), call.request_id);
      }
    };
    const auto pattern = to_regex(spec.path);
    if (spec.method == "GET") s.Get(pattern, wrapped);
    else if (spec.method == "POST") s.Post(pattern, wrapped);
    else if (spec.method == "PATCH") s.Patch(pattern, wrapped);
    else if (spec.method == "DELETE") s.Delete(pattern, wrapped);
    else throw std::logic_error("http_api: unsupported method " + spec.method);
  }
  if (used != table.size()) throw std::logic_error("http_api: a handler has no route_specs() entry");

  s.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    logger.error("handler failed", {{"error", what}});
    gateway_.metrics().add("homestead_http_rejected_total", "reason=\"internal\"");
    reply_error(res, 500, "internal", "internal error", res.get_header_value("X-Request-Id"));
  });
  // Requests no route handled (unknown path, wrong method) and httplib's own rejections
  // (413 body too large, 400 malformed) come here with an empty body.
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string code = "bad_request", message = "bad request";
    if (res.status == 404) code = "no_route", message = "no such route";
    else if (res.status == 413) code = "payload_too_large", message = "request body larger than " + std::to_string(settings_.max_body_bytes) + " bytes";
    else if (res.status == 414) code = "uri_too_long", message = "request line too long";
    else if (res.status >= 500) code = "internal", message = "internal error";
    gateway_.metrics().add("homestead_http_rejected_total", "reason=\"" + code + "\"");
    auto id = res.get_header_value("X-Request-Id");
    if (id.empty()) {
      id = next_request_id();
      res.set_header("X-Request-Id", id);
    }
    reply_error(res, res.status, code, message, id);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    gateway_.metrics().add("homestead_http_requests_total", "code=\"" + std::to_string(res.status) + "\"");
    if (slow_client_guard_) slow_client_guard_->request_completed(req.remote_addr, req.remote_port);
  });
}

int HttpApi::start() {
  int port = settings_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(settings_.bind);
    if (port <= 0) throw std::runtime_error("http: cannot bind " + settings_.bind + " on any port");
  } else if (!server_->bind_to_port(settings_.bind, port)) {
    throw std::runtime_error("http: cannot bind " + settings_.bind + ":" + std::to_string(port) +
                             " (in use? http.port / http.bind)");
  }
  // httplib listens with a backlog of 5: more clients connecting at once than that lose their
  // SYNs and retry only after 1 s (common/net/listen_backlog.h).
  if (net::raise_listen_backlog(port, std::max(128, settings_.threads)) == 0) {
    logger.warn("could not raise the HTTP listen backlog; many clients connecting at once may wait 1 s",
                {{"port", std::to_string(port)}});
  }
  // When every worker is taken, connections that completed no request within the read
  // timeout are closed (slow_client_guard.h says why httplib alone cannot prevent it).
  slow_client_guard_ = std::make_unique<SlowClientGuard>(
      port, static_cast<std::size_t>(settings_.threads), settings_.read_timeout_ms, [this](int closed) {
        gateway_.metrics().add("homestead_http_slow_connections_closed_total", {}, closed);
      });
  slow_client_guard_->start();
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // 0.11 has no wait_until_ready(): poll is_running.
  for (int i = 0; i < 2000 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

void HttpApi::stop() {
  if (slow_client_guard_) slow_client_guard_->stop();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace homestead::gateway
