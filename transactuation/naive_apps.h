// The built-in apps hand-written "consistent without transactuations": each checks sensor
// freshness itself, retries commands itself, writes state only after acks, and keeps a
// busy flag so it never overlaps itself. What they cannot do without a runtime: isolate
// themselves from OTHER apps on the same devices, survive a gateway crash mid-way, or make
// a lost command idempotent. They exist for comparison (lines of code, latency) with the
// transactuation versions in builtin_apps.h; the gateway does not run them by default.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "transactuation/builtin_apps.h"

namespace homestead::transactuation::naive {

// The services a hand-written app gets from the platform, as in Home Assistant-style hubs.
class NaiveHome {
 public:
  virtual ~NaiveHome() = default;
  virtual Time now() const = 0;
  virtual const Reading* latest(const SensorRef& sensor) const = 0;
  // One attempt; done(ok) is called once: the device's ack, or false after `timeout`.
  virtual void send(const std::string& device, const std::string& command, const Json& args, Time timeout,
                    std::function<void(bool ok)> done) = 0;
  virtual Json state(const std::string& key) const = 0;
  virtual void set_state(const std::string& key, Json value) = 0;
};

// Retries a command up to `attempts` times; shared plumbing, not counted per app.
void send_with_retries(NaiveHome& home, const std::string& device, const std::string& command, const Json& args,
                       Time timeout, int attempts, std::function<void(bool ok)> done);
// True when the reading exists, is not a failure and is at most `freshness` old.
bool fresh(const NaiveHome& home, const SensorRef& sensor, Time freshness);

class IntrusionAlarm {
 public:
  IntrusionAlarm(NaiveHome& home, apps::IntrusionAlarmConfig config) : home_(home), config_(std::move(config)) {}
  void on_reading(const Reading& reading);

 private:
  NaiveHome& home_;
  apps::IntrusionAlarmConfig config_;
  bool busy_ = false;
};

class FireSafety {
 public:
  FireSafety(NaiveHome& home, apps::FireSafetyConfig config) : home_(home), config_(std::move(config)) {}
  void on_reading(const Reading& reading);

 private:
  NaiveHome& home_;
  apps::FireSafetyConfig config_;
  bool busy_ = false;
};

class EnergySaver {
 public:
  EnergySaver(NaiveHome& home, apps::EnergySaverConfig config) : home_(home), config_(std::move(config)) {}
  void on_tick();  // call every config.check_every

 private:
  NaiveHome& home_;
  apps::EnergySaverConfig config_;
  bool busy_ = false;
};

class ClimateGuard {
 public:
  ClimateGuard(NaiveHome& home, apps::ClimateGuardConfig config) : home_(home), config_(std::move(config)) {}
  void on_reading(const Reading& reading);

 private:
  NaiveHome& home_;
  apps::ClimateGuardConfig config_;
  bool busy_ = false;
};

class NightAutoLock {
 public:
  NightAutoLock(NaiveHome& home, apps::NightAutoLockConfig config, Time utc_offset = 0)
      : home_(home), config_(std::move(config)), utc_offset_(utc_offset) {}
  void on_tick();  // call every config.check_every

 private:
  NaiveHome& home_;
  apps::NightAutoLockConfig config_;
  Time utc_offset_;
  bool busy_ = false;
};

}  // namespace homestead::transactuation::naive
