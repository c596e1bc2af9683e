// Test fixture: N real cloudd processes on 127.0.0.1, optionally with a FaultProxy on every
// directed peer link so a test can isolate a member. Starts, kill -9s and restarts members,
// and talks to them through their HTTP API with the shared bearer token.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/cloud/fault_proxy.h"
#include "tests/support/process.h"

namespace homestead::cloud_testing {

struct ClusterOptions {
  int members = 3;
  int voters = 0;                  // members 1..voters form the cluster; later ones start with "join" (0: all)
  bool proxies = false;            // route peer traffic through per-link FaultProxies
  std::uint64_t snapshot_entries = 10000;
  int tick_ms = 10;
  int election_ticks = 50;  // 0.5-1 s: ASan on a loaded 2-core machine stalls for 100s of ms
  int heartbeat_ticks = 3;
  bool lease_reads = false;        // config "lease_reads": linearizable reads by leader lease
  int request_timeout_ms = 3000;
  int dht_stabilize_ms = 100;  // each member's Chord tick (config "dht.stabilize_ms")
  int dht_virtual_nodes = 1;   // ring positions per member (config "dht.virtual_nodes")
  int http_threads = 32;  // each keep-alive connection holds one: raise for many clients
  int snapshot_marker_linger_ms = -1;  // config "snapshot_marker_linger_ms" (-1: not written, cloudd's default)
};

struct HttpAnswer {
  int status = 0;  // 0: no answer (connection failed or timed out)
  nlohmann::json body;
  std::string etag;  // the ETag header, if any
};

class CloudCluster {
 public:
  explicit CloudCluster(ClusterOptions options);
  ~CloudCluster();

  void start_all();
  void start(std::uint64_t id);
  void kill9(std::uint64_t id);
  void restart(std::uint64_t id) { start(id); }
  bool running(std::uint64_t id);
  // Cuts (or heals) every link to and from `id`.
  void isolate(std::uint64_t id, bool isolated);

  int http_port(std::uint64_t id) const { return http_ports_.at(id); }
  int peer_port(std::uint64_t id) const { return peer_ports_.at(id); }
  const std::string& token() const { return token_; }
  std::string log_tail(std::uint64_t id);
  std::string log(std::uint64_t id);
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::vector<std::uint64_t> ids() const;

  // One request with a fresh connection (tests that need keep-alive use their own client).
  HttpAnswer request(std::uint64_t id, const std::string& method, const std::string& path,
                     const nlohmann::json& body = nullptr, const httplib::Headers& extra = {});
  // The same on any running member, retried for up to 20 s while the answers mean "no
  // leader yet" (503) or no answer (0): admin calls that must ride out an election.
  HttpAnswer request_any(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr);
  std::optional<nlohmann::json> cluster_status(std::uint64_t id);
  // The leader as every running, reachable member reports it, once they agree; 0 on timeout.
  std::uint64_t wait_for_leader(std::chrono::milliseconds deadline, std::uint64_t not_this = 0);
  // Waits until every running member has applied the same index as the leader's commit.
  bool wait_converged(std::chrono::milliseconds deadline);

 private:
  std::string write_config(std::uint64_t id);

  ClusterOptions options_;
  testing::TempDir dir_{"cloudd-test"};
  std::string token_;
  std::map<std::uint64_t, int> http_ports_;
  std::map<std::uint64_t, int> peer_ports_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::unique_ptr<FaultProxy>> links_;  // (from, to)
  std::map<std::uint64_t, testing::ChildProcess> processes_;
  std::map<std::uint64_t, int> starts_;
};

// A client with one keep-alive connection to one member.
std::unique_ptr<httplib::Client> make_client(int port, const std::string& token, int timeout_ms = 3000);

}  // namespace homestead::cloud_testing
