// Unit tests of the gateway's transactuation adapters: the MQTT device bus (topics, payloads,
// catalog command names, refusals), the mapping of device acks and status answers back to the
// runtime, state reports as readings, and the built-in app / config parsing errors.
#include <gtest/gtest.h>

#include "common/config/config.h"
#include "devices/catalog.h"
#include "gateway/builtin_app_config.h"
#include "gateway/config.h"
#include "gateway/transactuation_bus.h"

namespace {

using namespace homestead;
using nlohmann::json;
namespace tx = homestead::transactuation;

struct Bus {
  std::vector<std::pair<std::string, json>> published;
  std::vector<tx::Ack> refused;
  gateway::MqttDeviceBus bus{"h",
                             [](const std::string& device) -> const devices::KindInfo* {
                               if (device == "strobe1") return &devices::kind_info(devices::Kind::strobe);
                               if (device == "lock1") return &devices::kind_info(devices::Kind::lock);
                               return nullptr;
                             },
                             [this](const std::string& topic, const std::string& payload) {
                               published.emplace_back(topic, json::parse(payload));
                               return true;
                             },
                             [this](const tx::Ack& ack) { refused.push_back(ack); }};
};

TEST(MqttDeviceBus, SendsCatalogCommandsOnTheDeviceCmdTopic) {
  Bus b;
  b.bus.send(tx::Command{"strobe1", "on", json(), "4294967297.0", 1, 4294967297});
  b.bus.send(tx::Command{"lock1", "lock", json::object(), "4294967297.1", 1, 4294967297});
  ASSERT_EQ(b.published.size(), 2u);
  EXPECT_EQ(b.published[0].first, "homestead/h/strobe1/cmd");
  EXPECT_EQ(b.published[0].second, (json{{"cmd_id", "4294967297.0"}, {"command", "turn_on"}, {"args", json::object()}}));
  EXPECT_EQ(b.published[1].second["command"], "lock");
  EXPECT_TRUE(b.refused.empty());
}

TEST(MqttDeviceBus, RefusesWhatTheKindCannotTakeWithoutPublishing) {
  Bus b;
  b.bus.send(tx::Command{"lock1", "set_mode", {{"mode", "eco"}}, "7.0", 1, 7});
  b.bus.send(tx::Command{"ghost", "on", json(), "7.1", 1, 7});
  EXPECT_TRUE(b.published.empty());
  ASSERT_EQ(b.refused.size(), 2u);
  EXPECT_EQ(b.refused[0].cmd_id, "7.0");
  EXPECT_FALSE(b.refused[0].ok);
  EXPECT_NE(b.refused[0].reason.find("field 'command'"), std::string::npos) << b.refused[0].reason;
  EXPECT_NE(b.refused[1].reason.find("unknown device 'ghost'"), std::string::npos) << b.refused[1].reason;
}

TEST(MqttDeviceBus, StatusQueriesGetFreshIdsAndNameTheCommand) {
  Bus b;
  b.bus.query(tx::StatusQuery{"lock1", "9.0", 3});
  b.bus.query(tx::StatusQuery{"lock1", "9.0", 3});
  ASSERT_EQ(b.published.size(), 2u);
  EXPECT_EQ(b.published[0].second["command"], "status");
  EXPECT_EQ(b.published[0].second["args"], (json{{"cmd_id", "9.0"}}));
  EXPECT_NE(b.published[0].second["cmd_id"], b.published[1].second["cmd_id"]);
  EXPECT_TRUE(gateway::is_status_query_id(b.published[0].second["cmd_id"]));
}

TEST(AnswerFromAck, MapsAcksAndStatusAnswers) {
  devices::Ack ok{"12.0", true, "", json::object(), 0, std::nullopt};
  auto a = gateway::answer_from_ack("lock1", ok);
  ASSERT_TRUE(a && a->ack);
  EXPECT_EQ(a->ack->cmd_id, "12.0");
  EXPECT_TRUE(a->ack->ok);
  // A REST command's ack is not the runtime's.
  EXPECT_FALSE(gateway::answer_from_ack("lock1", devices::Ack{"c0a1b2", true, "", json::object(), 0, std::nullopt}));

  devices::Ack done{"q1-12.0", true, "", json::object(), 0,
                    devices::StatusOf{"12.0", devices::CommandOutcome::done, {{"result", "error"}, {"reason", "jammed"}}}};
  a = gateway::answer_from_ack("lock1", done);
  ASSERT_TRUE(a && a->status);
  EXPECT_EQ(a->status->status, tx::CommandStatus::error);
  EXPECT_EQ(a->status->reason, "jammed");

  auto unknown = done;
  unknown.status_of = devices::StatusOf{"12.0", devices::CommandOutcome::unknown, nullptr};
  a = gateway::answer_from_ack("lock1", unknown);
  ASSERT_TRUE(a && a->status);
  EXPECT_EQ(a->status->status, tx::CommandStatus::unknown);

  auto pending = done;
  pending.status_of = devices::StatusOf{"12.0", devices::CommandOutcome::pending, nullptr};
  a = gateway::answer_from_ack("lock1", pending);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->status);  // asked again after the runtime's timeout
  EXPECT_FALSE(a->ack);
}

TEST(ReadingsFromReport, OneReadingPerCapabilityInMicroseconds) {
  const auto readings = gateway::readings_from_report("pir", {{"motion", true}}, 1000, 1002);
  ASSERT_EQ(readings.size(), 1u);
  EXPECT_EQ(readings[0].ref(), (tx::SensorRef{"pir", "motion"}));
  EXPECT_EQ(readings[0].value, true);
  EXPECT_EQ(readings[0].device_time, 1000 * tx::kMillisecond);
  EXPECT_EQ(readings[0].received_time, 1002 * tx::kMillisecond);
}

std::string builtin_error(const json& builtin) {
  try {
    gateway::builtin_apps_from_config(builtin);
  } catch (const tx::AppError& e) {
    return e.what();
  }
  return "no error";
}

TEST(BuiltinAppConfig, BuildsListedAppsAndNamesBadFields) {
  const auto apps = gateway::builtin_apps_from_config(
      {{"intrusion_alarm", {{"motion", {"pir.motion"}}, {"strobe", "s"}, {"siren", "z"}, {"freshness_s", 3}}},
       {"climate_guard", {{"windows", {"w.open"}}, {"hvac", "t"}}}});
  ASSERT_EQ(apps.size(), 2u);
  EXPECT_EQ(apps[0].name, "climate_guard");
  EXPECT_EQ(apps[1].name, "intrusion_alarm");
  EXPECT_EQ(apps[1].sensing.freshness, 3 * tx::kSecond);
  EXPECT_TRUE(gateway::builtin_apps_from_config(json::object()).empty());

  EXPECT_EQ(builtin_error({{"intrusion_alarm", {{"motion", {"pir.motion"}}, {"siren", "z"}}}}),
            "field 'transactuations.builtin.intrusion_alarm.strobe': missing");
  EXPECT_EQ(builtin_error({{"intrusion_alarm", {{"motion", {"pir"}}, {"strobe", "s"}, {"siren", "z"}}}}),
            "field 'transactuations.builtin.intrusion_alarm.motion[0]': expected \"<device>.<attribute>\", got \"pir\"");
  EXPECT_NE(builtin_error({{"alarm_clock", json::object()}}).find("'transactuations.builtin.alarm_clock': unknown built-in app"),
            std::string::npos);
  EXPECT_NE(builtin_error({{"climate_guard", {{"windows", {"w.open"}}, {"hvac", "t"}, {"colour", 1}}}})
                .find("'transactuations.builtin.climate_guard.colour': unknown setting"),
            std::string::npos);
  EXPECT_NE(builtin_error({{"night_auto_lock", {{"contacts", {"a.open", "b.open"}}, {"locks", {"l"}}}}})
                .find("one lock per contact"),
            std::string::npos);
}

TEST(GatewayConfigTransactuations, DefaultsAndFieldErrors) {
  const auto c = gateway::parse_gateway_config(R"({"data_dir": "/d"})");
  EXPECT_TRUE(c.transactuations.enabled);
  EXPECT_TRUE(c.transactuations.builtin.empty());
  EXPECT_EQ(c.intent_log_path(), "/d/transactuations.db");
  try {
    gateway::parse_gateway_config(R"({"transactuations": {"builtin": []}})");
    FAIL() << "accepted an array";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.field(), "transactuations.builtin");
  }
  try {
    gateway::parse_gateway_config(R"({"transactuations": {"flush_ms": 3}})");
    FAIL() << "accepted an unknown field";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("flush_ms"), std::string::npos) << e.what();
  }
}

}  // namespace
