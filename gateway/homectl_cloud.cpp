#include "gateway/homectl_cloud.h"
#include "gateway/homectl_dht.h"
#include "gateway/homectl_snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace homestead::gateway {
namespace {

using nlohmann::json;

constexpr const char* kCloudUsage = R"(Usage: homectl --cloud [options] COMMAND [args]

Commands (cloud REST admin API):
  cluster                          Raft cluster status and members
  homes                            homes with gateway and device counts
  home-add ID [--name NAME]        create a home
  gateway-add HOME ID [--token-out FILE]
                                   register a gateway; prints its token ONCE
                                   (or writes it to FILE with mode 0600)
  gateways HOME                    gateways with sync position and last push
  gateway-remove HOME ID           revoke a gateway's token
  devices HOME                     devices with shadow versions and deltas
  shadow HOME DEV                  reported, desired, delta, version
  desired HOME DEV JSON [--if-match V]
                                   set desired attributes (null removes one)
  history HOME DEV [--limit N]     shadow changes, newest first
  audit HOME [--app A] [--outcome O] [--gateway G] [--since-ms T] [--until-ms T] [--limit N]
                                   transactuation records, newest first
  conflicts HOME                   conflict resolutions
  leases                           leases held now
  dht ring                         Chord ring view of the member asked
  dht lookup KEY                   owner and hop path of a decimal ring identifier
  dht home HOME_ID                 the Raft group owning a home (ring key, owner, path)
  snapshot start                   start a live global snapshot, show it once complete
  snapshot show ID                 its status, consistency, states and in-flight messages
  snapshot list                    snapshot ids recorded on the member asked

Options:
  --cloud-url URL[,URL...]   cloudd addresses (env CLOUD_URLS), e.g. http://10.0.0.2:8001
  --cloud-token-file FILE    the cloud admin token (env CLOUD_TOKEN_FILE)
  --json                     print the API's JSON instead of tables
  --help                     this text

Exit status: 0 ok, 1 request failed, 2 usage.
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RequestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CloudOptions {
  std::vector<std::string> urls;
  std::string token_file;
  bool json_out = false;
  std::map<std::string, std::string> flags;  // --name, --token-out, --if-match, --app, ...
  std::vector<std::string> words;
};

std::vector<std::string> split_urls(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && (item.back() == ' ' || item.back() == '/')) item.pop_back();
    if (item.empty()) continue;
    if (item.find("://") == std::string::npos) item = "http://" + item;
    out.push_back(item);
  }
  return out;
}

CloudOptions parse(const std::vector<std::string>& args) {
  static const char* kValued[] = {"--name",     "--token-out", "--if-match", "--app",   "--outcome",
                                  "--gateway",  "--since-ms",  "--until-ms", "--limit"};
  CloudOptions o;
  std::string urls = std::getenv("CLOUD_URLS") ? std::getenv("CLOUD_URLS") : "";
  o.token_file = std::getenv("CLOUD_TOKEN_FILE") ? std::getenv("CLOUD_TOKEN_FILE") : "";
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "--cloud-url") {
      urls = value();
    } else if (a == "--cloud-token-file") {
      o.token_file = value();
    } else if (a == "--json") {
      o.json_out = true;
    } else if (a.rfind("--", 0) == 0) {
      bool known = false;
      for (const char* flag : kValued) known = known || a == flag;
      if (!known) throw UsageError("unknown option " + a);
      o.flags[a.substr(2)] = value();
    } else {
      o.words.push_back(a);
    }
  }
  o.urls = split_urls(urls);
  return o;
}

std::string read_token(const std::string& path) {
  if (path.empty()) throw UsageError("no cloud token: set CLOUD_TOKEN_FILE or --cloud-token-file FILE");
  std::ifstream in(path);
  if (!in) throw RequestError("cannot read cloud token file " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\n')) line.pop_back();
  if (line.empty()) throw RequestError("cloud token file " + path + " is empty");
  return line;
}

// Percent-encodes a path segment or query value.
std::string encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class CloudClient {
 public:
  CloudClient(std::vector<std::string> urls, std::string token) : urls_(std::move(urls)), token_(std::move(token)) {
    if (urls_.empty()) throw UsageError("no cloud address: set CLOUD_URLS or --cloud-url URL");
  }

  // Tries each member in turn while the answer is "no connection" or 503 (not applied).
  json request(const std::string& method, const std::string& path, const json& body = nullptr,
               const httplib::Headers& extra = {}) {
    std::string last_error;
    for (const auto& url : urls_) {
      httplib::Client client(url);
      client.set_connection_timeout(1, 0);
      client.set_read_timeout(10, 0);
      client.set_bearer_token_auth(token_.c_str());
      const std::string text = body.is_null() ? std::string() : body.dump();
      httplib::Result result = [&] {
        if (method == "POST") return client.Post(path.c_str(), extra, text, "application/json");
        if (method == "PATCH") return client.Patch(path.c_str(), extra, text, "application/json");
        if (method == "DELETE") return client.Delete(path.c_str(), extra);
        return client.Get(path.c_str(), extra);
      }();
      if (!result) {
        last_error = url + ": " + httplib::to_string(result.error());
        continue;
      }
      json answer = json::parse(result->body, nullptr, false);
      if (result->status == 503) {
        last_error = url + ": 503 " + result->body;
        continue;
      }
      if (result->status >= 300) {
        std::string message = result->body;
        if (answer.is_object() && answer.contains("error")) {
          const json& e = answer["error"];
          message = e.is_object() ? e.value("code", std::string()) + ": " + e.value("message", std::string()) +
                                        (e.contains("current_version")
                                             ? " (current version " + e["current_version"].dump() + ")"
                                             : std::string())
                                  : e.dump();
        }
        throw RequestError(method + " " + path + ": HTTP " + std::to_string(result->status) + ": " + message);
      }
      if (answer.is_discarded()) throw RequestError(method + " " + path + ": answer is not JSON");
      return answer;
    }
    throw RequestError("no cloud member answered: " + last_error);
  }

 private:
  std::vector<std::string> urls_;
  std::string token_;
};

// Prints rows under a header, columns padded to the widest cell.
void table(std::ostream& out, const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      out << cells[c];
      if (c + 1 < cells.size()) out << std::string(width[c] - cells[c].size() + 2, ' ');
    }
    out << '\n';
  };
  line(header);
  for (const auto& row : rows) line(row);
}

std::string text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

void need(const CloudOptions& o, std::size_t count, const char* synopsis) {
  if (o.words.size() != count + 1) throw UsageError(std::string("usage: homectl --cloud ") + synopsis);
}

// Writes the token with mode 0600 from the start (never world-readable, not even briefly).
void write_secret(const std::string& path, const std::string& token) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw RequestError("cannot write " + path + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);  // an existing file keeps its mode through O_CREAT: force it
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw RequestError("cannot write " + path);
}

std::string query(const CloudOptions& o, std::initializer_list<std::pair<const char*, const char*>> names) {
  std::string q;
  for (const auto& [flag, param] : names) {
    const auto it = o.flags.find(flag);
    if (it == o.flags.end()) continue;
    // Appended piece by piece: g++ 12 -O3 reports a false -Wrestrict on "?" + std::string.
    q += q.empty() ? '?' : '&';
    q += param;
    q += '=';
    q += encode(it->second);
  }
  return q;
}

int run(const CloudOptions& o, std::ostream& out) {
  if (o.words.empty()) throw UsageError("a command is required");
  CloudClient cloud(o.urls, read_token(o.token_file));
  const std::string& cmd = o.words[0];
  auto home_path = [&] { return "/api/v1/homes/" + encode(o.words[1]); };
  auto print = [&](const json& answer, const std::function<void()>& as_table) {
    if (o.json_out) {
      out << answer.dump(2) << '\n';
    } else {
      as_table();
    }
    return 0;
  };

  if (cmd == "cluster") {
    need(o, 0, "cluster");
    const json c = cloud.request("GET", "/api/v1/cluster");
    return print(c, [&] {
      out << "member " << text(c["id"]) << " (" << text(c["role"]) << "), term " << text(c["term"]) << ", leader "
          << text(c["leader"]) << ", commit " << text(c["commit_index"]) << ", applied " << text(c["applied_index"])
          << '\n';
      std::vector<std::vector<std::string>> rows;
      for (const auto& m : c["members"]) {
        rows.push_back({text(m["id"]), text(m["role"]), text(m["http"]), text(m["peer"]),
                        m.value("is_leader", false) ? "leader" : "", m.contains("match_index") ? text(m["match_index"]) : ""});
      }
      table(out, {"ID", "ROLE", "HTTP", "PEER", "", "MATCH"}, rows);
    });
  }
  if (cmd == "homes") {
    need(o, 0, "homes");
    const json a = cloud.request("GET", "/api/v1/homes");
    return print(a, [&] {
      std::vector<std::vector<std::string>> rows;
      for (const auto& h : a["homes"]) {
        rows.push_back({text(h["id"]), text(h["name"]), text(h["gateways"]), text(h["devices"])});
      }
      table(out, {"ID", "NAME", "GATEWAYS", "DEVICES"}, rows);
    });
  }
  if (cmd == "home-add") {
    need(o, 1, "home-add ID [--name NAME]");
    json body{{"id", o.words[1]}};
    if (o.flags.count("name")) body["name"] = o.flags.at("name");
    const json a = cloud.request("POST", "/api/v1/homes", body);
    return print(a, [&] { out << "home " << text(a["id"]) << " created\n"; });
  }
  if (cmd == "gateway-add") {
    need(o, 2, "gateway-add HOME ID [--token-out FILE]");
    const json a = cloud.request("POST", home_path() + "/gateways", json{{"id", o.words[2]}});
    const std::string token = a.value("token", std::string());
    if (o.flags.count("token-out")) {
      write_secret(o.flags.at("token-out"), token);
      out << "gateway " << o.words[2] << " of home " << o.words[1] << " registered; token written to "
          << o.flags.at("token-out") << " (mode 0600)\n";
      return 0;
    }
    return print(a, [&] {
      out << "gateway " << o.words[2] << " of home " << o.words[1]
          << " registered. Its token (shown once, store it in the gateway's token_file):\n"
          << token << '\n';
    });
  }
  if (cmd == "gateway-remove") {
    need(o, 2, "gateway-remove HOME ID");
    const json a = cloud.request("DELETE", home_path() + "/gateways/" + encode(o.words[2]));
    return print(a, [&] { out << "gateway " << o.words[2] << " revoked\n"; });
  }
  if (cmd == "gateways") {
    need(o, 1, "gateways HOME");
    const json a = cloud.request("GET", home_path() + "/gateways");
    return print(a, [&] {
      std::vector<std::vector<std::string>> rows;
      for (const auto& g : a["gateways"]) {
        rows.push_back({text(g["id"]), text(g["applied_through"]), text(g["last_push_ms"]), text(g["items_applied"]),
                        text(g["duplicates"]), text(g["rejected"])});
      }
      table(out, {"ID", "APPLIED_THROUGH", "LAST_PUSH_MS", "ITEMS", "DUPLICATES", "REJECTED"}, rows);
    });
  }
  if (cmd == "devices") {
    need(o, 1, "devices HOME");
    const json a = cloud.request("GET", home_path() + "/devices");
    return print(a, [&] {
      std::vector<std::vector<std::string>> rows;
      for (const auto& d : a["devices"]) rows.push_back({text(d["id"]), text(d["type"]), text(d["version"]), d["delta"].dump()});
      table(out, {"ID", "TYPE", "VERSION", "DELTA"}, rows);
    });
  }
  if (cmd == "shadow") {
    need(o, 2, "shadow HOME DEV");
    const json a = cloud.request("GET", home_path() + "/devices/" + encode(o.words[2]) + "/shadow");
    out << a.dump(2) << '\n';
    return 0;
  }
  if (cmd == "desired") {
    need(o, 3, "desired HOME DEV JSON [--if-match V]");
    const json desired = json::parse(o.words[3], nullptr, false);
    if (desired.is_discarded() || !desired.is_object()) {
      throw UsageError("desired: JSON must be an object, e.g. '{\"setpoint\": 21}'");
    }
    httplib::Headers headers;
    if (o.flags.count("if-match")) {
      std::string tag(1, '"');
      tag += o.flags.at("if-match");
      tag += '"';
      headers.emplace("If-Match", tag);
    }
    const json a = cloud.request("PATCH", home_path() + "/devices/" + encode(o.words[2]) + "/shadow",
                                 json{{"desired", desired}}, headers);
    return print(a, [&] {
      out << "desired set; shadow version " << text(a["version"]) << ", delta " << a["delta"].dump() << '\n';
    });
  }
  if (cmd == "history") {
    need(o, 2, "history HOME DEV [--limit N]");
    const json a = cloud.request("GET", home_path() + "/devices/" + encode(o.words[2]) + "/history" +
                                            query(o, {{"limit", "limit"}}));
    return print(a, [&] {
      std::vector<std::vector<std::string>> rows;
      for (const auto& h : a["history"]) {
        rows.push_back({text(h["version"]), text(h["at_ms"]), text(h["source"]), text(h["gateway"]), text(h["seq"]),
                        h["change"].dump()});
      }
      table(out, {"VERSION", "AT_MS", "SOURCE", "GATEWAY", "SEQ", "CHANGE"}, rows);
    });
  }
  if (cmd == "audit") {
    need(o, 1, "audit HOME [--app A] [--outcome O] [--limit N]");
    const json a = cloud.request("GET", home_path() + "/audit" +
                                            query(o, {{"app", "app"},
                                                      {"outcome", "outcome"},
                                                      {"gateway", "gateway"},
                                                      {"since-ms", "since_ms"},
                                                      {"until-ms", "until_ms"},
                                                      {"limit", "limit"}}));
    return print(a, [&] {
      std::vector<std::vector<std::string>> rows;
      for (const auto& r : a["records"]) {
        rows.push_back({text(r["gateway"]), text(r["seq"]), text(r["at_ms"]), text(r["app"]), text(r["outcome"]),
                        r["record"].contains("id") ? text(r["record"]["id"]) : ""});
      }
      table(out, {"GATEWAY", "SEQ", "AT_MS", "APP", "OUTCOME", "ID"}, rows);
    });
  }
  if (cmd == "conflicts") {
    need(o, 1, "conflicts HOME");
    const json a = cloud.request("GET", home_path() + "/conflicts");
    return print(a, [&] {
      std::vector<std::vector<std::string>> rows;
      for (const auto& c : a["conflicts"]) {
        const json& b = c["conflict"];
        rows.push_back({text(c["gateway"]), text(c["seq"]), text(c["device"]), b.value("attribute", std::string()),
                        b.value("resolution", std::string()), b.contains("local_value") ? b["local_value"].dump() : "",
                        b.contains("desired_value") ? b["desired_value"].dump() : ""});
      }
      table(out, {"GATEWAY", "SEQ", "DEVICE", "ATTRIBUTE", "RESOLUTION", "LOCAL", "DESIRED"}, rows);
    });
  }
  if (cmd == "leases") {
    need(o, 0, "leases");
    const json a = cloud.request("GET", "/api/v1/leases");
    return print(a, [&] {
      std::vector<std::vector<std::string>> rows;
      for (const auto& l : a["leases"]) {
        rows.push_back({text(l["name"]), text(l["home"]), text(l["holder"]), text(l["expires_at_ms"]),
                        text(l["fencing_token"])});
      }
      table(out, {"NAME", "HOME", "HOLDER", "EXPIRES_AT_MS", "FENCING"}, rows);
    });
  }
  if (cmd == "dht") {  // gateway/homectl_dht.cpp
    try {
      return run_dht_command({o.words.begin() + 1, o.words.end()}, o.json_out,
                             [&](const std::string& path) { return cloud.request("GET", path); }, encode, out);
    } catch (const DhtUsageError& e) {
      throw UsageError(e.what());
    }
  }
  if (cmd == "snapshot") {  // gateway/homectl_snapshot.h
    try {
      return run_snapshot_command({o.words.begin() + 1, o.words.end()}, o.json_out,
                                  [&](const std::string& method, const std::string& path) {
                                    return cloud.request(method, path);
                                  },
                                  out);
    } catch (const SnapshotUsageError& e) {
      throw UsageError(e.what());
    }
  }
  throw UsageError("unknown command '" + cmd + "'");
}

}  // namespace

const char* cloud_usage() { return kCloudUsage; }

int run_cloud_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      out << kCloudUsage;
      return 0;
    }
  }
  try {
    return run(parse(args), out);
  } catch (const UsageError& e) {
    err << "homectl --cloud: " << e.what() << "\n(see homectl --cloud --help)\n";
    return 2;
  } catch (const RequestError& e) {
    err << "homectl --cloud: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace homestead::gateway
