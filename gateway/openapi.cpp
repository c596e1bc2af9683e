#include "gateway/openapi.h"

#include "gateway/gateway.h"

namespace homestead::gateway {

const std::vector<RouteSpec>& route_specs() {
  static const std::vector<RouteSpec> routes = {
      {"GET", "/api/v1/ping", std::nullopt, "Liveness; no authentication", 200, {}, false},
      {"GET", "/api/v1/health", Scope::read, "Broker link, database, sync, version, uptime", 200, {}, false},
      {"GET", "/api/v1/openapi.json", Scope::read, "This description", 200, {}, false},
      {"GET", "/metrics", Scope::read, "Prometheus text format metrics", 200, {}, false},
      {"GET", "/api/v1/devices", Scope::read, "List registered devices", 200, {}, false},
      {"POST", "/api/v1/devices", Scope::admin,
       "Register (provision) a device; body {id, kind, room?, name?}; returns its broker credentials once", 201, {}, true},
      {"GET", "/api/v1/devices/{id}", Scope::read, "One device", 200, {}, false},
      {"PATCH", "/api/v1/devices/{id}", Scope::admin, "Rename or move a device; body {name?, room?}", 200, {}, true},
      {"DELETE", "/api/v1/devices/{id}", Scope::admin, "Delete a device and revoke its broker access", 204, {}, false},
      {"GET", "/api/v1/devices/{id}/state", Scope::read,
       "Reported and desired state, version, online, last_seen, staleness", 200, {}, false},
      {"GET", "/api/v1/devices/{id}/readings", Scope::read,
       "Stored state reports, newest first; since/until are gateway receive times in Unix ms", 200,
       {"since", "until", "limit"}, false},
      {"POST", "/api/v1/devices/{id}/commands", Scope::admin,
       "Send a command; body {command, args?, expires_in_s?}; logged durably before 202. wait_ms waits in the same "
       "request for the outcome: 200 with the final record (acked|failed|expired), else 202 with the record so far",
       202, {"wait_ms"}, true, 200},
      {"GET", "/api/v1/commands/{id}", Scope::read,
       "Command status pending|sent|acked|failed|expired with reason; wait_ms long-polls for a final status", 200,
       {"wait_ms"}, false},
      {"POST", "/api/v1/tokens", Scope::admin, "Create an API token; body {id, scope: read|admin}; shown once", 201, {},
       true},
      {"GET", "/api/v1/apps", Scope::read, "Installed transactuation apps with origin (builtin|file|api) and enabled", 200,
       {}, false},
      {"POST", "/api/v1/apps", Scope::admin,
       "Install a JSON app definition (transactuation/json_app.h); errors name the field; nothing half-installed", 201,
       {}, true},
      {"GET", "/api/v1/apps/{id}", Scope::read, "One app: triggers, actuators, state keys, definition", 200, {}, false},
      {"DELETE", "/api/v1/apps/{id}", Scope::admin, "Remove an app; running transactuations of it finish", 204, {},
       false},
      {"POST", "/api/v1/apps/{id}/enable", Scope::admin, "Enable an app (kept across restarts)", 200, {}, false},
      {"POST", "/api/v1/apps/{id}/disable", Scope::admin, "Disable an app: no new triggers; running ones finish", 200,
       {}, false},
      {"POST", "/api/v1/apps/{id}/trigger", Scope::admin,
       "Start a transactuation of the app now (API trigger); optional JSON body is the trigger payload", 202, {},
       false},
      {"GET", "/api/v1/app-state", Scope::read, "The committed app state (key: value)", 200, {}, false},
      {"GET", "/api/v1/sync", Scope::read,
       "Cloud sync: enabled, connected, cloud_url, leader, outbox {depth, oldest_age_ms, bytes, dropped}, next_seq, "
       "applied_through, last_success_ms, last_error, desired_cursor, conflicts_resolved, desired_applied, "
       "desired_failed",
       200, {}, false},
      {"GET", "/api/v1/sync/conflicts", Scope::read,
       "Conflicts between cloud desired changes and local changes, newest first (up to 100), with their resolution",
       200, {}, false},
      {"GET", "/api/v1/transactuations", Scope::read,
       "Transactuations, newest first; status=running|committed|committed_partial|aborted, app=NAME, limit=1..1000",
       200, {"status", "app", "limit"}, false},
      {"GET", "/api/v1/transactuations/{id}", Scope::read,
       "One transactuation: trigger, readings with ages, actuations with outcomes, state writes, outcome, timings", 200,
       {}, false},
  };
  return routes;
}

nlohmann::json openapi_document() {
  nlohmann::json error_schema = {
      {"type", "object"},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"properties",
           {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}, {"request_id", {{"type", "string"}}}}}}}}}};
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& r : route_specs()) {
    std::string method = r.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    nlohmann::json op = {{"summary", r.summary}};
    nlohmann::json params = nlohmann::json::array();
    if (r.path.find("{id}") != std::string::npos) {
      params.push_back({{"name", "id"}, {"in", "path"}, {"required", true},
                        {"schema", {{"type", "string"}, {"pattern", "^[a-z0-9_-]{1,48}$"}}}});
    }
    for (const auto& q : r.query) {
      const bool text = q == "status" || q == "app";
      params.push_back(
          {{"name", q}, {"in", "query"}, {"required", false}, {"schema", {{"type", text ? "string" : "integer"}}}});
    }
    if (!params.empty()) op["parameters"] = params;
    if (r.body) {
      op["requestBody"] = {{"required", true},
                           {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    }
    nlohmann::json responses;
    const bool text = r.path == "/metrics";
    responses[std::to_string(r.success_status)] =
        r.success_status == 204
            ? nlohmann::json{{"description", "done"}}
            : nlohmann::json{{"description", "success"},
                             {"content", {{text ? "text/plain" : "application/json", {{"schema", {{"type", text ? "string" : "object"}}}}}}}};
    if (r.other_success_status != 0) responses[std::to_string(r.other_success_status)] = responses[std::to_string(r.success_status)];
    const nlohmann::json err = {{"description", "error"}, {"content", {{"application/json", {{"schema", error_schema}}}}}};
    responses["400"] = err;
    if (r.scope) {
      responses["401"] = err;
      op["security"] = nlohmann::json::array({{{"bearer", nlohmann::json::array()}}});
      if (*r.scope == Scope::admin) responses["403"] = err;
    }
    if (r.path.find("{id}") != std::string::npos) responses["404"] = err;
    op["responses"] = responses;
    op["x-required-scope"] = r.scope ? std::string(scope_name(*r.scope)) : "none";
    paths[r.path][method] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Homestead gatewayd admin API"}, {"version", kVersion}}},
          {"components", {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
          {"paths", paths}};
}

}  // namespace homestead::gateway
