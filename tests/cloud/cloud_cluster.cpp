#include "tests/cloud/cloud_cluster.h"

#include <fstream>
#include <stdexcept>

namespace homestead::cloud_testing {

using nlohmann::json;
using namespace std::chrono_literals;

std::unique_ptr<httplib::Client> make_client(int port, const std::string& token, int timeout_ms) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_tcp_nodelay(true);
  client->set_keep_alive(true);
  client->set_connection_timeout(0, 300 * 1000);
  client->set_read_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
  client->set_write_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
  client->set_bearer_token_auth(token.c_str());
  return client;
}

CloudCluster::CloudCluster(ClusterOptions options) : options_(options) {
  token_ = "test-token-0123456789abcdef";
  for (const auto& [name, secret] : {std::pair{"token", token_}, std::pair{"cluster-secret", std::string("test-secret-42")}}) {
    std::ofstream out(dir_ / name);
    out << secret << "\n";
    std::filesystem::permissions(dir_ / name, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  for (int i = 1; i <= options_.members; ++i) {
    http_ports_[i] = testing::free_tcp_port();
    peer_ports_[i] = testing::free_tcp_port();
  }
  if (options_.proxies) {
    for (int from = 1; from <= options_.members; ++from) {
      for (int to = 1; to <= options_.members; ++to) {
        if (from != to) links_[{from, to}] = std::make_unique<FaultProxy>(peer_ports_[to]);
      }
    }
  }
}

CloudCluster::~CloudCluster() {
  for (auto& [id, process] : processes_) {
    if (process.running()) process.kill9();
  }
}

std::vector<std::uint64_t> CloudCluster::ids() const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, port] : http_ports_) out.push_back(id);
  return out;
}

std::string CloudCluster::write_config(std::uint64_t id) {
  const std::uint64_t voters = options_.voters == 0 ? options_.members : options_.voters;
  const bool joiner = id > voters;
  json members = json::array();
  for (const auto& [other, port] : peer_ports_) {
    if (!joiner && other > voters) continue;  // the initial configuration; joiners are added later
    const int peer = other == id || !options_.proxies ? port : links_.at({id, other})->port();
    members.push_back({{"id", other},
                       {"peer", "127.0.0.1:" + std::to_string(peer)},
                       {"http", "127.0.0.1:" + std::to_string(http_ports_.at(other))}});
  }
  json config{{"id", id},
                    {"data_dir", (dir_ / ("node" + std::to_string(id))).string()},
                    {"http_listen", "127.0.0.1:" + std::to_string(http_ports_.at(id))},
                    {"peer_listen", "127.0.0.1:" + std::to_string(peer_ports_.at(id))},
                    {"members", members},
                    {"join", joiner},
                    {"token_file", (dir_ / "token").string()},
                    {"cluster_secret_file", (dir_ / "cluster-secret").string()},
                    {"tick_ms", options_.tick_ms},
                    {"election_ticks", options_.election_ticks},
                    {"heartbeat_ticks", options_.heartbeat_ticks},
                    {"lease_reads", options_.lease_reads},
                    {"snapshot_entries", options_.snapshot_entries},
                    {"request_timeout_ms", options_.request_timeout_ms},
                    {"http_threads", options_.http_threads},
                    {"dht", {{"stabilize_ms", options_.dht_stabilize_ms}, {"virtual_nodes", options_.dht_virtual_nodes}}}};
  if (options_.snapshot_marker_linger_ms >= 0) config["snapshot_marker_linger_ms"] = options_.snapshot_marker_linger_ms;
  const auto path = dir_ / ("node" + std::to_string(id) + ".json");
  std::ofstream(path) << config.dump(2);
  return path.string();
}

void CloudCluster::start_all() {
  for (const auto& [id, port] : http_ports_) start(id);
}

void CloudCluster::start(std::uint64_t id) {
  testing::ProcessOptions options;
  options.executable = testing::build_path("cloud/cloudd/cloudd").string();
  options.args = {"--config", write_config(id)};
  options.log_file = dir_ / ("node" + std::to_string(id) + "." + std::to_string(++starts_[id]) + ".log");
  processes_[id] = testing::ChildProcess(options);
  if (!processes_[id].wait_for_port(http_ports_.at(id), 20s)) {
    throw std::runtime_error("cloudd " + std::to_string(id) + " did not start:\n" + processes_[id].log_tail());
  }
}

void CloudCluster::kill9(std::uint64_t id) { processes_.at(id).kill9(); }

bool CloudCluster::running(std::uint64_t id) {
  auto it = processes_.find(id);
  return it != processes_.end() && it->second.running();
}

void CloudCluster::isolate(std::uint64_t id, bool isolated) {
  for (auto& [link, proxy] : links_) {
    if (link.first == id || link.second == id) proxy->set_blocked(isolated);
  }
}

std::string CloudCluster::log_tail(std::uint64_t id) { return processes_.at(id).log_tail(); }
std::string CloudCluster::log(std::uint64_t id) { return processes_.at(id).log(); }

HttpAnswer CloudCluster::request_any(const std::string& method, const std::string& path, const json& body) {
  HttpAnswer answer;
  testing::wait_until(
      [&] {
        for (auto id : ids()) {
          if (!running(id)) continue;
          answer = request(id, method, path, body);
          if (answer.status != 503 && answer.status != 0) return true;
        }
        return false;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  return answer;
}

HttpAnswer CloudCluster::request(std::uint64_t id, const std::string& method, const std::string& path,
                                 const json& body, const httplib::Headers& extra) {
  auto client = make_client(http_ports_.at(id), token_, options_.request_timeout_ms + 2000);
  const std::string text = body.is_null() ? std::string() : body.dump();
  httplib::Result result = [&] {
    if (method == "PUT") return client->Put(path.c_str(), extra, text, "application/json");
    if (method == "POST") return client->Post(path.c_str(), extra, text, "application/json");
    if (method == "PATCH") return client->Patch(path.c_str(), extra, text, "application/json");
    if (method == "DELETE") return client->Delete(path.c_str(), extra);
    return client->Get(path.c_str(), extra);
  }();
  HttpAnswer answer;
  if (!result) return answer;
  answer.status = result->status;
  answer.etag = result->get_header_value("ETag");
  answer.body = json::parse(result->body, nullptr, false);
  return answer;
}

std::optional<json> CloudCluster::cluster_status(std::uint64_t id) {
  if (!running(id)) return std::nullopt;
  const HttpAnswer a = request(id, "GET", "/api/v1/cluster");
  if (a.status != 200) return std::nullopt;
  return a.body;
}

std::uint64_t CloudCluster::wait_for_leader(std::chrono::milliseconds deadline, std::uint64_t not_this) {
  std::uint64_t leader = 0;
  testing::wait_until(
      [&] {
        std::uint64_t seen = 0;
        for (auto id : ids()) {
          if (!running(id)) continue;
          const auto st = cluster_status(id);
          if (!st) return false;
          const std::uint64_t l = (*st)["leader"].get<std::uint64_t>();
          if (l == 0 || l == not_this || (seen != 0 && l != seen)) return false;
          seen = l;
        }
        // The leader must say so itself (a stale follower view is not enough).
        const auto own = cluster_status(seen);
        if (!own || (*own)["role"] != "leader") return false;
        leader = seen;
        return true;
      },
      deadline, 20ms);
  return leader;
}

bool CloudCluster::wait_converged(std::chrono::milliseconds deadline) {
  return testing::wait_until(
      [&] {
        std::optional<std::uint64_t> applied;
        for (auto id : ids()) {
          if (!running(id)) continue;
          const auto st = cluster_status(id);
          if (!st) return false;
          const auto a = (*st)["applied_index"].get<std::uint64_t>();
          if ((*st)["commit_index"].get<std::uint64_t>() != a) return false;
          if (applied && *applied != a) return false;
          applied = a;
        }
        return applied.has_value();
      },
      deadline, 20ms);
}

}  // namespace homestead::cloud_testing
