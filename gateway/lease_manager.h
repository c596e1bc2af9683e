// Cloud leases on SHARED devices (config cloud.shared_devices) for gatewayd: the adapter
// around LeaseTable. A command to a shared device asks use(); while this gateway holds the
// lease "home/<home>/device/<id>" the answer is the fencing token at once, otherwise the
// callback runs later on the lease thread with the outcome (granted + token, or refused with
// lease_held_by:<gateway> / lease_unavailable). Callers never wait on the RPC: the lease
// thread makes the Sync calls (AcquireLease/ReleaseLease through SyncClient), and expire(),
// called from the gateway's ticker, fails waiters past cloud.lease_deadline_ms even while an
// RPC is stuck. Leases in use are renewed every ttl/3; idle ones are released after
// 2 x ttl and all are released at stop().
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/lease_table.h"
#include "gateway/metrics.h"
#include "gateway/sync_client.h"

namespace homestead::gateway {

class LeaseManager {
 public:
  using Callback = std::function<void(const LeaseOutcome& outcome)>;
  // Acquire/release through the cloud; injectable for tests.
  struct Rpc {
    std::function<std::optional<LeaseAnswer>(const std::string& name, std::uint32_t ttl_ms)> acquire;
    std::function<void(const std::string& name)> release;
  };

  LeaseManager(std::string home, std::vector<std::string> shared_devices, LeaseTiming timing, Rpc rpc,
               Metrics& metrics);
  ~LeaseManager();
  LeaseManager(const LeaseManager&) = delete;
  LeaseManager& operator=(const LeaseManager&) = delete;

  // Through the sync client (its home and gateway id; its leader following).
  static Rpc through(SyncClient& sync);
  std::string lease_name(const std::string& device) const { return "home/" + home_ + "/device/" + device; }

  bool shared(const std::string& device) const;
  // The fencing token when the lease is held now (callback not kept); otherwise nullopt and
  // `callback` runs once, later, on another thread.
  std::optional<std::uint64_t> use(const std::string& device, Callback callback);
  bool holds(const std::string& device);
  // Fails waiters past their deadline (call periodically; cheap).
  void expire();

  void start();
  // Releases held leases (best effort) and fails every waiter with lease_unavailable.
  void stop();

 private:
  void run();
  void deliver(const std::vector<LeaseOutcome>& outcomes);
  void update_gauge();

  const std::string home_;
  const std::vector<std::string> shared_;
  const LeaseTiming timing_;
  Rpc rpc_;
  Metrics& metrics_;

  std::mutex mutex_;
  LeaseTable table_;
  std::map<std::uint64_t, Callback> callbacks_;
  std::uint64_t next_waiter_ = 0;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace homestead::gateway
