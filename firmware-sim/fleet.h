// The MQTT adapter: runs every device of a home as its own Paho client (own client id,
// username and password, LWT "offline" on its status topic) and drives the pure Firmware
// cores and the Environment from one loop thread. Paho's threads only enqueue events; all
// firmware state is touched by the loop thread alone, and the control API reaches it
// through call().
//
// Up to kMaxConnecting connects are in flight at once: Paho only notices a new socket when
// its poll loop wakes (up to ~2 s when idle), so connecting one device at a time would take
// minutes for 500 devices. Sockets get TCP_NODELAY and are told apart via socket_tuning.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log/log.h"
#include "devices/home.h"
#include "firmware-sim/credentials.h"
#include "firmware-sim/environment.h"
#include "firmware-sim/firmware.h"
#include "firmware-sim/socket_tuning.h"

namespace mqtt {
class async_client;
}

namespace homestead::firmware {

struct FleetOptions {
  BrokerAddress broker;
  Credentials credentials;
  FirmwareSettings firmware;
  std::uint64_t seed = 1;
  double speed = 1.0;                       // environment time acceleration
  std::int64_t summary_interval_ms = 1000;  // 0: only on request
  std::int64_t keep_alive_s = 30;
};

struct FleetCounters {
  std::uint64_t published = 0;
  std::uint64_t publish_errors = 0;
  std::uint64_t commands_in = 0;
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t connections_lost = 0;
  std::uint64_t hard_cuts_failed = 0;
};

class Fleet {
 public:
  Fleet(const devices::Home& home, FleetOptions options);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // The loop; returns when `stop` becomes true, after publishing a retained "offline" for
  // every connected device and disconnecting cleanly.
  void run(const std::atomic<bool>& stop);

  // Runs fn(now_ms) on the loop thread and returns its result (from any other thread).
  template <class Fn>
  auto call(Fn fn) -> decltype(fn(std::int64_t{})) {
    using R = decltype(fn(std::int64_t{}));
    auto task = std::make_shared<std::packaged_task<R(std::int64_t)>>(std::move(fn));
    auto result = task->get_future();
    post([task](std::int64_t now) { (*task)(now); });
    return result.get();
  }
  // Asks the loop to print a summary line (safe from a signal handler).
  void request_summary() { summary_requested_.store(true); }

  // --- loop thread only (inside call()) ---
  Firmware* device(const std::string& id);
  std::vector<Firmware*> devices();
  Environment& environment() { return environment_; }
  // Runs an action that produced output for device `id` through the adapter (publish, cut).
  void deliver(const std::string& id, Output& out);
  void trigger(const std::string& id, const std::string& event, std::int64_t now);
  nlohmann::json summary(std::int64_t now) const;
  std::string summary_line(std::int64_t now) const;

 private:
  struct Slot;
  void post(std::function<void(std::int64_t)> event);
  void start_connect(std::size_t index, std::int64_t now);
  void on_connected(std::size_t index, std::int64_t now);
  void flush(std::size_t index, Output& out);
  void step_environment(std::int64_t now);
  void shutdown();

  const devices::Home& home_;
  FleetOptions options_;
  log::Logger log_{"firmware-sim"};
  Environment environment_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unordered_map<std::string, std::size_t> index_;
  static constexpr std::size_t kMaxConnecting = 64;
  std::size_t connecting_ = 0;
  std::int64_t started_ms_ = 0;
  std::int64_t next_environment_ = 0;
  std::int64_t next_summary_ = 0;
  FleetCounters counters_;
  FleetCounters last_summary_counters_;
  std::atomic<bool> summary_requested_{false};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void(std::int64_t)>> events_;
};

std::int64_t unix_ms();

}  // namespace homestead::firmware
