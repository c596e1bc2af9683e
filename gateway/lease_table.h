// Which cloud leases this gateway holds on SHARED devices, and what to do next about them:
// the pure decision core behind LeaseManager (no clocks, threads or RPC inside: times come
// in, actions and outcomes go out).
//
//   use(device, waiter)   a command wants the device: granted at once while a lease is held
//                         and still valid locally, otherwise the waiter queues;
//   due(now)              what to send: an acquire for a device with waiters, a renewal
//                         (acquire again, same fencing token) every ttl/3 while the device is
//                         in use, a release once it has been idle for idle_release_ms;
//   on_reply / on_failed  the cloud's answer (or its absence) settles every queued waiter:
//                         granted (with the fencing token), lease_held_by:<holder>, or
//                         lease_unavailable;
//   expire(now)           waiters older than deadline_ms fail with lease_unavailable, so a
//                         slow cloud never holds a command for long.
//
// Local validity is conservative: a grant counts from when its request was SENT (the cloud
// starts the TTL later, when the entry applies), minus a tenth of the TTL for clock-rate
// drift, so this gateway stops using a lease before the cloud can hand it to another.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace homestead::gateway {

struct LeaseTiming {
  std::int64_t ttl_ms = 10000;
  std::int64_t deadline_ms = 2000;  // a waiter's longest wait for the cloud
  std::int64_t idle_release_ms = 20000;
};

struct LeaseAction {
  enum class Kind { acquire, release };
  Kind kind = Kind::acquire;
  std::string device;
};

struct LeaseOutcome {
  std::uint64_t waiter = 0;
  std::string device;
  bool granted = false;
  std::uint64_t fencing_token = 0;  // when granted
  std::string reason;               // when refused: lease_held_by:<gateway> | lease_unavailable
};

// The parts of sync_api::LeaseReply the decisions need.
struct LeaseAnswer {
  bool granted = false;
  std::string holder;
  std::uint64_t fencing_token = 0;
};

inline constexpr const char* kLeaseUnavailable = "lease_unavailable";
inline constexpr const char* kLeaseHeldByPrefix = "lease_held_by:";

class LeaseTable {
 public:
  explicit LeaseTable(LeaseTiming timing) : timing_(timing) {}

  // The fencing token when the lease is held and valid now (the waiter is then not queued);
  // nullopt when the waiter queues for the next acquire.
  std::optional<std::uint64_t> use(const std::string& device, std::uint64_t waiter, std::int64_t now_ms);
  // Requests to send now; each is marked in flight until on_reply/on_failed/on_released.
  std::vector<LeaseAction> due(std::int64_t now_ms);
  // The cloud's answer to the acquire for `device` sent at `sent_ms`.
  std::vector<LeaseOutcome> on_reply(const std::string& device, std::int64_t sent_ms, const LeaseAnswer& answer);
  // The acquire got no answer (cloud unreachable, timeout, refused call).
  std::vector<LeaseOutcome> on_failed(const std::string& device);
  void on_released(const std::string& device);
  std::vector<LeaseOutcome> expire(std::int64_t now_ms);

  bool holds(const std::string& device, std::int64_t now_ms) const;
  std::size_t held_count(std::int64_t now_ms) const;
  // Devices whose lease is still ours in the cloud (for a release at shutdown).
  std::vector<std::string> held_devices(std::int64_t now_ms) const;
  std::optional<std::uint64_t> token(const std::string& device, std::int64_t now_ms) const;

 private:
  struct Waiter {
    std::uint64_t id;
    std::int64_t deadline_ms;
  };
  struct Entry {
    bool held = false;
    std::uint64_t fencing_token = 0;
    std::int64_t granted_sent_ms = 0;  // send time of the acquire that last granted/renewed
    std::int64_t valid_until_ms = 0;
    std::int64_t last_used_ms = 0;
    bool in_flight = false;
    std::vector<Waiter> waiters;
  };
  bool valid(const Entry& e, std::int64_t now_ms) const { return e.held && now_ms < e.valid_until_ms; }
  static std::vector<LeaseOutcome> settle(const std::string& device, Entry& e, bool granted, std::uint64_t token,
                                          const std::string& reason);

  LeaseTiming timing_;
  std::map<std::string, Entry> entries_;
};

}  // namespace homestead::gateway
