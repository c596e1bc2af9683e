// `homectl --cloud snapshot ...`: live global snapshots of the cloud (issue 10;
// cloud/cloudd/snapshot_routes.h) from the command line. homectl_cloud.cpp parses the shared
// options (--cloud-url, --cloud-token-file, --json), owns the HTTP client and hands the words
// after "snapshot" here.
//
//   snapshot start            start one at the member asked, wait until it completes (long
//                             polls, 30 s at most; exit 1 if not) and show it
//   snapshot show ID          status, consistency, per-member state, per-channel cut and
//                             in-flight messages
//   snapshot list             ids recorded on the member asked
//
// Header-only on purpose: several test targets compile homectl_cloud.cpp from explicit
// source lists in other areas' CMakeLists; an extra .cpp would break their link.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace homestead::gateway {

// A malformed snapshot command line (the caller turns it into its usage error, exit 2).
class SnapshotUsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// One request to any cloud member; throws on HTTP errors (naming the API's error).
using CloudRequest = std::function<nlohmann::json(const std::string& method, const std::string& path)>;

namespace snapshot_cli {

inline std::string text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

inline void print_snapshot(std::ostream& out, const nlohmann::json& s) {
  const auto& consistency = s["consistency"];
  out << "snapshot " << text(s["id"]) << ": " << text(s["status"]) << ", "
      << (consistency.value("consistent", false) ? "consistent" : "NOT consistent") << ", "
      << text(consistency["in_flight_messages"]) << " messages in flight\n";
  for (const auto& v : consistency["violations"]) out << "  violation: " << text(v) << '\n';
  out << "PROCESS         COMPLETE  REVISION  KEYS  STATE_HASH        SYNC(applied_through)\n";
  for (const auto& [name, part] : s["participants"].items()) {
    std::string row = name;
    row.resize(std::max<std::size_t>(row.size() + 2, 16), ' ');
    std::string complete = part.value("complete", false) ? "yes" : "no";
    complete.resize(10, ' ');
    const auto& st = part["state"];
    std::string revision = text(st.value("revision", nlohmann::json("-")));
    revision.resize(std::max<std::size_t>(revision.size() + 2, 10), ' ');
    std::string keys = text(st.value("keys", nlohmann::json("-")));
    keys.resize(std::max<std::size_t>(keys.size() + 2, 6), ' ');
    std::string hash = text(st.value("state_hash", nlohmann::json("-")));
    hash.resize(std::max<std::size_t>(hash.size() + 2, 18), ' ');
    out << row << complete << revision << keys << hash << st.value("sync", nlohmann::json::object()).dump() << '\n';
  }
  out << "CHANNEL                 CLOSED  CUT_SEQ  BEFORE_CUT  IN_FLIGHT\n";
  for (const auto& c : s["channels"]) {
    std::string name = text(c["from"]) + " -> " + text(c["to"]);
    name.resize(std::max<std::size_t>(name.size() + 2, 24), ' ');
    std::string closed = c.value("closed", false) ? "yes" : "no";
    closed.resize(8, ' ');
    std::string cut = text(c["sender_cut_seq"]);
    cut.resize(std::max<std::size_t>(cut.size() + 2, 9), ' ');
    std::string before = text(c["received_before_cut"]);
    before.resize(std::max<std::size_t>(before.size() + 2, 12), ' ');
    out << name << closed << cut << before << c["in_flight"].size() << '\n';
    for (const auto& m : c["in_flight"]) {
      out << "    seq " << text(m["seq"]) << ": " << text(m["kind"]) << " (" << text(m["bytes"]) << " bytes)\n";
    }
  }
  if (!s["missing"].empty()) {
    for (const auto& [name, reason] : s["missing"].items()) out << "missing " << name << ": " << text(reason) << '\n';
  }
}

inline bool is_decimal(const std::string& id) {
  if (id.empty() || id.size() > 20) return false;
  for (char c : id) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace snapshot_cli

// `words` are the arguments after "snapshot". Returns the exit status (0 ok, 1 when a
// waited-for snapshot did not complete); throws SnapshotUsageError.
inline int run_snapshot_command(const std::vector<std::string>& words, bool json_out, const CloudRequest& request,
                                std::ostream& out) {
  using nlohmann::json;
  if (words.empty()) throw SnapshotUsageError("snapshot needs a command: start, show ID or list");
  const std::string& cmd = words[0];
  if (cmd == "start") {
    if (words.size() != 1) throw SnapshotUsageError("usage: homectl --cloud snapshot start");
    // Started and long-polled in one request (the member answers once the report is
    // complete, or after wait_ms with what it has); then more long polls, 30 s in all, each
    // well inside homectl's 10 s read timeout. A member from before the POST's wait_ms
    // answers 202 {id, initiator} at once.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    json snapshot = request("POST", "/api/v1/snapshots?wait_ms=5000");
    const std::string id = snapshot_cli::text(snapshot["id"]);
    if (!json_out) out << "started snapshot " << id << " at " << snapshot_cli::text(snapshot["initiator"]) << '\n';
    while (snapshot.value("status", "") != "complete" && std::chrono::steady_clock::now() < deadline) {
      const auto asked = std::chrono::steady_clock::now();
      snapshot = request("GET", "/api/v1/snapshots/" + id + "?wait_ms=5000");
      if (snapshot.value("status", "") == "complete") break;
      // A member from before the long poll answers at once: then a plain CLI poll.
      if (std::chrono::steady_clock::now() - asked < std::chrono::seconds(1)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    if (json_out) {
      out << snapshot.dump(2) << '\n';
    } else {
      snapshot_cli::print_snapshot(out, snapshot);
    }
    return snapshot.value("status", "") == "complete" ? 0 : 1;
  }
  if (cmd == "show") {
    if (words.size() != 2) throw SnapshotUsageError("usage: homectl --cloud snapshot show ID");
    if (!snapshot_cli::is_decimal(words[1])) {
      throw SnapshotUsageError("snapshot show: ID '" + words[1] + "' is not a decimal snapshot id");
    }
    const json snapshot = request("GET", "/api/v1/snapshots/" + words[1]);
    if (json_out) {
      out << snapshot.dump(2) << '\n';
    } else {
      snapshot_cli::print_snapshot(out, snapshot);
    }
    return 0;
  }
  if (cmd == "list") {
    if (words.size() != 1) throw SnapshotUsageError("usage: homectl --cloud snapshot list");
    const json list = request("GET", "/api/v1/snapshots");
    if (json_out) {
      out << list.dump(2) << '\n';
    } else {
      for (const auto& id : list["snapshots"]) out << snapshot_cli::text(id) << '\n';
    }
    return 0;
  }
  throw SnapshotUsageError("unknown snapshot command '" + cmd + "' (start, show ID, list)");
}

}  // namespace homestead::gateway
