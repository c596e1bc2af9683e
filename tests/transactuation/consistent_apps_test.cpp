// The hand-written "consistent without transactuations" apps (consistent_apps.h): each keeps,
// in the scenario it guards, the guarantee its transactuation version gets from the runtime.
#include "transactuation/consistent_apps.h"

#include <gtest/gtest.h>

#include <map>

namespace homestead::transactuation::consistent {
namespace {

constexpr Time kStart = 1'000 * kSecond;

// Devices answer only when the test says so; notes and state live in maps ("disk").
class FakeHome : public ConsistentHome {
 public:
  struct Sent {
    std::string device, command, cmd_id;
    std::function<void(bool)> done;
  };
  struct Query {
    std::string device, cmd_id;
    std::function<void(std::optional<CommandStatus>)> done;
  };
  Time now_ = kStart;
  std::map<SensorRef, Reading> readings;
  std::map<std::string, Json> state_;
  std::map<std::string, Json> notes;
  std::vector<Sent> sent;
  std::vector<Query> queries;
  std::vector<bool> noted_at_send;  // per sent attempt: was its cmd_id in a durable note

  Time now() const override { return now_; }
  const Reading* latest(const SensorRef& s) const override {
    auto it = readings.find(s);
    return it == readings.end() ? nullptr : &it->second;
  }
  void send(const std::string&, const std::string&, const Json&, Time, std::function<void(bool)>) override {
    ADD_FAILURE() << "a consistent app must send with a cmd_id";
  }
  void send_once(const std::string& device, const std::string& command, const Json&, const std::string& cmd_id, Time,
                 std::function<void(bool)> done) override {
    // The note naming this cmd_id must be on "disk" before the command leaves.
    bool noted = false;
    for (const auto& [app, note] : notes) {
      for (const auto& step : note["steps"]) noted = noted || step["cmd_id"] == cmd_id;
    }
    noted_at_send.push_back(noted);
    sent.push_back({device, command, cmd_id, std::move(done)});
  }
  void query(const std::string& device, const std::string& cmd_id, Time,
             std::function<void(std::optional<CommandStatus>)> done) override {
    queries.push_back({device, cmd_id, std::move(done)});
  }
  Json state(const std::string& key) const override {
    auto it = state_.find(key);
    return it == state_.end() ? Json() : it->second;
  }
  void set_state(const std::string& key, Json value) override { state_[key] = std::move(value); }
  void put_note(const std::string& key, Json note) override { notes[key] = std::move(note); }
  void erase_note(const std::string& key) override { notes.erase(key); }
  std::optional<Json> note(const std::string& key) const override {
    auto it = notes.find(key);
    if (it == notes.end()) return std::nullopt;
    return it->second;
  }
  void reading(const std::string& device, const std::string& attr, Json value, Time age) {
    readings[{device, attr}] = Reading{device, attr, std::move(value), now_ - age, now_ - age};
  }
  // Answers the i-th sent command (acks are delivered asynchronously in reality).
  void ack(std::size_t i, bool ok) {
    auto done = std::move(sent.at(i).done);
    done(ok);
  }
};

const apps::IntrusionAlarmConfig kAlarm{{{"pir", "motion"}}, "strobe", "siren", 5 * kSecond};

struct AlarmFixture {
  FakeHome home;
  DeviceLocks locks;
  IntrusionAlarm app{home, locks, kAlarm};
  AlarmFixture() { home.state_["armed"] = true; }
  void motion(Time age) {
    home.reading("pir", "motion", true, age);
    app.on_reading(home.readings.at({"pir", "motion"}));
  }
};

TEST(ConsistentIntrusionAlarm, StaleMotionSendsNothing) {
  AlarmFixture f;
  f.motion(6 * kSecond);  // older than the 5 s freshness window
  EXPECT_TRUE(f.home.sent.empty());
  EXPECT_TRUE(f.home.notes.empty());
  EXPECT_FALSE(f.locks.held("strobe")) << "the locks are given back when nothing is done";
}

TEST(ConsistentIntrusionAlarm, LostStrobeAckWritesNoAlarmState) {
  AlarmFixture f;
  f.motion(kSecond);
  ASSERT_EQ(f.home.sent.size(), 2u);
  EXPECT_EQ(f.home.noted_at_send, (std::vector<bool>{true, true})) << "intent note durable before sending";
  const std::string strobe_id = f.home.sent[0].cmd_id;
  f.home.ack(1, true);  // siren ok
  f.home.ack(0, false);  // strobe timed out: retried with the same cmd_id
  ASSERT_EQ(f.home.sent.size(), 3u);
  EXPECT_EQ(f.home.sent[2].cmd_id, strobe_id);
  f.home.ack(2, false);
  f.home.ack(3 - 0, false);  // third and last attempt
  ASSERT_EQ(f.home.sent.size(), 4u);
  EXPECT_EQ(f.home.state("alarmActive"), Json()) << "the strobe never acked: no alarmActive";
  EXPECT_TRUE(f.home.notes.empty());
  EXPECT_FALSE(f.locks.held("strobe"));
}

TEST(ConsistentIntrusionAlarm, CrashRecoveryQueriesAndNeverResends) {
  AlarmFixture f;
  f.motion(kSecond);
  ASSERT_EQ(f.home.sent.size(), 2u);
  // The gateway dies with both commands in flight; a fresh process finds the note.
  FakeHome after;
  after.notes = f.home.notes;
  after.state_["armed"] = true;
  DeviceLocks locks;
  IntrusionAlarm app(after, locks, kAlarm);
  app.recover();
  EXPECT_TRUE(after.sent.empty()) << "recovery must not send a command again";
  ASSERT_EQ(after.queries.size(), 2u);
  EXPECT_EQ(after.queries[0].cmd_id, f.home.sent[0].cmd_id);
  EXPECT_TRUE(locks.held("strobe")) << "nobody else commands the devices until recovery is done";
  after.queries[0].done(CommandStatus::ok);       // the strobe acted before the crash
  after.queries[1].done(CommandStatus::unknown);  // the siren never got it
  EXPECT_EQ(after.state("alarmActive"), true);
  EXPECT_TRUE(after.notes.empty());
  EXPECT_FALSE(locks.held("strobe"));
}

TEST(ConsistentIntrusionAlarm, OtherAppOnTheSameDeviceWaitsForTheRun) {
  AlarmFixture f;
  bool other_ran = false;
  f.motion(kSecond);
  f.locks.acquire({"siren"}, [&] { other_ran = true; });
  EXPECT_FALSE(other_ran) << "the siren is still being commanded by the alarm";
  f.home.ack(0, true);
  f.home.ack(1, true);
  EXPECT_TRUE(other_ran);
  EXPECT_EQ(f.home.state("alarmActive"), true);
}

TEST(ConsistentFireSafety, SirenAckedClaimsFireAlarmEvenIfTheDoorsFail) {
  FakeHome home;
  DeviceLocks locks;
  FireSafety app(home, locks, {{{"smoke", "alarm"}}, {"siren"}, {"front_lock"}, "gas", 30 * kSecond});
  home.reading("smoke", "alarm", true, 40 * kSecond);  // stale: nothing
  app.on_reading(home.readings.at({"smoke", "alarm"}));
  EXPECT_TRUE(home.sent.empty());
  home.reading("smoke", "alarm", true, kSecond);
  app.on_reading(home.readings.at({"smoke", "alarm"}));
  ASSERT_EQ(home.sent.size(), 3u);
  EXPECT_EQ(home.sent[1].command, "unlock");
  home.ack(0, true);
  home.ack(2, true);
  for (int attempt = 0; attempt < 6; ++attempt) home.ack(home.sent.size() - 1 == 2 ? 1 : home.sent.size() - 1, false);
  EXPECT_EQ(home.sent.size(), 3u + 5u) << "the door lock was tried six times with one cmd_id";
  for (std::size_t i = 3; i < home.sent.size(); ++i) EXPECT_EQ(home.sent[i].cmd_id, home.sent[1].cmd_id);
  EXPECT_EQ(home.state("fireAlarm"), true);
}

TEST(ConsistentFireSafety, NoSirenAckedNoFireAlarm) {
  FakeHome home;
  DeviceLocks locks;
  FireSafety app(home, locks, {{{"smoke", "alarm"}}, {"siren"}, {}, "", 30 * kSecond});
  home.reading("smoke", "alarm", true, kSecond);
  app.on_reading(home.readings.at({"smoke", "alarm"}));
  for (int attempt = 0; attempt < 6; ++attempt) home.ack(home.sent.size() - 1, false);
  EXPECT_EQ(home.sent.size(), 6u);
  EXPECT_EQ(home.state("fireAlarm"), Json());
  EXPECT_TRUE(home.notes.empty());
}

TEST(ConsistentClimateGuard, WindowOpenBlocksHvacOnlyWithTheAck) {
  FakeHome home;
  DeviceLocks locks;
  ClimateGuard app(home, locks, {{{"window", "open"}}, "hvac", 10 * kSecond});
  home.reading("window", "open", true, 20 * kSecond);
  app.on_reading(home.readings.at({"window", "open"}));
  EXPECT_TRUE(home.sent.empty()) << "stale window contact";
  home.reading("window", "open", true, kSecond);
  app.on_reading(home.readings.at({"window", "open"}));
  ASSERT_EQ(home.sent.size(), 1u);
  for (int attempt = 0; attempt < 4; ++attempt) home.ack(home.sent.size() - 1, false);
  EXPECT_EQ(home.sent.size(), 4u);
  EXPECT_EQ(home.state("hvacBlocked"), Json());
  app.on_reading(home.readings.at({"window", "open"}));
  home.ack(home.sent.size() - 1, true);
  EXPECT_EQ(home.state("hvacBlocked"), true);
}

TEST(ConsistentEnergySaver, StaleOccupancySendsNothingAndLostAckWritesNoEcoMode) {
  FakeHome home;
  DeviceLocks locks;
  apps::EnergySaverConfig config{{{"occ1", "occupied"}, {"occ2", "occupied"}}, {"lamp"}, "thermostat"};
  config.idle = 60 * kSecond;
  EnergySaver app(home, locks, config);
  home.state_["lastOccupied"] = kStart - 10 * 60 * kSecond;  // idle long enough
  home.reading("occ1", "occupied", false, kSecond);
  home.reading("occ2", "occupied", false, 10 * 60 * kSecond);  // stale: the room may be occupied
  app.on_tick();
  EXPECT_TRUE(home.sent.empty());
  EXPECT_EQ(home.state("lastOccupied"), kStart - 10 * 60 * kSecond);
  EXPECT_FALSE(locks.held("lamp"));
  home.reading("occ2", "occupied", false, kSecond);
  app.on_tick();
  ASSERT_EQ(home.sent.size(), 2u);
  EXPECT_EQ(home.sent[1].command, "set_setpoint");
  home.ack(0, true);
  for (int attempt = 0; attempt < 3; ++attempt) home.ack(home.sent.size() - 1, false);  // thermostat never acks
  EXPECT_EQ(home.sent.size(), 4u);
  EXPECT_EQ(home.state("ecoMode"), Json()) << "ALL policy: no ecoMode without the thermostat";
  EXPECT_FALSE(locks.held("thermostat"));
}

TEST(ConsistentNightAutoLock, LocksClosedDoorsAndClaimsOnlyWhenEveryLockAcked) {
  FakeHome home;  // kStart is 00:16 UTC: inside 22:00-06:00
  DeviceLocks locks;
  NightAutoLock app(home, locks, {{{"front", "open"}, {"back", "open"}}, {"front_lock", "back_lock"}});
  home.reading("front", "open", false, kSecond);
  home.reading("back", "open", false, 20 * 60 * kSecond);  // stale
  app.on_tick();
  EXPECT_TRUE(home.sent.empty());
  home.reading("back", "open", false, kSecond);
  app.on_tick();
  ASSERT_EQ(home.sent.size(), 2u);
  home.ack(0, true);
  for (int attempt = 0; attempt < 4; ++attempt) home.ack(home.sent.size() - 1, false);  // back lock jammed
  EXPECT_EQ(home.state("nightLocked"), Json());
  app.on_tick();
  ASSERT_EQ(home.sent.size(), 7u);
  home.ack(5, true);
  home.ack(6, true);
  EXPECT_EQ(home.state("nightLocked"), true);
  EXPECT_NE(home.sent[5].cmd_id, home.sent[0].cmd_id) << "a new run has new cmd_ids";
}

}  // namespace
}  // namespace homestead::transactuation::consistent
