#include "devices/catalog.h"

#include <gtest/gtest.h>

#include <set>

namespace homestead::devices {
namespace {

TEST(Catalog, HasEveryKindTheIssueAsksFor) {
  for (const char* name : {"motion", "contact", "smoke", "co", "temperature", "humidity", "illuminance", "power_meter",
                           "camera_motion", "siren", "strobe", "light", "plug", "lock", "thermostat", "window_opener",
                           "water_valve"}) {
    EXPECT_NE(find_kind(name), nullptr) << name;
  }
  EXPECT_EQ(all_kinds().size(), 17u);
  EXPECT_EQ(find_kind("toaster"), nullptr);
}

TEST(Catalog, EnumOrderMatchesTable) {
  for (const auto& info : all_kinds()) EXPECT_EQ(&kind_info(info.kind), &info) << info.name;
  EXPECT_EQ(kind_name(Kind::window_opener), "window_opener");
}

TEST(Catalog, ActuatorsHaveCommandsAndSensorsNone) {
  for (const auto& info : all_kinds()) {
    EXPECT_EQ(info.actuator, !info.commands.empty()) << info.name;
    EXPECT_FALSE(info.capabilities.empty()) << info.name;
    // Every command argument is typed by a capability of the same kind.
    for (const auto& cmd : info.commands)
      for (const auto& arg : cmd.args) EXPECT_NE(info.capability(arg), nullptr) << info.name << "." << cmd.name;
    EXPECT_NE(info.capability(info.home_assistant.primary), nullptr) << info.name;
    EXPECT_EQ(info.command(kStatusCommand), nullptr) << "status is reserved: " << info.name;
  }
}

TEST(Catalog, TypedCapabilities) {
  const auto& light = kind_info(Kind::light);
  const auto* brightness = light.capability("brightness");
  ASSERT_NE(brightness, nullptr);
  EXPECT_EQ(brightness->type, ValueType::integer);
  EXPECT_EQ(brightness->max, 255);
  const auto* lock = kind_info(Kind::lock).capability("lock");
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(lock->values, (std::vector<std::string>{"locked", "unlocked", "jammed"}));
  EXPECT_TRUE(kind_info(Kind::lock).persists_cmd_ids);
  EXPECT_FALSE(kind_info(Kind::light).persists_cmd_ids);
}

}  // namespace
}  // namespace homestead::devices
