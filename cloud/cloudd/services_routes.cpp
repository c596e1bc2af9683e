#include "cloud/cloudd/services_routes.h"

#include <httplib.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cloud/cloudd/secrets.h"
#include "cloud/cloudd/service_writer.h"
#include "cloud/services/ops.h"
#include "cloud/services/services_state.h"

namespace homestead::cloudd {
namespace {

using nlohmann::json;
using services::ServicesState;
namespace ops = services::ops;

// An answer other than 200, in the gateway's error shape.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string code, const std::string& message, std::string field = {})
      : std::runtime_error(message), status(status), code(std::move(code)), field(std::move(field)) {}
  int status;
  std::string code;
  std::string field;
};

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& code, const std::string& message,
                 const std::string& field = {}) {
  json error{{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  reply(res, status, {{"error", std::move(error)}});
}

int status_for(const std::string& code) {
  if (code == "not_found") return 404;
  if (code == "already_exists" || code == "version_mismatch") return 409;
  if (code == "forbidden") return 403;
  return 400;
}

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Our errors in our shape, whatever HttpApi's exception handler does for the KV routes.
Handler guarded(Handler handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const ApiError& e) {
      reply_error(res, e.status, e.code, e.what(), e.field);
    }
  };
}

json parse_body(const httplib::Request& req) {
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::parse_error& e) {
    throw ApiError(400, "invalid", std::string("body: not valid JSON: ") + e.what());
  }
  if (!body.is_object()) throw ApiError(400, "invalid", "body: expected a JSON object");
  return body;
}

std::string string_field(const json& body, const char* name, bool required) {
  const auto it = body.find(name);
  if (it == body.end()) {
    if (required) throw ApiError(400, "invalid", std::string("field '") + name + "' is required", name);
    return {};
  }
  if (!it->is_string()) {
    throw ApiError(400, "invalid", std::string("field '") + name + "': expected a string", name);
  }
  return it->get<std::string>();
}

template <class T>
std::optional<T> number_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  const std::string text = req.get_param_value(name);
  T value{};
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) {
    throw ApiError(400, "invalid", std::string("parameter '") + name + "': expected an integer, got \"" + text + "\"",
                   name);
  }
  return value;
}

std::string param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? req.get_param_value(name) : std::string();
}

// "\"7\"", "W/\"7\"" or "7" -> 7.
std::optional<std::uint64_t> if_match(const httplib::Request& req) {
  if (!req.has_header("If-Match")) return std::nullopt;
  std::string text = req.get_header_value("If-Match");
  if (text.rfind("W/", 0) == 0) text = text.substr(2);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  std::uint64_t value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) {
    throw ApiError(400, "invalid", "header If-Match: expected a shadow version like \"7\"", "If-Match");
  }
  return value;
}

// Built by appending: g++ 12 -O3 reports a false -Wrestrict on "\"" + std::string.
std::string etag(std::uint64_t version) {
  std::string tag(1, '"');
  tag += std::to_string(version);
  tag += '"';
  return tag;
}

class Routes {
 public:
  Routes(RaftServer& raft, const LeaderForwarder& forwarder, std::chrono::milliseconds timeout)
      : raft_(raft), forwarder_(forwarder), timeout_(timeout) {}

  // Runs `op` through Raft (forwarding to the leader from a follower) and answers with
  // `shape(result)` or the rule's error. Returns the result when it was applied here.
  std::optional<json> write(const httplib::Request& req, httplib::Response& res, const json& op, int ok_status = 200) {
    const ServiceWrite write = propose_service_op(raft_, op, timeout_);
    switch (write.status) {
      case ServiceWrite::Status::ok:
        if (write.refused()) {
          const json& error = write.result["error"];
          const std::string code = error.value("code", std::string("invalid"));
          json body = write.result;
          if (code == "version_mismatch") body["error"]["current_version"] = std::stoull(error.value("field", "0"));
          reply(res, status_for(code), body);
          return std::nullopt;
        }
        res.status = ok_status;
        return write.result;
      case ServiceWrite::Status::not_leader:
        if (!write.leader_http.empty() && !req.has_header(kForwardedHeader)) {
          forwarder_.forward(req, encode_path_key(req.path), write.leader_http, res);
          return std::nullopt;
        }
        reply_error(res, 503, "unavailable", "no leader; not applied");
        return std::nullopt;
      case ServiceWrite::Status::not_applied:
        reply_error(res, 503, "unavailable", "not applied: " + write.reason);
        return std::nullopt;
      case ServiceWrite::Status::unknown:
        reply_error(res, 504, "outcome_unknown", write.reason);
        return std::nullopt;
    }
    return std::nullopt;
  }

  // Linearizable unless ?consistency=serializable; throws 503 when no read point.
  void read_barrier(const httplib::Request& req) {
    const std::string mode = param(req, "consistency");
    if (mode == "serializable") return;
    if (!mode.empty() && mode != "linearizable") {
      throw ApiError(400, "invalid", "parameter 'consistency': expected linearizable or serializable", "consistency");
    }
    const ReadOutcome out = raft_.linearizable_read_barrier(timeout_);
    if (!out.ok) throw ApiError(503, "unavailable", "no read point: " + out.reason);
  }

  template <class F>
  auto read(const httplib::Request& req, F&& reader) {
    read_barrier(req);
    return raft_.read([&](const KvStateMachine& state) { return reader(state.services()); });
  }

  void install(httplib::Server& s) {
    s.Post("/api/v1/homes", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const json body = parse_body(req);
      if (auto out = write(req, res, ops::create_home(string_field(body, "id", true), string_field(body, "name", false)), 201)) {
        reply(res, 201, *out);
      }
    }));
    s.Get("/api/v1/homes", guarded([this](const httplib::Request& req, httplib::Response& res) {
      reply(res, 200, read(req, [](const ServicesState& sv) {
              json homes = json::array();
              for (const auto& [id, h] : sv.homes()) homes.push_back(home_json(sv, h));
              return json{{"homes", std::move(homes)}};
            }));
    }));
    s.Get(R"(/api/v1/homes/([^/]+))", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      reply(res, 200, read(req, [&](const ServicesState& sv) { return home_json(sv, require_home(sv, id)); }));
    }));

    s.Post(R"(/api/v1/homes/([^/]+)/gateways)", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const std::string home = req.matches[1];
      const std::string id = string_field(parse_body(req), "id", true);
      // The token is made here and answered once; only its hash enters the Raft log.
      const std::string token = random_hex(32);
      if (write(req, res, ops::add_gateway(home, id, services::sha256_hex(token)), 201)) {
        reply(res, 201, {{"home", home}, {"id", id}, {"token", token}});
      }
    }));
    s.Get(R"(/api/v1/homes/([^/]+)/gateways)", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const std::string home = req.matches[1];
      reply(res, 200, read(req, [&](const ServicesState& sv) {
              require_home(sv, home);
              json list = json::array();
              for (const auto* g : sv.gateways(home)) {
                list.push_back({{"id", g->id},
                                {"home", g->home},
                                {"applied_through", g->applied_through},
                                {"last_push_ms", g->last_push_ms},
                                {"items_applied", g->items_applied},
                                {"duplicates", g->duplicates},
                                {"rejected", g->rejected},
                                {"created_ms", g->created_ms}});
              }
              return json{{"gateways", std::move(list)}};
            }));
    }));
    s.Delete(R"(/api/v1/homes/([^/]+)/gateways/([^/]+))",
             guarded([this](const httplib::Request& req, httplib::Response& res) {
               if (auto out = write(req, res, ops::remove_gateway(req.matches[1], req.matches[2]))) reply(res, 200, *out);
             }));

    s.Post(R"(/api/v1/homes/([^/]+)/devices)", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const json body = parse_body(req);
      const json op = ops::add_device(req.matches[1], string_field(body, "id", true), string_field(body, "type", false));
      if (auto out = write(req, res, op, 201)) reply(res, 201, *out);
    }));
    s.Get(R"(/api/v1/homes/([^/]+)/devices)", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const std::string home = req.matches[1];
      reply(res, 200, read(req, [&](const ServicesState& sv) {
              require_home(sv, home);
              json list = json::array();
              for (const auto* d : sv.devices(home)) {
                list.push_back({{"id", d->id},
                                {"type", d->type},
                                {"version", d->version},
                                {"delta", ServicesState::delta(*d)}});
              }
              return json{{"devices", std::move(list)}};
            }));
    }));
    s.Get(R"(/api/v1/homes/([^/]+)/devices/([^/]+)/shadow)",
          guarded([this](const httplib::Request& req, httplib::Response& res) {
            const json shadow = read(req, [&](const ServicesState& sv) {
              return ServicesState::shadow_json(require_device(sv, req.matches[1], req.matches[2]));
            });
            res.set_header("ETag", etag(shadow["version"].get<std::uint64_t>()));
            reply(res, 200, shadow);
          }));
    s.Patch(R"(/api/v1/homes/([^/]+)/devices/([^/]+)/shadow)",
            guarded([this](const httplib::Request& req, httplib::Response& res) {
              const json body = parse_body(req);
              if (!body.contains("desired")) throw ApiError(400, "invalid", "field 'desired' is required", "desired");
              const json op = ops::set_desired(req.matches[1], req.matches[2], body["desired"], if_match(req));
              if (auto out = write(req, res, op)) {
                res.set_header("ETag", etag((*out)["version"].get<std::uint64_t>()));
                reply(res, 200, *out);
              }
            }));
    s.Get(R"(/api/v1/homes/([^/]+)/devices/([^/]+)/history)",
          guarded([this](const httplib::Request& req, httplib::Response& res) {
            const std::size_t limit = number_param<std::size_t>(req, "limit").value_or(100);
            reply(res, 200, read(req, [&](const ServicesState& sv) {
                    const auto& device = require_device(sv, req.matches[1], req.matches[2]);
                    json list = json::array();
                    for (auto it = device.history.rbegin(); it != device.history.rend() && list.size() < limit; ++it) {
                      list.push_back({{"version", it->version},
                                      {"at_ms", it->at_ms},
                                      {"source", it->source},
                                      {"gateway", it->gateway},
                                      {"seq", it->seq},
                                      {"change", it->change}});
                    }
                    return json{{"history", std::move(list)}};
                  }));
          }));

    s.Get(R"(/api/v1/homes/([^/]+)/audit)", guarded([this](const httplib::Request& req, httplib::Response& res) {
      services::AuditQuery query;
      query.home = req.matches[1];
      query.app = param(req, "app");
      query.outcome = param(req, "outcome");
      query.gateway = param(req, "gateway");
      query.since_ms = number_param<std::int64_t>(req, "since_ms");
      query.until_ms = number_param<std::int64_t>(req, "until_ms");
      query.limit = number_param<std::size_t>(req, "limit").value_or(100);
      reply(res, 200, read(req, [&](const ServicesState& sv) {
              require_home(sv, query.home);
              json list = json::array();
              for (const auto* r : sv.audit(query)) {
                list.push_back({{"gateway", r->gateway}, {"seq", r->seq}, {"at_ms", r->at_ms}, {"app", r->app},
                                {"outcome", r->outcome}, {"record", r->record}});
              }
              return json{{"records", std::move(list)}};
            }));
    }));
    s.Get(R"(/api/v1/homes/([^/]+)/conflicts)", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const std::string home = req.matches[1];
      reply(res, 200, read(req, [&](const ServicesState& sv) {
              require_home(sv, home);
              json list = json::array();
              for (const auto& c : sv.conflicts(home)) {
                list.push_back({{"gateway", c.gateway}, {"seq", c.seq}, {"at_ms", c.at_ms}, {"device", c.device},
                                {"conflict", c.body}});
              }
              return json{{"conflicts", std::move(list)}};
            }));
    }));

    s.Get("/api/v1/leases", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      reply(res, 200, read(req, [&](const ServicesState& sv) {
              json list = json::array();
              for (const auto& l : sv.leases(now)) {
                list.push_back({{"name", l.name}, {"home", l.home}, {"holder", l.holder},
                                {"expires_at_ms", l.expires_at_ms}, {"fencing_token", l.fencing_token}});
              }
              return json{{"leases", std::move(list)}, {"now_ms", now}};
            }));
    }));
    s.Post(R"(/api/v1/leases/(.+))", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const json body = parse_body(req);
      std::uint32_t ttl = 10000;
      if (body.contains("ttl_ms")) {
        if (!body["ttl_ms"].is_number_unsigned()) throw ApiError(400, "invalid", "field 'ttl_ms': expected an unsigned integer", "ttl_ms");
        ttl = body["ttl_ms"].get<std::uint32_t>();
      }
      if (auto out = write(req, res, ops::acquire_lease("", string_field(body, "holder", true), req.matches[1], ttl))) {
        reply(res, 200, *out);
      }
    }));
    s.Delete(R"(/api/v1/leases/(.+))", guarded([this](const httplib::Request& req, httplib::Response& res) {
      const std::string holder = param(req, "holder");
      if (holder.empty()) throw ApiError(400, "invalid", "parameter 'holder' is required", "holder");
      if (auto out = write(req, res, ops::release_lease("", holder, req.matches[1]))) reply(res, 200, *out);
    }));
  }

 private:
  static const services::Home& require_home(const ServicesState& sv, const std::string& id) {
    const services::Home* home = sv.home(id);
    if (!home) throw ApiError(404, "not_found", "no home \"" + id + "\"", "home");
    return *home;
  }
  static const services::Device& require_device(const ServicesState& sv, const std::string& home,
                                                const std::string& id) {
    require_home(sv, home);
    const services::Device* device = sv.device(home, id);
    if (!device) throw ApiError(404, "not_found", "no device \"" + id + "\" in home \"" + home + "\"", "device");
    return *device;
  }
  static json home_json(const ServicesState& sv, const services::Home& h) {
    return {{"id", h.id},
            {"name", h.name},
            {"created_ms", h.created_ms},
            {"gateways", sv.gateways(h.id).size()},
            {"devices", sv.devices(h.id).size()},
            {"desired_cursor", h.desired_cursor}};
  }

  RaftServer& raft_;
  const LeaderForwarder& forwarder_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::shared_ptr<void> install_services_routes(httplib::Server& http, RaftServer& raft, const LeaderForwarder& forwarder,
                                              std::chrono::milliseconds timeout) {
  auto routes = std::make_shared<Routes>(raft, forwarder, timeout);
  routes->install(http);
  return routes;
}

}  // namespace homestead::cloudd
