#include "devices/discovery.h"

#include <gtest/gtest.h>

#include "devices/topics.h"

namespace homestead::devices {
namespace {

TEST(Discovery, EveryKindHasACompleteDocument) {
  for (const auto& kind : all_kinds()) {
    SCOPED_TRACE(kind.name);
    DiscoveryDevice dev{"h", "d1", "Device one", "hall"};
    auto doc = discovery_document(kind, dev);
    EXPECT_EQ(discovery_topic(kind, "h", "d1"), "homeassistant/" + kind.home_assistant.component + "/h_d1/config");
    EXPECT_EQ(doc["unique_id"], "h_d1");
    EXPECT_EQ(doc["name"], "Device one");
    EXPECT_EQ(doc["availability_topic"], "homestead/h/d1/status");
    EXPECT_EQ(doc["payload_available"], "online");
    EXPECT_EQ(doc["payload_not_available"], "offline");
    EXPECT_EQ(doc["device"]["identifiers"][0], "h_d1");
    EXPECT_EQ(doc["device"]["model"], kind.name);
    EXPECT_EQ(doc["device"]["suggested_area"], "hall");
    // Some topic reads our state topic, and actuators have some topic that writes our cmd topic.
    bool reads_state = false, writes_cmd = false;
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (!it.value().is_string()) continue;
      const std::string key = it.key();
      if (key.size() > 6 && key.substr(key.size() - 6) == "_topic") {
        const std::string topic = it.value();
        if (topic == "homestead/h/d1/state") reads_state = true;
        if (topic == "homestead/h/d1/cmd") writes_cmd = true;
        EXPECT_TRUE(topic == "homestead/h/d1/state" || topic == "homestead/h/d1/cmd" || topic == "homestead/h/d1/status")
            << key << " = " << topic;
      }
    }
    EXPECT_TRUE(reads_state);
    EXPECT_EQ(writes_cmd, kind.actuator);
    // Command templates render to our command format with a per-press cmd_id.
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (it.key().find("template") != std::string::npos && it.key().find("command") != std::string::npos) {
        EXPECT_NE(it.value().get<std::string>().find("\"cmd_id\":\"ha-{{"), std::string::npos) << it.key();
      }
    }
  }
}

TEST(Discovery, SensorsCarryUnitsAndClasses) {
  auto temp = discovery_document(kind_info(Kind::temperature), {"h", "t", "", "hall"});
  EXPECT_EQ(temp["unit_of_measurement"], "°C");
  EXPECT_EQ(temp["device_class"], "temperature");
  EXPECT_EQ(temp["value_template"], "{{ value_json.state.temperature }}");
  EXPECT_EQ(temp["name"], "t");  // the id when no name is given
  auto co = discovery_document(kind_info(Kind::co), {"h", "c", "", "hall"});
  EXPECT_EQ(co["device_class"], "carbon_monoxide");
}

}  // namespace
}  // namespace homestead::devices
