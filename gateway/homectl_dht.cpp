#include "gateway/homectl_dht.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace homestead::gateway {
namespace {

using nlohmann::json;

std::string text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// A ring node as "<position>@<member>" (a member runs one or more positions).
std::string node_text(const json& node) {
  if (!node.is_object()) return "-";
  return text(node["id"]) + "@" + text(node["member"]);
}

void need(const std::vector<std::string>& words, std::size_t count, const char* synopsis) {
  if (words.size() != count + 1) throw DhtUsageError(std::string("usage: homectl --cloud dht ") + synopsis);
}

void print_path(std::ostream& out, const json& answer) {
  out << "path:";
  bool first = true;
  for (const auto& hop : answer["path"]) {
    out << (first ? " " : " -> ") << node_text(hop);
    first = false;
  }
  out << " (" << text(answer["hops"]) << " hops";
  if (answer.value("timeouts", 0) > 0) out << ", " << text(answer["timeouts"]) << " dead hops routed around";
  out << ")\n";
}

void print_ring(std::ostream& out, const json& ring) {
  out << "member " << text(ring["self"]["member"]) << ", group " << text(ring["group"]) << ", " << text(ring["bits"])
      << "-bit ring, " << (ring.value("joined", false) ? "joined" : "NOT joined") << ", tick " << text(ring["ticks"])
      << '\n';
  // One row per ring position this member runs (virtual nodes); older members report only "self".
  json positions = ring.contains("positions") ? ring["positions"] : json::array({ring});
  out << "POSITION        PREDECESSOR     SUCCESSORS\n";
  for (const auto& p : positions) {
    std::string successors;
    for (const auto& s : p["successors"]) {
      if (!successors.empty()) successors += ' ';
      successors += node_text(s);
    }
    std::string position = node_text(p["self"]);
    std::string predecessor = node_text(p["predecessor"]);
    position.resize(std::max<std::size_t>(position.size() + 2, 16), ' ');
    predecessor.resize(std::max<std::size_t>(predecessor.size() + 2, 16), ' ');
    out << position << predecessor << successors << '\n';
  }
  out << "known ring nodes (position@member, group):";
  for (const auto& m : ring["members"]) out << ' ' << node_text(m) << "/g" << text(m["group"]);
  out << '\n';
}

}  // namespace

int run_dht_command(const std::vector<std::string>& words, bool json_out, const CloudGet& get,
                    const PathEncoder& encode, std::ostream& out) {
  if (words.empty()) throw DhtUsageError("dht needs a command: ring, lookup KEY or home HOME_ID");
  const std::string& cmd = words[0];
  json answer;
  if (cmd == "ring") {
    need(words, 0, "ring");
    answer = get("/api/v1/dht/ring");
    if (!json_out) print_ring(out, answer);
  } else if (cmd == "lookup") {
    need(words, 1, "lookup KEY   (KEY: a decimal ring identifier; for a home use: dht home HOME_ID)");
    const std::string& key = words[1];
    const bool decimal = !key.empty() && key.size() <= 20 &&
                         std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!decimal) throw DhtUsageError("dht lookup: KEY '" + key + "' is not a decimal ring identifier");
    answer = get("/api/v1/dht/lookup/" + key + "?raw=true");
    if (!json_out) {
      out << "key " << text(answer["key"]) << " -> owner " << node_text(answer["owner"]) << ", group "
          << text(answer["group"]) << '\n';
      print_path(out, answer);
    }
  } else if (cmd == "home") {
    need(words, 1, "home HOME_ID");
    if (words[1].empty()) throw DhtUsageError("dht home: HOME_ID is empty");
    answer = get("/api/v1/dht/homes/" + encode(words[1]));
    if (!json_out) {
      out << "home " << text(answer["home"]) << " -> group " << text(answer["group"]) << " (ring key "
          << text(answer["key"]) << ", owner " << node_text(answer["owner"]) << ")\n";
      print_path(out, answer);
    }
  } else {
    throw DhtUsageError("dht: unknown command '" + cmd + "' (ring, lookup KEY, home HOME_ID)");
  }
  if (json_out) out << answer.dump(2) << '\n';
  return 0;
}

}  // namespace homestead::gateway
