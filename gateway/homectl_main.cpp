// homectl: admin CLI over gatewayd's REST API. See `homectl --help` and docs/gateway-api.md.
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/homectl_cloud.h"

namespace {

using nlohmann::json;

constexpr const char* kUsage = R"(Usage: homectl [options] COMMAND [args]

Commands:
  devices                          list devices
  device ID                        one device
  state ID                         reported/desired state, online, staleness
  command ID CMD [KEY=VALUE ...]   send a command and wait for its outcome
                                   (VALUE is JSON if it parses, else a string:
                                    homectl command lamp set_brightness brightness=80)
  watch [ID ...]                   print state changes as they happen (Ctrl-C to stop)
  health                           gateway health
  apps                             transactuation apps: origin, enabled, triggers, actuators
  runs [--status S] [--app A] [--limit N]
                                   transactuations, newest first (S: running, committed,
                                   committed_partial, aborted)
  run ID                           one transactuation: trigger, readings with ages,
                                   actuations with outcomes, state writes, outcome, timings
  sync                             cloud sync: connected, leader, outbox depth/age/dropped,
                                   positions, desired changes, conflicts resolved
  sync conflicts                   conflicts between cloud desired and local changes
  --cloud COMMAND ...              the cloud admin API instead (homectl --cloud --help)

Options:
  --url URL           gateway URL (env HOMECTL_URL; config "url"; default http://127.0.0.1:8080)
  --token TOKEN       bearer token (env HOMECTL_TOKEN)
  --token-file FILE   read the token from FILE (env HOMECTL_TOKEN_FILE; config "token_file")
  --config FILE       JSON {"url": ..., "token_file": ...}
                      (default ~/.config/homestead/homectl.json when it exists)
  --json              print the API's JSON instead of tables
  --expires S         command: expiry in seconds
  --no-wait           command: return after the gateway accepted it
  --interval-ms N     watch: poll interval (default 500)
  --count N           watch: stop after N changes
  --status S, --app A, --limit N   runs: filters
  --help              this text

Exit status: 0 ok, 1 error, 2 usage, 3 command failed or expired.
)";

[[noreturn]] void usage_error(const std::string& m) {
  std::cerr << "homectl: " << m << "\n(see homectl --help)\n";
  std::exit(2);
}

struct Options {
  std::string url, token, token_file, config;
  bool json_out = false, wait = true;
  std::optional<long> expires;
  long interval_ms = 500;
  long count = -1;
  std::string status, app;
  long limit = 20;
  std::vector<std::string> args;
};

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "homectl: cannot read token file " << path << "\n";
    std::exit(1);
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

long parse_long(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 0) usage_error(flag + ": expected a non-negative integer, got '" + v + "'");
  return n;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--url") o.url = value();
    else if (a == "--token") o.token = value();
    else if (a == "--token-file") o.token_file = value();
    else if (a == "--config") o.config = value();
    else if (a == "--json") o.json_out = true;
    else if (a == "--no-wait") o.wait = false;
    else if (a == "--expires") o.expires = parse_long(a, value());
    else if (a == "--interval-ms") o.interval_ms = std::max(10L, parse_long(a, value()));
    else if (a == "--count") o.count = parse_long(a, value());
    else if (a == "--status") o.status = value();
    else if (a == "--app") o.app = value();
    else if (a == "--limit") o.limit = parse_long(a, value());
    else if (a.rfind("--", 0) == 0) usage_error("unknown option '" + a + "'");
    else o.args.push_back(a);
  }
  // Precedence: flags, then environment, then the config file, then defaults.
  auto env = [](const char* name) { const char* v = std::getenv(name); return v ? std::string(v) : std::string(); };
  if (o.url.empty()) o.url = env("HOMECTL_URL");
  if (o.token.empty()) o.token = env("HOMECTL_TOKEN");
  if (o.token_file.empty()) o.token_file = env("HOMECTL_TOKEN_FILE");
  std::string config = o.config;
  if (config.empty() && !env("HOME").empty()) {
    const auto def = env("HOME") + "/.config/homestead/homectl.json";
    if (std::ifstream(def)) config = def;
  }
  if (!config.empty()) {
    std::ifstream in(config);
    const json c = json::parse(in, nullptr, false);
    if (!in.good() && c.is_discarded()) usage_error("--config: cannot read " + config);
    if (c.is_discarded() || !c.is_object()) usage_error(config + ": expected a JSON object {\"url\", \"token_file\"}");
    for (const auto& [k, v] : c.items()) {
      if (k != "url" && k != "token_file") usage_error(config + ": field '" + k + "': unknown (known: url, token_file)");
      if (!v.is_string()) usage_error(config + ": field '" + k + "': expected a string");
    }
    if (o.url.empty()) o.url = c.value("url", "");
    if (o.token.empty() && o.token_file.empty()) o.token_file = c.value("token_file", "");
  }
  if (o.url.empty()) o.url = "http://127.0.0.1:8080";
  if (o.token.empty() && !o.token_file.empty()) o.token = read_first_line(o.token_file);
  if (o.args.empty()) usage_error("no command given");
  return o;
}

class Api {
 public:
  explicit Api(const Options& o) : client_(o.url), token_(o.token) {
    client_.set_tcp_nodelay(true);
    client_.set_read_timeout(std::chrono::seconds(40));
    client_.set_connection_timeout(std::chrono::seconds(5));
  }
  json call(const std::string& method, const std::string& path, const json& body = nullptr) {
    httplib::Headers h;
    if (!token_.empty()) h.emplace("Authorization", "Bearer " + token_);
    auto r = method == "GET" ? client_.Get(path.c_str(), h) : client_.Post(path.c_str(), h, body.dump(), "application/json");
    if (!r) {
      std::cerr << "homectl: cannot reach the gateway: " << httplib::to_string(r.error()) << "\n";
      std::exit(1);
    }
    json j = json::parse(r->body, nullptr, false);
    if (r->status >= 400) {
      if (j.is_object() && j.contains("error")) {
        std::cerr << "homectl: " << r->status << " " << j["error"].value("code", "") << ": "
                  << j["error"].value("message", "") << " (request " << j["error"].value("request_id", "") << ")\n";
      } else {
        std::cerr << "homectl: HTTP " << r->status << "\n";
      }
      std::exit(1);
    }
    return j;
  }

 private:
  httplib::Client client_;
  std::string token_;
};

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      std::cout << r[i];
      if (i + 1 < r.size()) std::cout << std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
}

void print_fields(const json& j) {
  std::size_t w = 0;
  for (const auto& [k, v] : j.items()) w = std::max(w, k.size());
  for (const auto& [k, v] : j.items()) std::cout << k << std::string(w - k.size() + 2, ' ') << cell(v) << "\n";
}

int run(const Options& o) {
  Api api(o);
  const auto& cmd = o.args[0];
  auto need = [&](std::size_t n) {
    if (o.args.size() < n + 1) usage_error(cmd + " needs " + std::to_string(n) + " argument(s)");
  };
  if (cmd == "devices") {
    auto j = api.call("GET", "/api/v1/devices");
    if (o.json_out) return std::cout << j.dump(2) << "\n", 0;
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : j["devices"]) {
      rows.push_back({cell(d["id"]), cell(d["kind"]), cell(d["room"]), cell(d.value("online", json())), cell(d["name"])});
    }
    print_table({"ID", "KIND", "ROOM", "ONLINE", "NAME"}, rows);
  } else if (cmd == "device" || cmd == "state") {
    need(1);
    auto j = api.call("GET", "/api/v1/devices/" + o.args[1] + (cmd == "state" ? "/state" : ""));
    if (o.json_out) return std::cout << j.dump(2) << "\n", 0;
    print_fields(j);
  } else if (cmd == "health") {
    auto j = api.call("GET", "/api/v1/health");
    if (o.json_out) return std::cout << j.dump(2) << "\n", 0;
    print_fields(j);
  } else if (cmd == "sync") {
    if (o.args.size() > 1 && o.args[1] == "conflicts") {
      auto j = api.call("GET", "/api/v1/sync/conflicts");
      if (o.json_out) return std::cout << j.dump(2) << "\n", 0;
      std::vector<std::vector<std::string>> rows;
      for (const auto& c : j["conflicts"]) {
        rows.push_back({cell(c["device"]), cell(c["attribute"]), cell(c["local_value"]), cell(c["desired_value"]),
                        cell(c["resolution"]), cell(c["detail"])});
      }
      print_table({"DEVICE", "ATTRIBUTE", "LOCAL", "DESIRED", "RESOLUTION", "DETAIL"}, rows);
      return 0;
    }
    if (o.args.size() > 1) usage_error("sync: unknown subcommand '" + o.args[1] + "' (known: conflicts)");
    auto j = api.call("GET", "/api/v1/sync");
    if (o.json_out) return std::cout << j.dump(2) << "\n", 0;
    // The outbox object flattened, so the table shows depth/age/dropped on their own lines.
    if (j.contains("outbox")) {
      for (const auto& [k, v] : j["outbox"].items()) j["outbox_" + k] = v;
      j.erase("outbox");
    }
    print_fields(j);
  } else if (cmd == "command") {
    need(2);
    json body = {{"command", o.args[2]}, {"args", json::object()}};
    for (std::size_t i = 3; i < o.args.size(); ++i) {
      const auto eq = o.args[i].find('=');
      if (eq == std::string::npos || eq == 0) usage_error("command argument '" + o.args[i] + "': expected KEY=VALUE");
      const auto text = o.args[i].substr(eq + 1);
      json v = json::parse(text, nullptr, false);
      body["args"][o.args[i].substr(0, eq)] = v.is_discarded() ? json(text) : v;
    }
    if (o.expires) body["expires_in_s"] = *o.expires;
    // Waiting: one request that answers with the outcome (or the status so far after 30 s).
    json result = api.call("POST", "/api/v1/devices/" + o.args[1] + "/commands" + (o.wait ? "?wait_ms=30000" : ""), body);
    if (o.json_out) std::cout << result.dump(2) << "\n";
    else {
      std::cout << cell(result["command_id"]) << " " << cell(result["status"]);
      if (result.contains("reason") && !result["reason"].get<std::string>().empty()) std::cout << ": " << cell(result["reason"]);
      std::cout << "\n";
    }
    const auto status = result.value("status", "");
    return status == "failed" || status == "expired" ? 3 : 0;
  } else if (cmd == "apps") {
    auto j = api.call("GET", "/api/v1/apps");
    if (o.json_out) return std::cout << j.dump(2) << "\n", 0;
    std::vector<std::vector<std::string>> rows;
    for (const auto& a : j["apps"]) {
      std::string triggers;
      for (const auto& t : a["sensor_triggers"]) triggers += (triggers.empty() ? "" : ",") + cell(t);
      if (a.contains("every_s")) triggers += (triggers.empty() ? "every " : ",every ") + cell(a["every_s"]) + "s";
      std::string actuators;
      for (const auto& d : a["actuators"]) actuators += (actuators.empty() ? "" : ",") + cell(d);
      rows.push_back({cell(a["name"]), cell(a["origin"]), a["enabled"] == true ? "yes" : "no",
                      triggers.empty() ? "api" : triggers, actuators.empty() ? "-" : actuators});
    }
    print_table({"NAME", "ORIGIN", "ENABLED", "TRIGGERS", "ACTUATORS"}, rows);
  } else if (cmd == "runs") {
    std::string path = "/api/v1/transactuations?limit=" + std::to_string(o.limit);
    // Filters are app names and status words ([a-z0-9_-]); the server rejects anything else.
    if (!o.status.empty()) path += "&status=" + o.status;
    if (!o.app.empty()) path += "&app=" + o.app;
    auto j = api.call("GET", path);
    if (o.json_out) return std::cout << j.dump(2) << "\n", 0;
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : j["transactuations"]) {
      const auto took = t["finished_at"].get<long long>() > 0
                            ? std::to_string((t["finished_at"].get<long long>() - t["triggered_at"].get<long long>()) / 1000) + " ms"
                            : "-";
      rows.push_back({cell(t["id"]), cell(t["app"]), cell(t["status"]), cell(t["reason"]), took,
                      t["recovered"] == true ? "yes" : "", cell(t["detail"])});
    }
    print_table({"ID", "APP", "STATUS", "REASON", "TOOK", "RECOVERED", "DETAIL"}, rows);
  } else if (cmd == "run") {
    need(1);
    auto j = api.call("GET", "/api/v1/transactuations/" + o.args[1]);
    if (o.json_out) return std::cout << j.dump(2) << "\n", 0;
    print_fields({{"id", j["id"]}, {"app", j["app"]}, {"status", j["status"]}, {"reason", j["reason"]},
                  {"detail", j["detail"]}, {"trigger", j["trigger"]}, {"recovered", j["recovered"]},
                  {"timings", j.value("timings", json())}, {"state_writes", j["state_writes"]}});
    std::cout << "\nreadings:\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : j["readings"]) {
      rows.push_back({cell(r["device"]) + "." + cell(r["attribute"]), cell(r["value"]),
                      std::to_string(r["age"].get<long long>() / 1000) + " ms"});
    }
    print_table({"SENSOR", "VALUE", "AGE"}, rows);
    std::cout << "\nactuations:\n";
    rows.clear();
    for (const auto* list : {"actuations", "compensations"}) {
      for (const auto& a : j[list]) {
        rows.push_back({cell(a.value("device", json())), cell(a.value("command", json())), cell(a.value("cmd_id", json())),
                        cell(a.value("state", json())), cell(a.value("attempts", json())), cell(a.value("error", json())),
                        std::string(list) == "compensations" ? "compensation" : ""});
      }
    }
    print_table({"DEVICE", "COMMAND", "CMD_ID", "OUTCOME", "ATTEMPTS", "ERROR", ""}, rows);
  } else if (cmd == "watch") {
    std::vector<std::string> ids(o.args.begin() + 1, o.args.end());
    if (ids.empty()) {
      // Named: a range-for over a member of the temporary would iterate a destroyed object.
      const json listed = api.call("GET", "/api/v1/devices");
      for (const auto& d : listed["devices"]) ids.push_back(d["id"]);
    }
    std::map<std::string, std::pair<json, json>> last;  // id -> (version, online)
    long changes = 0;
    while (o.count < 0 || changes < o.count) {
      for (const auto& id : ids) {
        auto s = api.call("GET", "/api/v1/devices/" + id + "/state");
        auto key = std::make_pair(s["version"], s["online"]);
        auto it = last.find(id);
        if (it != last.end() && it->second == key) continue;
        last[id] = key;
        if (o.json_out) std::cout << s.dump() << "\n";
        else std::cout << id << " online=" << cell(s["online"]) << " v" << cell(s["version"]) << " " << cell(s["reported"])
                       << (s["stale"] == true ? " (stale: " + cell(s["stale_reason"]) + ")" : "") << "\n";
        std::cout.flush();
        if (++changes == o.count) break;
      }
      if (o.count >= 0 && changes >= o.count) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(o.interval_ms));  // poll interval
    }
  } else {
    usage_error("unknown command '" + cmd + "'");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // `homectl --cloud ...`: everything after --cloud belongs to the cloud admin commands.
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--cloud") {
      return homestead::gateway::run_cloud_command(std::vector<std::string>(argv + i + 1, argv + argc), std::cout,
                                                   std::cerr);
    }
  }
  return run(parse_args(argc, argv));
}
