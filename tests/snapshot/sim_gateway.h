// A simulated gateway for live-snapshot tests and the snapshot benchmark: a Sync client
// driving the gateway's own snapshot agent (gateway/snapshot_agent.*) the way gatewayd's
// sync client does (gateway/snapshot_channel.*), speaking MessagePack like gatewayd's stub.
// It pushes outbox batches to the leader as fast as the leader applies them (closed loop),
// stamps every Sync call, reads the cloud's stamp off every reply, sends the explicit marker
// Pulls and ships its finished parts. Not gatewayd: no broker or devices, so a test or
// benchmark can put two gateways under load beside three cloudd cheaply.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "gateway/snapshot_agent.h"
#include "tests/cloud/cloud_cluster.h"

namespace homestead::cloud_testing {

// Creates the home (once) and registers gateway `id` in it through the leader's admin API;
// returns the gateway's token. Throws std::runtime_error with the answer when refused.
std::string register_sim_gateway(CloudCluster& cluster, const std::string& home, const std::string& id);

class SimGateway {
 public:
  // Starts pushing at once; `items_per_push` outbox items per Push call.
  SimGateway(CloudCluster& cluster, std::string home, std::string id, std::string token, int items_per_push = 10);
  ~SimGateway();
  SimGateway(const SimGateway&) = delete;
  SimGateway& operator=(const SimGateway&) = delete;

  void stop();
  // Outbox items the cloud has applied (applied_through of the last Push reply).
  std::uint64_t applied() const { return applied_; }
  // Push calls the cloud answered, and their summed wall time (for the mean latency).
  std::uint64_t pushes() const { return pushes_; }
  std::uint64_t push_ns() const { return push_ns_; }
  // Finished snapshot parts POSTed, and carried on Sync requests (no request of their own).
  std::uint64_t parts_posted() const { return parts_posted_; }
  std::uint64_t parts_carried() const { return agent_.parts_carried(); }
  // The snapshot's work on this gateway's loop: explicit marker Pulls and part POSTs, and
  // the wall time they took (what a closed-loop gateway pays in throughput).
  std::uint64_t marker_pulls() const { return marker_pulls_; }
  std::uint64_t snapshot_work_ns() const { return snapshot_work_ns_; }
  const std::string& process() const { return agent_.process(); }
  std::string last_error() const;

 private:
  httplib::Client& client(const std::string& url);
  template <class Reply, class Request>
  std::optional<std::uint64_t> call(const std::string& url, const std::string& method, const Request& request,
                                    std::uint64_t push_last_seq);
  void pull(const std::string& url);
  void fail(std::string error);
  void run();

  CloudCluster& cluster_;
  std::string home_, id_, token_;
  int items_per_push_;
  gateway::GatewaySnapshotAgent agent_;
  std::map<std::string, std::unique_ptr<httplib::Client>> clients_;
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> pushes_{0};
  std::atomic<std::uint64_t> push_ns_{0};
  std::atomic<std::uint64_t> parts_posted_{0};
  std::chrono::steady_clock::time_point last_request_{};  // when the last Push left (run thread)
  std::atomic<std::uint64_t> marker_pulls_{0};
  std::atomic<std::uint64_t> snapshot_work_ns_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex error_mutex_;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace homestead::cloud_testing
