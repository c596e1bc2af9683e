// The physical environment, deterministic from a seed: same seed, same sensor trace; the
// physics moves the right way; the home file's environment section is validated.
#include "firmware-sim/environment.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/support/seeds.h"

namespace homestead::firmware {
namespace {

const char* kHome = R"({
  "home": "t",
  "rooms": [{"id": "living", "floor": 0}, {"id": "hall", "floor": 0}, {"id": "bedroom", "floor": 1}],
  "devices": [
    {"id": "thermo", "kind": "thermostat", "room": "living", "initial_state": {"setpoint": 21, "mode": "heat"}, "sim": {"heats": ["living", "hall"]}},
    {"id": "living_t", "kind": "temperature", "room": "living", "initial_state": {"temperature": 15}},
    {"id": "bedroom_t", "kind": "temperature", "room": "bedroom", "initial_state": {"temperature": 15}},
    {"id": "opener", "kind": "window_opener", "room": "bedroom"},
    {"id": "window", "kind": "contact", "room": "bedroom", "sim": {"follows": "opener"}},
    {"id": "hall_motion", "kind": "motion", "room": "hall"},
    {"id": "lamp", "kind": "light", "room": "living", "sim": {"watts": 51}},
    {"id": "kettle", "kind": "plug", "room": "living", "sim": {"watts": 2000}},
    {"id": "meter", "kind": "power_meter", "room": "living", "sim": {"measures": ["lamp", "kettle"]}},
    {"id": "smoke", "kind": "smoke", "room": "hall"}
  ],
  "environment": {"outside_temperature_c": 5, "start_time": "06:00",
                  "occupancy": [{"room": "hall", "from": "07:00", "to": "08:00", "motion_per_hour": 60}],
                  "events": [{"at_s": 100, "device": "smoke", "event": "smoke", "duration_s": 50}]}
})";

struct World {
  explicit World(std::uint64_t seed, const std::string& text = kHome) : home(devices::parse_home(text, "t.json")), env(home, seed) {
    for (const auto& d : home.devices) actuators[d.id] = devices::starting_state(d);
  }
  // Runs to `sim_s`, recording every emitted (device, capability, value) with its time.
  void run_to(std::int64_t sim_s) {
    env.advance_to(
        sim_s * 1000, [&](const std::string& id) { return &actuators.at(id); },
        [&](const std::string& id, const std::string& cap, const nlohmann::json& v) {
          trace.push_back(std::to_string(env.sim_ms()) + " " + id + "." + cap + "=" + v.dump());
          last[id + "." + cap] = v;
          actuators[id][cap] = v;
        });
  }
  devices::Home home;
  Environment env;
  std::map<std::string, nlohmann::json> actuators;
  std::map<std::string, nlohmann::json> last;
  std::vector<std::string> trace;
};

TEST(Environment, SameSeedSameTraceDifferentSeedDifferentMotion) {
  testing::for_each_seed(5, [](std::uint64_t seed) {
    World a(seed), b(seed), c(seed + 1000);
    a.run_to(7200);  // through the 07:00-08:00 occupancy window
    b.run_to(7200);
    c.run_to(7200);
    EXPECT_EQ(a.trace, b.trace);
    EXPECT_NE(a.trace, c.trace);
  });
}

TEST(Environment, MotionOnlyInsideTheOccupancyWindow) {
  testing::for_each_seed(5, [](std::uint64_t seed) {
    World w(seed);
    w.run_to(9000);  // 06:00 .. 08:30; window 07:00-08:00 at 60/h
    int motions = 0;
    for (const auto& line : w.trace) {
      if (line.find("hall_motion.motion=true") == std::string::npos) continue;
      ++motions;
      const auto at_s = std::stoll(line) / 1000;
      EXPECT_GE(at_s, 3600) << line;
      EXPECT_LT(at_s, 7200) << line;
    }
    EXPECT_GT(motions, 10) << "about 60 events in the hour, merged by the 30 s hold";
  });
}

TEST(Environment, HeatingWarmsTheHeatedRoomsAndNotTheOthers) {
  World w(1);
  w.run_to(3600);
  EXPECT_GT(w.env.room_temperature("living"), 16.5);
  EXPECT_LT(w.env.room_temperature("bedroom"), 15.0) << "unheated, cooling toward 5 °C outside";
  EXPECT_EQ(w.last["living_t.temperature"], std::round(w.env.room_temperature("living") * 10) / 10);
  EXPECT_EQ(w.last["thermo.current_temperature"], w.last["living_t.temperature"]);
  w.actuators["thermo"]["mode"] = "off";
  const double warm = w.env.room_temperature("living");
  w.run_to(2 * 3600);
  EXPECT_LT(w.env.room_temperature("living"), warm);
}

TEST(Environment, AnOpenWindowCoolsFasterAndItsContactFollows) {
  World closed(1), open(1);
  open.actuators["opener"]["position"] = 100;
  closed.run_to(1800);
  open.run_to(1800);
  EXPECT_EQ(open.last["window.open"], true);
  EXPECT_EQ(closed.last.count("window.open"), 0u) << "never changed from closed";
  EXPECT_LT(open.env.room_temperature("bedroom"), closed.env.room_temperature("bedroom") - 1.0);
}

TEST(Environment, PowerMeterFollowsLoads) {
  World w(1);
  w.actuators["kettle"]["on"] = true;
  w.actuators["lamp"] = {{"on", true}, {"brightness", 255}};
  w.run_to(3600);
  EXPECT_EQ(w.last["meter.power"], 2051.0);
  EXPECT_NEAR(w.last["meter.energy"].get<double>(), 2.051, 0.002);
  w.actuators["kettle"]["on"] = false;
  w.run_to(3601);
  EXPECT_EQ(w.last["meter.power"], 51.0);
}

TEST(Environment, ScheduledEventsFireAndClear) {
  World w(1);
  w.run_to(99);
  EXPECT_EQ(w.last.count("smoke.smoke"), 0u);
  w.run_to(100);
  EXPECT_EQ(w.last["smoke.smoke"], true);
  w.run_to(150);
  EXPECT_EQ(w.last["smoke.smoke"], false);
}

TEST(Environment, BadSectionsAreNamed) {
  auto error_of = [](const std::string& from, const std::string& to) {
    std::string text = kHome;
    text.replace(text.find(from), from.size(), to);
    try {
      World w(1, text);
    } catch (const EnvironmentError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(R"("start_time": "06:00")", R"("start_time": "6am")"),
            "t.json: field 'environment.start_time': expected \"HH:MM\", got \"6am\"");
  EXPECT_NE(error_of(R"("room": "hall", "from")", R"("room": "attic", "from")").find("environment.occupancy[0].room"),
            std::string::npos);
  EXPECT_NE(error_of(R"("follows": "opener")", R"("follows": "lamp")").find("devices[4] (id 'window'): field 'devices[4].sim.follows'"),
            std::string::npos);
  EXPECT_NE(error_of(R"("watts": 51)", R"("wats": 51)").find("devices[6].sim.wats"), std::string::npos);
  EXPECT_NE(error_of(R"("device": "smoke", "event")", R"("device": "nope", "event")").find("environment.events[0].device"),
            std::string::npos);
}

TEST(Environment, TriggerRejectsEventsAKindDoesNotHave) {
  World w(1);
  EXPECT_THROW(w.env.trigger("lamp", "motion", [](auto&, auto&, auto&) {}), EnvironmentError);
  EXPECT_THROW(w.env.trigger("ghost", "smoke", [](auto&, auto&, auto&) {}), EnvironmentError);
}

}  // namespace
}  // namespace homestead::firmware
