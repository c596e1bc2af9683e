// The built-in apps, transactuation and hand-written versions, each driven through a
// scenario with failures: the state they write must match the commands that were acked.
#include <gtest/gtest.h>

#include <deque>

#include "transactuation/builtin_apps.h"
#include "transactuation/naive_apps.h"
#include "transactuation/runtime.h"

namespace homestead::transactuation {
namespace {

constexpr Time kNight = (23 * 3600) * kSecond;  // 23:00 on day 0
constexpr Time kNoon = (12 * 3600) * kSecond;

struct Harness {
  Runtime runtime;
  std::vector<Command> sent;
  std::vector<TransactuationRecord> finished;
  void take() {
    Ready ready = runtime.take_ready();
    sent.insert(sent.end(), ready.commands.begin(), ready.commands.end());
    finished.insert(finished.end(), ready.finished.begin(), ready.finished.end());
  }
  // Acks every outstanding command; devices in `failing` refuse.
  void ack_all(Time now, const std::set<std::string>& failing = {}) {
    take();
    for (std::size_t i = 0; i < sent.size(); ++i) {
      const Command c = sent[i];
      runtime.on_ack(Ack{c.device, c.cmd_id, !failing.count(c.device), failing.count(c.device) ? "refused" : ""}, now);
      take();
    }
  }
  void set_state(const std::string& key, Json value, Time now) {
    runtime.install(AppBuilder("set_" + key).writes_state({key}).logic([key, value](const LogicInput&) {
      LogicResult result;
      result.state_writes[key] = value;
      return result;
    }).build());
    runtime.trigger("set_" + key, {}, now);
    take();
  }
  Json state(const std::string& key) const {
    auto it = runtime.state().find(key);
    return it == runtime.state().end() ? Json() : it->second;
  }
};

Reading at(const std::string& device, const std::string& attribute, Json value, Time when) {
  return Reading{device, attribute, std::move(value), when, when};
}

TEST(BuiltinApps, IntrusionAlarmClaimsAlarmActiveOnlyWithAnAckedStrobe) {
  Harness h;
  h.runtime.install(apps::intrusion_alarm({{{"pir", "motion"}}, "strobe", "siren"}));
  h.runtime.on_reading(at("pir", "motion", true, kNoon), kNoon);  // not armed: nothing
  h.take();
  EXPECT_TRUE(h.sent.empty());
  h.set_state("armed", true, kNoon);
  h.runtime.on_reading(at("pir", "motion", true, kNoon + 1), kNoon + 1);
  h.ack_all(kNoon + 2, {"strobe"});
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.finished.back().status, Status::committed);  // ANY: the siren sounded
  EXPECT_TRUE(h.state("alarmActive").is_null());           // but no strobe, so no claim
  h.runtime.on_reading(at("pir", "motion", true, kNoon + 3), kNoon + 3);
  h.ack_all(kNoon + 4);
  EXPECT_EQ(h.state("alarmActive"), true);
}

TEST(BuiltinApps, FireSafetyDoesAsMuchAsItCanAndClaimsWithASiren) {
  Harness h;
  h.runtime.install(apps::fire_safety({{{"smoke1", "alarm"}, {"co1", "alarm"}}, {"siren1", "siren2"}, {"front"}, "gas"}));
  h.runtime.on_reading(at("co1", "alarm", false, kNoon), kNoon);
  h.runtime.on_reading(at("smoke1", "alarm", true, kNoon), kNoon);
  h.ack_all(kNoon + 1, {"gas", "siren2"});
  ASSERT_EQ(h.sent.size(), 4u);
  EXPECT_EQ(h.sent[2].command, "unlock");
  EXPECT_EQ(h.finished.back().status, Status::committed_partial);
  EXPECT_EQ(h.state("fireAlarm"), true);
}

TEST(BuiltinApps, EnergySaverNeverActsOnAStaleOccupancySensor) {
  Harness h;
  apps::EnergySaverConfig config{{{"occ", "present"}}, {"lamp"}, "thermo", 10 * kSecond, kSecond, 5 * kSecond};
  h.runtime.install(apps::energy_saver(config));
  h.runtime.on_reading(at("occ", "present", true, kNoon), kNoon);
  h.runtime.tick(kNoon);
  h.runtime.tick(kNoon + kSecond);  // occupied: remember when
  h.take();
  EXPECT_EQ(h.state("lastOccupied"), kNoon + kSecond);
  h.runtime.on_reading(at("occ", "present", false, kNoon + 2 * kSecond), kNoon + 2 * kSecond);
  h.runtime.tick(kNoon + 20 * kSecond);  // idle long enough, but the reading is 18 s old
  h.take();
  EXPECT_TRUE(h.sent.empty());
  EXPECT_EQ(h.finished.back().reason, Reason::sensing);
  h.runtime.on_reading(at("occ", "present", false, kNoon + 21 * kSecond), kNoon + 21 * kSecond);
  h.runtime.tick(kNoon + 21 * kSecond);
  h.ack_all(kNoon + 22 * kSecond);
  ASSERT_EQ(h.sent.size(), 2u);
  // The thermostat gets a command its catalog entry accepts (set_setpoint in 5..30 C).
  EXPECT_EQ(h.sent[1].command, "set_setpoint");
  EXPECT_EQ(h.sent[1].args, (Json{{"setpoint", 17.0}}));
  EXPECT_EQ(h.state("ecoMode"), true);
}

TEST(BuiltinApps, ClimateGuardAndCoolDownCloseWindowsBeforeCooling) {
  Harness h;
  h.runtime.install(apps::climate_guard({{{"win", "open"}}, "hvac"}));
  h.runtime.install(apps::cool_down({"win-motor"}, "hvac"));
  h.runtime.on_reading(at("win", "open", true, kNoon), kNoon);
  h.take();
  ASSERT_EQ(h.sent.size(), 1u);
  // A command the thermostat's catalog entry accepts (it has no "off": off is a mode).
  EXPECT_EQ(h.sent[0].command, "set_mode");
  EXPECT_EQ(h.sent[0].args, (Json{{"mode", "off"}}));
  h.ack_all(kNoon + 1);
  EXPECT_EQ(h.state("hvacBlocked"), true);
  h.runtime.trigger("cool_down", {}, kNoon + 2);
  h.take();
  ASSERT_EQ(h.sent.size(), 2u);  // only the window, hvac waits for it
  EXPECT_EQ(h.sent[1].device, "win-motor");
  h.ack_all(kNoon + 3);
  ASSERT_EQ(h.sent.size(), 3u);
  EXPECT_EQ(h.sent[2].device, "hvac");
  h.ack_all(kNoon + 4);
  EXPECT_EQ(h.state("cooling"), true);
  EXPECT_EQ(h.state("hvacBlocked"), false);
}

TEST(BuiltinApps, NightAutoLockLocksOnlyClosedDoorsAtNight) {
  Harness h;
  apps::NightAutoLockConfig config;
  config.contacts = {{"door1", "open"}, {"door2", "open"}};
  config.locks = {"lock1", "lock2"};
  config.check_every = kSecond;
  h.runtime.install(apps::night_auto_lock(config));
  h.runtime.on_reading(at("door1", "open", false, kNoon), kNoon);
  h.runtime.on_reading(at("door2", "open", true, kNoon), kNoon);
  h.runtime.tick(kNoon);
  h.runtime.tick(kNoon + kSecond);
  h.take();
  EXPECT_EQ(h.finished.back().detail, "outside the time window 22:00-06:00");
  h.runtime.on_reading(at("door1", "open", false, kNight), kNight);
  h.runtime.on_reading(at("door2", "open", true, kNight), kNight);
  h.runtime.tick(kNight);
  h.ack_all(kNight + 1);
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0].device, "lock1");
  EXPECT_TRUE(h.state("nightLocked").is_null());  // door2 is open, so not every door is locked
}

// ---- the hand-written versions ----

class FakeHome : public naive::NaiveHome {
 public:
  Time clock = kNoon;
  std::map<SensorRef, Reading> readings;
  std::map<std::string, Json> store;
  struct Pending {
    std::string device, command;
    std::function<void(bool)> done;
  };
  std::deque<Pending> pending;
  std::vector<std::string> log;

  Time now() const override { return clock; }
  const Reading* latest(const SensorRef& sensor) const override {
    auto it = readings.find(sensor);
    return it == readings.end() ? nullptr : &it->second;
  }
  void send(const std::string& device, const std::string& command, const Json&, Time,
            std::function<void(bool)> done) override {
    log.push_back(device + " " + command);
    pending.push_back({device, command, std::move(done)});
  }
  Json state(const std::string& key) const override {
    auto it = store.find(key);
    return it == store.end() ? Json() : it->second;
  }
  void set_state(const std::string& key, Json value) override { store[key] = std::move(value); }
  void reading(const std::string& device, const std::string& attribute, Json value) {
    readings[{device, attribute}] = Reading{device, attribute, std::move(value), clock, clock};
  }
  // Answers outstanding attempts (and their retries) until none is left.
  void answer_all(const std::set<std::string>& failing = {}) {
    while (!pending.empty()) {
      Pending p = std::move(pending.front());
      pending.pop_front();
      p.done(!failing.count(p.device));
    }
  }
};

TEST(NaiveApps, IntrusionAlarmRetriesAndClaimsOnlyWithTheStrobe) {
  FakeHome home;
  naive::IntrusionAlarm app(home, {{{"pir", "motion"}}, "strobe", "siren"});
  home.store["armed"] = true;
  home.reading("pir", "motion", true);
  app.on_reading(home.readings.begin()->second);
  home.answer_all({"strobe"});
  EXPECT_EQ(std::count(home.log.begin(), home.log.end(), "strobe on"), 3);  // three attempts
  EXPECT_TRUE(home.state("alarmActive").is_null());
  app.on_reading(home.readings.begin()->second);
  home.answer_all();
  EXPECT_EQ(home.state("alarmActive"), true);
}

TEST(NaiveApps, FireSafetyEnergySaverClimateGuardNightLock) {
  FakeHome home;
  naive::FireSafety fire(home, {{{"smoke", "alarm"}}, {"siren"}, {"front"}, "gas"});
  home.reading("smoke", "alarm", true);
  fire.on_reading(home.readings.at({"smoke", "alarm"}));
  home.answer_all({"gas"});
  EXPECT_EQ(home.state("fireAlarm"), true);

  naive::EnergySaver energy(home, {{{"occ", "present"}}, {"lamp"}, "thermo", 10 * kSecond, kSecond, 5 * kSecond});
  home.reading("occ", "present", false);
  energy.on_tick();  // first sight: remember the time
  home.clock += 20 * kSecond;
  energy.on_tick();  // stale sensor: nothing
  EXPECT_TRUE(home.pending.empty());
  home.reading("occ", "present", false);
  energy.on_tick();
  home.answer_all();
  EXPECT_EQ(home.state("ecoMode"), true);

  naive::ClimateGuard guard(home, {{{"win", "open"}}, "hvac"});
  home.reading("win", "open", true);
  guard.on_reading(home.readings.at({"win", "open"}));
  home.answer_all({"hvac"});
  EXPECT_TRUE(home.state("hvacBlocked").is_null());

  apps::NightAutoLockConfig config;
  config.contacts = {{"door1", "open"}};
  config.locks = {"lock1"};
  naive::NightAutoLock night(home, config);
  home.clock = kNight;
  home.reading("door1", "open", false);
  night.on_tick();
  home.answer_all();
  EXPECT_EQ(home.state("nightLocked"), true);
}

}  // namespace
}  // namespace homestead::transactuation
