#include "gateway/lease_manager.h"

#include <algorithm>
#include <chrono>

#include "common/log/log.h"

namespace homestead::gateway {
namespace {

const log::Logger logger("lease");

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

LeaseManager::LeaseManager(std::string home, std::vector<std::string> shared_devices, LeaseTiming timing, Rpc rpc,
                           Metrics& metrics)
    : home_(std::move(home)),
      shared_(std::move(shared_devices)),
      timing_(timing),
      rpc_(std::move(rpc)),
      metrics_(metrics),
      table_(timing) {
  metrics_.set("homestead_leases_held", {}, 0);
}

LeaseManager::~LeaseManager() { stop(); }

LeaseManager::Rpc LeaseManager::through(SyncClient& sync) {
  Rpc rpc;
  rpc.acquire = [&sync](const std::string& name, std::uint32_t ttl_ms) -> std::optional<LeaseAnswer> {
    const auto reply = sync.acquire_lease(name, ttl_ms);
    if (!reply.ok()) {
      logger.warn("lease acquire failed", {{"lease", name}, {"error", reply.error().describe().substr(0, 200)}});
      return std::nullopt;
    }
    return LeaseAnswer{reply->granted, reply->holder, reply->fencing_token};
  };
  rpc.release = [&sync](const std::string& name) { (void)sync.release_lease(name); };
  return rpc;
}

bool LeaseManager::shared(const std::string& device) const {
  return std::find(shared_.begin(), shared_.end(), device) != shared_.end();
}

std::optional<std::uint64_t> LeaseManager::use(const std::string& device, Callback callback) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      const auto waiter = ++next_waiter_;
      if (auto token = table_.use(device, waiter, now_ms())) return token;
      callbacks_.emplace(waiter, std::move(callback));
      wake_.notify_all();
      return std::nullopt;
    }
  }
  // Shutting down: nothing would ever answer a queued waiter.
  metrics_.add("homestead_lease_refusals_total", "reason=\"lease_unavailable\"");
  callback(LeaseOutcome{0, device, false, 0, kLeaseUnavailable});
  return std::nullopt;
}

bool LeaseManager::holds(const std::string& device) {
  std::lock_guard lock(mutex_);
  return table_.holds(device, now_ms());
}

void LeaseManager::expire() {
  std::vector<LeaseOutcome> outcomes;
  {
    std::lock_guard lock(mutex_);
    outcomes = table_.expire(now_ms());
  }
  deliver(outcomes);
  update_gauge();
}

void LeaseManager::deliver(const std::vector<LeaseOutcome>& outcomes) {
  for (const auto& o : outcomes) {
    Callback callback;
    {
      std::lock_guard lock(mutex_);
      auto it = callbacks_.find(o.waiter);
      if (it == callbacks_.end()) continue;
      callback = std::move(it->second);
      callbacks_.erase(it);
    }
    if (!o.granted) {
      const bool held = o.reason.rfind(kLeaseHeldByPrefix, 0) == 0;
      metrics_.add("homestead_lease_refusals_total",
                   held ? "reason=\"lease_held_by\"" : "reason=\"lease_unavailable\"");
    }
    callback(o);
  }
}

void LeaseManager::update_gauge() {
  std::size_t held;
  {
    std::lock_guard lock(mutex_);
    held = table_.held_count(now_ms());
  }
  metrics_.set("homestead_leases_held", {}, static_cast<double>(held));
}

void LeaseManager::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || shared_.empty()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void LeaseManager::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto actions = table_.due(now_ms());
    lock.unlock();
    for (const auto& action : actions) {
      const auto name = lease_name(action.device);
      if (action.kind == LeaseAction::Kind::release) {
        rpc_.release(name);
        logger.info("lease released (idle)", {{"lease", name}});
        std::lock_guard relock(mutex_);
        table_.on_released(action.device);
        continue;
      }
      const auto sent = now_ms();
      const auto answer = rpc_.acquire(name, static_cast<std::uint32_t>(timing_.ttl_ms));
      std::vector<LeaseOutcome> outcomes;
      {
        std::lock_guard relock(mutex_);
        const bool was_held = table_.holds(action.device, now_ms());
        outcomes = answer ? table_.on_reply(action.device, sent, *answer) : table_.on_failed(action.device);
        if (answer && answer->granted && !was_held) {
          metrics_.add("homestead_lease_acquisitions_total");
          logger.info("lease acquired", {{"lease", name}, {"fencing_token", std::to_string(answer->fencing_token)}});
        }
      }
      deliver(outcomes);
    }
    update_gauge();
    lock.lock();
    // Renewals are due every ttl/3; 50 ms keeps new waiters' latency low without spinning.
    wake_.wait_for(lock, std::chrono::milliseconds(actions.empty() ? 50 : 0), [&] { return stopping_; });
  }
}

void LeaseManager::stop() {
  std::vector<std::string> held;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    held = table_.held_devices(now_ms());
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // A clean shutdown hands the devices over at once instead of after the TTL.
  for (const auto& device : held) {
    rpc_.release(lease_name(device));
    logger.info("lease released (shutdown)", {{"lease", lease_name(device)}});
  }
  std::vector<LeaseOutcome> outcomes;
  {
    std::lock_guard lock(mutex_);
    outcomes = table_.expire(INT64_MAX);
  }
  deliver(outcomes);
}

}  // namespace homestead::gateway
