// JSON app definitions: a full app runs through the runtime; every kind of mistake gives an
// error naming the exact field, and a bad file installs nothing.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "transactuation/json_app.h"

namespace homestead::transactuation {
namespace {

constexpr Time kNow = 1000 * kSecond;

const char* kIntrusion = R"({
  "name": "intrusion_alarm",
  "trigger": { "sensor": "motion-hall.motion", "when": "trigger.value == true" },
  "sensing": { "sensors": ["motion-hall.motion"], "freshness_s": 5, "require": "ALL" },
  "when": "state.armed == true && state.alarmActive != true",
  "actions": [
    { "device": "strobe", "command": "on", "args": { "pattern": "fast" },
      "compensation": { "command": "off" }, "on_success": { "alarmActive": "true" } },
    { "device": "siren", "command": "on", "if": "sensor.motion-hall.motion == true" }
  ],
  "state": { "alarmCount": "state.alarmCount + 1" },
  "actuating": { "require": "ANY", "timeout_s": 2, "retries": 1, "on_failure": "ABORT" }
})";

TEST(JsonApp, LoadsAndRunsThroughTheRuntime) {
  auto apps = load_apps_text(kIntrusion);
  ASSERT_EQ(apps.size(), 1u);
  const AppDefinition& app = apps[0];
  EXPECT_EQ(app.actuators, (std::vector<std::string>{"siren", "strobe"}));
  EXPECT_EQ(app.state_reads, (std::vector<std::string>{"alarmActive", "alarmCount", "armed"}));
  EXPECT_EQ(app.state_writes, (std::vector<std::string>{"alarmActive", "alarmCount"}));
  EXPECT_EQ(app.sensing.freshness, 5 * kSecond);
  EXPECT_EQ(app.actuating.require.mode, QuorumMode::any);

  Runtime runtime;
  install_all(runtime, std::move(apps));
  install_all(runtime, load_apps_text(R"({"name": "arm", "trigger": {"api": true},
                                          "state": {"armed": "true", "alarmCount": "0"}})"));
  runtime.trigger("arm", {}, kNow);
  EXPECT_EQ(runtime.take_ready().finished.at(0).status, Status::committed);

  runtime.on_reading(Reading{"motion-hall", "motion", true, kNow, kNow}, kNow);
  Ready ready = runtime.take_ready();
  ASSERT_EQ(ready.commands.size(), 2u);
  EXPECT_EQ(ready.commands[0].device, "strobe");
  EXPECT_EQ(ready.commands[0].args, (Json{{"pattern", "fast"}}));
  EXPECT_EQ(ready.commands[1].device, "siren");
  for (const auto& command : ready.commands) runtime.on_ack(Ack{command.device, command.cmd_id, true, ""}, kNow + 1);
  ready = runtime.take_ready();
  ASSERT_EQ(ready.finished.size(), 1u);
  EXPECT_EQ(ready.finished[0].status, Status::committed);
  EXPECT_EQ(runtime.state().at("alarmActive"), true);
  EXPECT_EQ(runtime.state().at("alarmCount"), 1.0);

  // Already active: the condition is false, nothing is sent.
  runtime.on_reading(Reading{"motion-hall", "motion", true, kNow + 2, kNow + 2}, kNow + 2);
  ready = runtime.take_ready();
  EXPECT_TRUE(ready.commands.empty());
  ASSERT_EQ(ready.finished.size(), 1u);
  EXPECT_EQ(ready.finished[0].detail, "condition is false");
}

TEST(JsonApp, ExpressionErrorAtRunTimeAbortsWithLogic) {
  Runtime runtime;
  install_all(runtime, load_apps_text(R"({"name": "count", "trigger": {"api": true},
      "actions": [{"device": "bell", "command": "ring"}], "state": {"c": "state.c + 1"}})"));
  runtime.trigger("count", {}, kNow);  // c is unset: null + 1
  Ready ready = runtime.take_ready();
  ASSERT_EQ(ready.finished.size(), 1u);
  EXPECT_EQ(ready.finished[0].reason, Reason::logic);
  EXPECT_EQ(ready.finished[0].detail, "logic failed: at character 9: '+' needs two numbers, got null and number");
  EXPECT_TRUE(ready.commands.empty());
}

TEST(JsonApp, CommitsStateOnlyWithAckedClaims) {
  Runtime runtime;
  install_all(runtime, load_apps_text(R"({
    "name": "arm", "trigger": { "api": true },
    "actions": [ { "device": "strobe", "command": "on", "on_success": { "alarmActive": "true" } },
                 { "device": "siren", "command": "on", "on_success": { "sirenOn": "true" } } ],
    "state": { "armed": "1 + 1 == 2" },
    "actuating": { "require": "ANY" }
  })"));
  runtime.trigger("arm", {}, kNow);
  Ready ready = runtime.take_ready();
  ASSERT_EQ(ready.commands.size(), 2u);
  EXPECT_TRUE(ready.sync);
  runtime.on_ack(Ack{"strobe", ready.commands[0].cmd_id, false, "no power"}, kNow + 1);
  runtime.on_ack(Ack{"siren", ready.commands[1].cmd_id, true, ""}, kNow + 1);
  ready = runtime.take_ready();
  ASSERT_EQ(ready.finished.size(), 1u);
  EXPECT_EQ(ready.finished[0].status, Status::committed);
  EXPECT_EQ(runtime.state().at("armed"), true);
  EXPECT_EQ(runtime.state().at("sirenOn"), true);
  EXPECT_EQ(runtime.state().count("alarmActive"), 0u);  // the strobe never acted
}

struct BadCase {
  const char* json;
  const char* field;
  const char* message;
};

TEST(JsonApp, EveryKindOfMistakeNamesTheField) {
  const BadCase cases[] = {
      {R"({"trigger":{"api":true},"actions":[{"device":"a","command":"on"}]})", "name", "missing"},
      {R"({"name":"x y","trigger":{"api":true},"actions":[{"device":"a","command":"on"}]})", "name", "may contain only"},
      {R"({"name":"x","actions":[{"device":"a","command":"on"}]})", "trigger", "missing"},
      {R"({"name":"x","trigger":{"api":true,"every_s":5},"actions":[{"device":"a","command":"on"}]})", "trigger", "exactly one"},
      {R"({"name":"x","trigger":{"every_s":0},"actions":[{"device":"a","command":"on"}]})", "trigger.every_s", "between"},
      {R"({"name":"x","trigger":{"sensor":"pir"},"actions":[{"device":"a","command":"on"}]})", "trigger.sensor", "<device>.<attribute>"},
      {R"({"name":"x","trigger":{"sensor":"p.m","when":"state.a"},"actions":[{"device":"a","command":"on"}]})", "trigger.when", "only use trigger"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on"}],"colour":"red"})", "colour", "unknown field"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on","arg":{}}]})", "actions[0].arg", "unknown field"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on"},{"command":"off"}]})", "actions[1].device", "missing"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on","args":[1]}]})", "actions[0].args", "expected an object"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on","if":"state.k >"}]})", "actions[0].if", "bad expression: at character 10: expression ends"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on","if":"sensor.t.v > 3"}]})", "actions[0].if", "not listed in sensing.sensors"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on","compensation":{}}]})", "actions[0].compensation.command", "missing"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on","on_success":{"k":"os.system"}}]})", "actions[0].on_success.k", "unknown reference"},
      {R"({"name":"x","trigger":{"api":true}})", "actions", "does nothing"},
      {R"({"name":"x","trigger":{"api":true},"state":{"k":"1 +"}})", "state.k", "bad expression"},
      {R"({"name":"x","trigger":{"api":true},"state":{"k":"1"},"sensing":{"sensors":["a.b","a.b"]}})", "sensing.sensors[1]", "twice"},
      {R"({"name":"x","trigger":{"api":true},"state":{"k":"1"},"sensing":{"sensors":["a.b"],"require":"AT_LEAST 2"}})", "sensing.require", "AT_LEAST 2 needs between 1 and 1"},
      {R"({"name":"x","trigger":{"api":true},"state":{"k":"1"},"sensing":{"sensors":["a.b"],"require":"NONE"}})", "sensing.require", "expected \"ALL\""},
      {R"({"name":"x","trigger":{"api":true},"state":{"k":"1"},"sensing":{"sensors":["a.b"],"tolerate_failed":1}})", "sensing.tolerate_failed", "below the number of sensors"},
      {R"({"name":"x","trigger":{"api":true},"state":{"k":"1"},"sensing":{"freshness_s":"5"}})", "sensing.freshness_s", "expected seconds"},
      {R"({"name":"x","trigger":{"api":true},"state":{"k":"1"},"sensing":{"window":{"from":"22:00","to":"25:00"}}})", "sensing.window.to", "HH:MM"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on"}],"actuating":{"require":"AT_LEAST 2"}})", "actuating.require", "only 1 action"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on"}],"actuating":{"on_failure":"IGNORE"}})", "actuating.on_failure", "ABORT"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on"}],"actuating":{"retries":-1}})", "actuating.retries", "between 0 and 100"},
      {R"({"name":"x","trigger":{"api":true},"actions":[{"device":"a","command":"on"}],"actuating":{"compensate":"yes"}})", "actuating.compensate", "true or false"},
      {R"([{"name":"x","trigger":{"api":true},"state":{"k":"1"}},{"name":"x","trigger":{"api":true},"state":{"k":"1"}}])", "[1].name", "appears twice"},
      {R"([{"name":"x","trigger":{"api":true},"state":{"k":"1"}},{"name":"y","trigger":{"api":true},"state":{"k":"1 +"}}])", "[1].state.k", "bad expression"},
  };
  for (const auto& c : cases) {
    try {
      load_apps_text(c.json);
      ADD_FAILURE() << "accepted: " << c.json;
    } catch (const AppError& e) {
      EXPECT_EQ(e.field(), c.field) << c.json << "\n  " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.json << "\n  " << e.what();
    }
  }
}

TEST(JsonApp, SyntaxErrorsGiveLineAndColumn) {
  try {
    load_apps_text("{\n  \"name\": \"x\",\n  \"trigger\" {}\n}");
    FAIL() << "accepted broken JSON";
  } catch (const AppError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3, column 13"), std::string::npos) << e.what();
  }
}

TEST(JsonApp, NothingIsHalfInstalled) {
  Runtime runtime;
  install_all(runtime, load_apps_text(R"({"name":"existing","trigger":{"api":true},"state":{"k":"1"}})"));
  // The second app of this file is bad: the first must not be installed either.
  EXPECT_THROW(install_all(runtime, load_apps_text(R"([
      {"name":"new_one","trigger":{"api":true},"state":{"k":"1"}},
      {"name":"broken","trigger":{"api":true},"state":{"k":"state."}}])")),
               AppError);
  // A name clash with an installed app rejects the whole batch too.
  EXPECT_THROW(install_all(runtime, load_apps_text(R"([
      {"name":"new_one","trigger":{"api":true},"state":{"k":"1"}},
      {"name":"existing","trigger":{"api":true},"state":{"k":"2"}}])")),
               AppError);
  EXPECT_EQ(runtime.app_names(), (std::vector<std::string>{"existing"}));
}

TEST(JsonApp, TriggerConditionFiltersSensorEvents) {
  Runtime runtime;
  install_all(runtime, load_apps_text(R"({
    "name": "hot", "trigger": { "sensor": "t.celsius", "when": "trigger.value > 30" },
    "state": { "hot": "true" }})"));
  runtime.on_reading(Reading{"t", "celsius", 25, kNow, kNow}, kNow);
  EXPECT_TRUE(runtime.take_ready().finished.empty());
  runtime.on_reading(Reading{"t", "celsius", "garbage", kNow, kNow}, kNow);  // type error: no trigger
  EXPECT_TRUE(runtime.take_ready().finished.empty());
  runtime.on_reading(Reading{"t", "celsius", 31, kNow, kNow}, kNow);
  EXPECT_EQ(runtime.take_ready().finished.size(), 1u);
  EXPECT_EQ(runtime.state().at("hot"), true);
}

}  // namespace
}  // namespace homestead::transactuation

namespace homestead::transactuation {
namespace {

// The JSON example in transactuation/README.md must stay a valid app.
TEST(JsonApp, ReadmeExampleLoads) {
  std::ifstream in(TRANSACTUATION_README);
  ASSERT_TRUE(in) << TRANSACTUATION_README;
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const auto start = readme.find("```json\n");
  ASSERT_NE(start, std::string::npos);
  const auto end = readme.find("```", start + 8);
  const auto apps = load_apps_text(readme.substr(start + 8, end - start - 8));
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].name, "intrusion_alarm");
  EXPECT_EQ(apps[0].actuators, (std::vector<std::string>{"siren", "strobe"}));
}

}  // namespace
}  // namespace homestead::transactuation
