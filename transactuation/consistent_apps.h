// Built-in apps hand-written "consistent WITHOUT transactuations" (issue 5): what a careful
// developer writes to get the transactuation versions' guarantees (builtin_apps.h) on a plain
// platform. Unlike naive_apps.h (kept for the latency comparison), each one here:
//   - checks every reading's freshness per its policy, after taking its devices' locks;
//   - takes per-device FIFO locks (DeviceLocks, shared by every hand-written app), so two apps
//     never interleave commands on one device;
//   - writes a durable intent note (its cmd_ids) before any command leaves;
//   - sends each command with a cmd_id the device remembers, retries with the same cmd_id and
//     writes state only after the acks its policy needs;
//   - after a crash (recover()), asks each device for the status of the noted cmd_ids - never
//     re-sends - and finishes the run from the answers.
// The shared plumbing sits between "// BEGIN-APP consistent_plumbing" markers in the .cpp so
// the benchmark can count it (a developer writing one app by hand writes it too).
// Not covered by them (the runtime does these): isolation on app-state keys shared with
// other apps, per-device seq fencing of a command still in flight, compensations.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "transactuation/naive_apps.h"

namespace homestead::transactuation::consistent {

// The platform services: NaiveHome plus idempotent commands, status queries and durable notes.
class ConsistentHome : public naive::NaiveHome {
 public:
  // One attempt of a command the device remembers by cmd_id (a repeat does not act again);
  // done(ok) once: the device's ack, or false after `timeout`.
  virtual void send_once(const std::string& device, const std::string& command, const Json& args,
                         const std::string& cmd_id, Time timeout, std::function<void(bool ok)> done) = 0;
  // What became of cmd_id; nullopt when the device did not answer within `timeout`.
  virtual void query(const std::string& device, const std::string& cmd_id, Time timeout,
                     std::function<void(std::optional<CommandStatus>)> done) = 0;
  // Durable notes: return once on disk.
  virtual void put_note(const std::string& key, Json note) = 0;
  virtual void erase_note(const std::string& key) = 0;
  virtual std::optional<Json> note(const std::string& key) const = 0;
};

// Per-device locks, all of a run's devices at once, granted in request order.
class DeviceLocks {
 public:
  void acquire(std::vector<std::string> devices, std::function<void()> granted);
  void release(const std::vector<std::string>& devices);
  bool held(const std::string& device) const { return held_.count(device) > 0; }

 private:
  void grant();
  struct Waiter {
    std::vector<std::string> devices;
    std::function<void()> granted;
  };
  std::set<std::string> held_;
  std::deque<Waiter> waiting_;
};

struct Step {
  std::string device;
  std::string command;
  Json args = Json::object();
};
using StepsDone = std::function<void(const std::vector<bool>& ok)>;

// Call with the steps' devices locked: notes the intent durably, sends every step (retrying
// with the same cmd_id), then done(ok per step), erases the note and releases the locks.
void run_steps(ConsistentHome& home, DeviceLocks& locks, const std::string& app, std::vector<Step> steps,
               Time timeout, int attempts, StepsDone done);
// After a restart: if `app` left a note, locks its devices, queries every cmd_id and finishes
// it like run_steps (unknown/unanswered = failed). False when there was nothing to recover.
bool recover_steps(ConsistentHome& home, DeviceLocks& locks, const std::string& app, int attempts, StepsDone done);

// What every hand-written app holds: the platform, the shared device locks and its config.
template <class Config>
class AppBase {
 public:
  AppBase(ConsistentHome& home, DeviceLocks& locks, Config config)
      : home_(home), locks_(locks), config_(std::move(config)) {}

 protected:
  ConsistentHome& home_;
  DeviceLocks& locks_;
  Config config_;
};

class IntrusionAlarm : public AppBase<apps::IntrusionAlarmConfig> {
 public:
  using AppBase::AppBase;
  void on_reading(const Reading& reading);
  void recover();  // once at start, before any reading

 private:
  void finish(const std::vector<bool>& ok);
};

class FireSafety : public AppBase<apps::FireSafetyConfig> {
 public:
  using AppBase::AppBase;
  void on_reading(const Reading& reading);
  void recover();

 private:
  std::vector<Step> steps() const;
  void finish(const std::vector<bool>& ok);
};

class ClimateGuard : public AppBase<apps::ClimateGuardConfig> {
 public:
  using AppBase::AppBase;
  void on_reading(const Reading& reading);
  void recover();

 private:
  void finish(const std::vector<bool>& ok);
};

class EnergySaver : public AppBase<apps::EnergySaverConfig> {
 public:
  using AppBase::AppBase;
  void on_tick();  // call every config.check_every
  void recover();

 private:
  void finish(const std::vector<bool>& ok);
};

class NightAutoLock : public AppBase<apps::NightAutoLockConfig> {
 public:
  NightAutoLock(ConsistentHome& home, DeviceLocks& locks, apps::NightAutoLockConfig config, Time utc_offset = 0)
      : AppBase(home, locks, std::move(config)), utc_offset_(utc_offset) {}
  void on_tick();  // call every config.check_every
  void recover();

 private:
  void finish(const std::vector<bool>& ok);
  Time utc_offset_;
};

}  // namespace homestead::transactuation::consistent
