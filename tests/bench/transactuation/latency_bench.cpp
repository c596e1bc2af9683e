#include "tests/bench/transactuation/latency_bench.h"

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "tests/bench/transactuation/sim_devices.h"
#include "tests/bench/transactuation/throughput_bench.h"
#include "transactuation/builtin_apps.h"
#include "transactuation/driver.h"
#include "transactuation/naive_apps.h"
#include "transactuation/sqlite_intent_log.h"

namespace homestead::transactuation::bench {

namespace {

using devices::Kind;

// 22:00 on day 0: night_auto_lock's 22:00-06:00 window then holds for the whole run (each of
// its trials skips at most kCheckEvery + kGapBetweenTrials + its devices, so up to ~2,000 trials).
constexpr Time kStartOfRun = 22 * 3600 * kSecond;
// Period of the periodic apps: longer than any failure-free run (fire_safety's slowest device
// takes 2.5 s), so a run never fires while the previous one still holds its devices; the
// defaults (1 and 10 minutes) would only stretch the skipped time.
constexpr Time kCheckEvery = 10 * kSecond;
// An app that runs longer than this (in skipped time) is stuck: a bug, not a sample.
constexpr Time kTrialLimit = 60 * kSecond;
// Time between trials: lets the group flush of outcome records happen off the clock.
constexpr Time kGapBetweenTrials = 1 * kSecond;
constexpr Time kOutcomeFlushInterval = 2 * kMillisecond;  // gatewayd's default

// What one trial of an app needs: the sensor readings and state that make it act, its
// trigger (a reading, or none for periodic apps, which fire on their own), and the state key
// whose write to true is its commit.
struct Scenario {
  std::string app;
  std::string commit_key;
  std::optional<SensorRef> trigger;  // set to true to trigger; none = periodic app
  std::vector<std::pair<SensorRef, Json>> readings;
  std::function<std::map<std::string, Json>(Time now)> state;
  std::function<AppDefinition()> transactuation;
  // Builds the naive app; its handler takes the trigger reading, or nullptr for a periodic tick.
  std::function<std::function<void(const Reading*)>(naive::NaiveHome&)> naive;
};

const SensorRef kHallMotion{"hall_motion", "motion"}, kLandingMotion{"landing_motion", "motion"};

apps::EnergySaverConfig energy_config() {
  apps::EnergySaverConfig c{{kHallMotion, kLandingMotion}, {"hall_light", "living_light", "bedroom_light"}, "thermostat"};
  c.idle = 10 * kSecond;
  c.check_every = kCheckEvery;
  return c;
}

apps::NightAutoLockConfig night_config() {
  apps::NightAutoLockConfig c;
  c.contacts = {{"front_door_contact", "open"}, {"back_door_contact", "open"}};
  c.locks = {"front_door_lock", "back_door_lock"};
  c.check_every = kCheckEvery;
  return c;
}

// Keeps a naive app alive inside the handler that drives it.
template <typename App, typename Config>
std::function<void(const Reading*)> drive(naive::NaiveHome& home, Config config) {
  auto app = std::make_shared<App>(home, std::move(config));
  if constexpr (requires { app->on_tick(); }) {
    return [app](const Reading*) { app->on_tick(); };
  } else {
    return [app](const Reading* reading) { app->on_reading(*reading); };
  }
}

Scenario scenario(const std::string& app) {
  const apps::IntrusionAlarmConfig intrusion{{kHallMotion, kLandingMotion}, "landing_strobe", "hall_siren"};
  const apps::FireSafetyConfig fire{{{"hall_smoke", "smoke"}, {"landing_smoke", "smoke"}, {"kitchen_smoke", "smoke"}},
                                    {"hall_siren", "landing_strobe"}, {"front_door_lock", "back_door_lock"}, "gas_valve"};
  const apps::ClimateGuardConfig climate{{{"living_window_contact", "open"}, {"bedroom_window_contact", "open"}},
                                         "thermostat"};
  if (app == "intrusion_alarm") {
    return {app, "alarmActive", kHallMotion, {{kLandingMotion, false}},
            [](Time) { return std::map<std::string, Json>{{"armed", true}, {"alarmActive", false}}; },
            [=] { return apps::intrusion_alarm(intrusion); },
            [=](naive::NaiveHome& home) { return drive<naive::IntrusionAlarm>(home, intrusion); }};
  }
  if (app == "fire_safety") {
    return {app, "fireAlarm", fire.detectors[0], {{fire.detectors[1], false}, {fire.detectors[2], false}},
            [](Time) { return std::map<std::string, Json>{{"fireAlarm", false}}; },
            [=] { return apps::fire_safety(fire); },
            [=](naive::NaiveHome& home) { return drive<naive::FireSafety>(home, fire); }};
  }
  if (app == "energy_saver") {
    const auto c = energy_config();
    return {app, "ecoMode", std::nullopt, {{kHallMotion, false}, {kLandingMotion, false}},
            [c](Time now) { return std::map<std::string, Json>{{"ecoMode", false}, {"lastOccupied", now - 2 * c.idle}}; },
            [=] { return apps::energy_saver(c); },
            [=](naive::NaiveHome& home) { return drive<naive::EnergySaver>(home, c); }};
  }
  if (app == "climate_guard") {
    return {app, "hvacBlocked", climate.windows[0], {{climate.windows[1], false}},
            [](Time) { return std::map<std::string, Json>{{"hvacBlocked", false}}; },
            [=] { return apps::climate_guard(climate); },
            [=](naive::NaiveHome& home) { return drive<naive::ClimateGuard>(home, climate); }};
  }
  if (app == "night_auto_lock") {
    const auto c = night_config();
    return {app, "nightLocked", std::nullopt, {{c.contacts[0], false}, {c.contacts[1], false}},
            [](Time) { return std::map<std::string, Json>{{"nightLocked", false}}; },
            [=] { return apps::night_auto_lock(c); },
            [=](naive::NaiveHome& home) { return drive<naive::NightAutoLock>(home, c); }};
  }
  throw std::invalid_argument("unknown built-in app '" + app + "'");
}

Reading reading_at(const SensorRef& ref, Json value, Time now) {
  return Reading{ref.device, ref.attribute, std::move(value), now, now};
}

// ---- the naive version: NaiveHome over the skipping clock and simulated devices ----

class NaiveRig : public naive::NaiveHome {
 public:
  explicit NaiveRig(const Scenario& s) : scenario_(s), app_(s.naive(*this)) {}

  Time run_trial(const TrialLatencies& latencies) {
    latencies_ = &latencies;
    const Time now = clock_.now();
    for (const auto& [ref, value] : scenario_.readings) readings_[ref] = reading_at(ref, value, now);
    store_ = scenario_.state(now);
    committed_at_.reset();
    const Time triggered = clock_.now();
    if (scenario_.trigger) {
      readings_[*scenario_.trigger] = reading_at(*scenario_.trigger, true, triggered);
      app_(&readings_.at(*scenario_.trigger));
    } else {
      app_(nullptr);
    }
    while (!committed_at_) {
      const auto next = events_.next();
      if (!next || *next - triggered > kTrialLimit) throw std::runtime_error("naive " + scenario_.app + " never committed");
      clock_.skip_to(*next);
      events_.run_due(clock_);
    }
    clock_.skip_to(clock_.now() + kGapBetweenTrials);
    events_.run_due(clock_);
    return *committed_at_ - triggered;
  }

  Time now() const override { return clock_.now(); }
  const Reading* latest(const SensorRef& sensor) const override {
    auto it = readings_.find(sensor);
    return it == readings_.end() ? nullptr : &it->second;
  }
  // One actuation per device at a time, as firmware-sim: a retry of the command the device is
  // still actuating does not start it again, the one ack answers the latest attempt.
  void send(const std::string& device, const std::string&, const Json&, Time timeout,
            std::function<void(bool ok)> done) override {
    const std::uint64_t attempt = ++attempts_;
    auto [it, first] = actuating_.try_emplace(device);
    it->second.attempt = attempt;
    it->second.done = std::move(done);
    if (first) {
      events_.at(clock_.now() + latencies_->at(device), [this, device] {
        auto node = actuating_.extract(device);
        if (node.mapped().done) node.mapped().done(true);
      });
    }
    events_.at(clock_.now() + timeout, [this, device, attempt] {
      auto it = actuating_.find(device);
      if (it == actuating_.end() || it->second.attempt != attempt || !it->second.done) return;
      auto failed = std::move(it->second.done);
      it->second.done = nullptr;
      failed(false);
    });
  }
  Json state(const std::string& key) const override {
    auto it = store_.find(key);
    return it == store_.end() ? Json() : it->second;
  }
  void set_state(const std::string& key, Json value) override {
    if (key == scenario_.commit_key && value == true && !committed_at_) committed_at_ = clock_.now();
    store_[key] = std::move(value);
  }

 private:
  struct Actuating {
    std::uint64_t attempt = 0;
    std::function<void(bool)> done;
  };
  const Scenario& scenario_;
  SkippingClock clock_{kStartOfRun};
  EventQueue events_;
  const TrialLatencies* latencies_ = nullptr;
  std::map<SensorRef, Reading> readings_;
  std::map<std::string, Json> store_;
  std::map<std::string, Actuating> actuating_;
  std::uint64_t attempts_ = 0;
  std::optional<Time> committed_at_;
  std::function<void(const Reading*)> app_;
};

// ---- the transactuation version: Runtime + Driver + SQLite intent log ----

// Times every sync of the real log, so the run reports the durable flush cost it paid itself
// rather than one measured at another moment on a disk that other work shares.
class TimedLog : public IntentLog {
 public:
  explicit TimedLog(IntentLog& inner) : inner_(inner) {}
  void append(const std::vector<LogRecord>& records) override {
    const Time start = steady_us();
    inner_.append(records);
    append_time += steady_us() - start;
  }
  void sync() override {
    const Time start = steady_us();
    inner_.sync();
    syncs.push_back(steady_us() - start);
    sync_time += syncs.back();
  }
  std::vector<LogRecord> load() override { return inner_.load(); }
  void prepare_append() override { inner_.prepare_append(); }
  std::vector<Time> syncs;
  Time append_time = 0, sync_time = 0;  // totals, microseconds

 private:
  IntentLog& inner_;
};

class TransactuationRig : public DeviceBus {
 public:
  TransactuationRig(const Scenario& s, const std::filesystem::path& db)
      : scenario_(s), log_((remove_database(db), db)),
        driver_(runtime_, timed_log_, *this, kOutcomeFlushInterval, [this](const TransactuationRecord& r) { finished(r); }) {
    runtime_.install(s.transactuation());
    // Puts the state each trial starts from in place, as a transactuation of its own.
    std::vector<std::string> keys;
    for (const auto& [key, value] : s.state(0)) keys.push_back(key);
    runtime_.install(AppBuilder("bench_setup").writes_state(keys).logic([](const LogicInput& in) {
      LogicResult result;
      for (const auto& [key, value] : in.trigger.at("payload").items()) result.state_writes[key] = value;
      return result;
    }).build());
  }

  Time run_trial(const TrialLatencies& latencies) {
    latencies_ = &latencies;
    committed_at_.reset();
    first_of_trial_ = runtime_.next_txn_id();
    for (const auto& [ref, value] : scenario_.readings) {
      input([&](Time now) { runtime_.on_reading(reading_at(ref, value, now), now); });
    }
    input([&](Time now) {
      Json state = Json::object();
      for (auto& [key, value] : scenario_.state(now)) state[key] = value;
      runtime_.trigger("bench_setup", state, now);
    });
    const Time begin = clock_.now();
    if (scenario_.trigger) {
      input([&](Time now) { runtime_.on_reading(reading_at(*scenario_.trigger, true, now), now); });
    }
    for (;;) {
      input([&](Time now) { runtime_.tick(now); });  // periodic apps fire here
      if (committed_at_) break;
      std::optional<Time> next = events_.next();
      const std::optional<Time> wake = driver_.next_wakeup();
      if (wake && (!next || *wake < *next)) next = wake;
      if (!next || *next - begin > kTrialLimit) throw std::runtime_error(scenario_.app + " never committed");
      clock_.skip_to(*next);
      events_.run_due(clock_);
    }
    const Stamp& start = started_.at(measured_);
    path_append_.push_back(committed_.append_time - start.append_time);
    path_sync_.push_back(committed_.sync_time - start.sync_time);
    path_core_.push_back(committed_.core_time - start.core_time);
    path_sync_count_.push_back(static_cast<int>(committed_.syncs - start.syncs));
    clock_.skip_to(clock_.now() + kGapBetweenTrials);
    driver_.flush_if_due(clock_.now());
    return committed_.time - start.time;
  }

  // Firmware-sim's cmd_id memory: a repeat while actuating is ignored (its one ack is
  // coming), a repeat of a finished command gets the earlier ack at once.
  void send(const Command& command) override {
    if (acked_.count(command.cmd_id)) {
      events_.at(clock_.now(), [this, command] { ack(command); });
    } else if (actuating_.insert(command.cmd_id).second) {
      events_.at(clock_.now() + latencies_->at(command.device), [this, command] {
        actuating_.erase(command.cmd_id);
        acked_.insert(command.cmd_id);
        ack(command);
      });
    }
  }
  void query(const StatusQuery&) override {}  // failure-free: no recovery, no status queries
  const std::vector<Time>& syncs() const { return timed_log_.syncs; }
  const std::vector<Time>& path_append() const { return path_append_; }
  const std::vector<Time>& path_sync() const { return path_sync_; }
  const std::vector<Time>& path_core() const { return path_core_; }
  const std::vector<int>& path_sync_count() const { return path_sync_count_; }

 private:
  void ack(const Command& command) {
    input([&](Time now) { runtime_.on_ack(Ack{command.device, command.cmd_id, true, ""}, now); });
  }
  // Every input to the runtime goes through here: the id the next transactuation will get is
  // stamped with the input's time, so whichever input starts it leaves its trigger time.
  void input(const std::function<void(Time)>& feed) {
    const Time now = clock_.now();
    started_[runtime_.next_txn_id()] = stamp(now);
    const Time core_start = steady_us();
    feed(now);
    core_time_ += steady_us() - core_start;
    driver_.pump(clock_.now());
  }
  void finished(const TransactuationRecord& record) {
    if (record.app == "bench_setup" && record.status != Status::committed) {
      throw std::runtime_error("bench_setup did not commit: " + record.detail);
    }
    // Only a run this trial started counts (a periodic run left over would be a bug here).
    if (record.app != scenario_.app || record.actuations.empty() || committed_at_ || record.id < first_of_trial_) return;
    if (record.status != Status::committed) {
      throw std::runtime_error(scenario_.app + " did not commit in a failure-free run: " + record.detail);
    }
    committed_at_ = clock_.now();
    committed_ = stamp(*committed_at_);
    measured_ = record.id;

  }

  // A moment of the run with the intent log's append/sync time spent up to it, so a trial
  // knows how much of its trigger -> commit time went to the log.
  struct Stamp {
    Time time = 0, append_time = 0, sync_time = 0, core_time = 0;
    std::size_t syncs = 0;
  };
  Stamp stamp(Time now) const {
    return Stamp{now, timed_log_.append_time, timed_log_.sync_time, core_time_, timed_log_.syncs.size()};
  }

  const Scenario& scenario_;
  SkippingClock clock_{kStartOfRun};
  EventQueue events_;
  const TrialLatencies* latencies_ = nullptr;
  std::set<std::string> actuating_, acked_;
  std::map<TxnId, Stamp> started_;
  Stamp committed_;
  std::optional<Time> committed_at_;
  TxnId measured_ = 0;
  TxnId first_of_trial_ = 0;
  std::vector<Time> path_append_, path_sync_, path_core_;
  std::vector<int> path_sync_count_;
  Time core_time_ = 0;  // total time inside the runtime's input calls
  SqliteIntentLog log_;
  TimedLog timed_log_{log_};
  Runtime runtime_;
  Driver driver_;
};

}  // namespace

const std::vector<std::string>& builtin_app_names() {
  static const std::vector<std::string> names = {"intrusion_alarm", "fire_safety", "energy_saver", "climate_guard",
                                                 "night_auto_lock"};
  return names;
}

const std::map<std::string, Kind>& home_actuators() {
  static const std::map<std::string, Kind> kinds = {
      {"landing_strobe", Kind::strobe},   {"hall_siren", Kind::siren},     {"front_door_lock", Kind::lock},
      {"back_door_lock", Kind::lock},     {"thermostat", Kind::thermostat}, {"hall_light", Kind::light},
      {"living_light", Kind::light},      {"bedroom_light", Kind::light},   {"gas_valve", Kind::water_valve}};
  return kinds;
}

LatencySamples measure_latency(const std::string& app, const std::vector<TrialLatencies>& latencies,
                               const std::filesystem::path& db) {
  const Scenario s = scenario(app);
  NaiveRig naive(s);
  TransactuationRig transactuation(s, db);
  LatencySamples samples;
  for (const auto& trial : latencies) {
    samples.naive.push_back(naive.run_trial(trial));
    samples.transactuation.push_back(transactuation.run_trial(trial));
  }
  samples.flushes = transactuation.syncs();
  samples.path_append = transactuation.path_append();
  samples.path_sync = transactuation.path_sync();
  samples.path_core = transactuation.path_core();
  samples.path_sync_count = transactuation.path_sync_count();
  return samples;
}

}  // namespace homestead::transactuation::bench
