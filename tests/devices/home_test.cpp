#include "devices/home.h"

#include <gtest/gtest.h>

#include <map>

#include "devices/payloads.h"
#include "tests/support/process.h"

namespace homestead::devices {
namespace {

std::string minimal(const std::string& devices) {
  return R"({"home":"h","rooms":[{"id":"hall","floor":0}],"devices":[)" + devices + "]}";
}

// Parses and returns the error message (empty when it loads).
std::string error_of(const std::string& text, std::string* field = nullptr) {
  try {
    parse_home(text, "t.json");
  } catch (const HomeError& e) {
    if (field) *field = e.field();
    return e.what();
  }
  return "";
}

TEST(Home, LoadsAMinimalHome) {
  Home home = parse_home(minimal(R"({"id":"lamp","kind":"light","room":"hall","initial_state":{"brightness":10}})"));
  ASSERT_EQ(home.devices.size(), 1u);
  const auto& lamp = home.devices[0];
  EXPECT_EQ(lamp.kind->kind, Kind::light);
  EXPECT_EQ(lamp.name, "lamp");
  EXPECT_EQ(lamp.credentials, "lamp");
  auto state = starting_state(lamp);
  EXPECT_EQ(state, (nlohmann::json{{"on", false}, {"brightness", 10}}));
  EXPECT_NO_THROW(validate_state(*lamp.kind, state, "state", true));
}

TEST(Home, ErrorsNameFileDeviceAndField) {
  std::string field;
  EXPECT_EQ(error_of(minimal(R"({"id":"l","kind":"lok","room":"hall"})"), &field),
            "t.json: devices[0] (id 'l'): field 'devices[0].kind': unknown kind \"lok\" (known: " + kind_names() + ")");
  EXPECT_EQ(field, "devices[0].kind");
  error_of(minimal(R"({"id":"l","kind":"light","room":"attic"})"), &field);
  EXPECT_EQ(field, "devices[0].room");
  error_of(minimal(R"({"id":"l","kind":"light","room":"hall","initial_state":{"brightness":999}})"), &field);
  EXPECT_EQ(field, "devices[0].initial_state.brightness");
  error_of(minimal(R"({"id":"l","kind":"light","room":"hall","colour":"red"})"), &field);
  EXPECT_EQ(field, "devices[0].colour");
  error_of(minimal(R"({"id":"l","kind":"light","room":"hall"},{"id":"l","kind":"plug","room":"hall"})"), &field);
  EXPECT_EQ(field, "devices[1].id");
  error_of(minimal(R"({"id":"a","kind":"light","room":"hall","credentials":"x"},{"id":"b","kind":"plug","room":"hall","credentials":"x"})"), &field);
  EXPECT_EQ(field, "devices[1].credentials");
  error_of(minimal(R"({"id":"Bad Id","kind":"light","room":"hall"})"), &field);
  EXPECT_EQ(field, "devices[0].id");
  error_of(R"({"home":"h","rooms":[],"devices":[]})", &field);
  EXPECT_EQ(field, "rooms");
  error_of(R"({"rooms":[{"id":"a"}],"devices":[]})", &field);
  EXPECT_EQ(field, "home");
  EXPECT_NE(error_of("{\"home\": \n oops"), "");
}

TEST(Home, DefaultHouseIsTheOneTheIssueDescribes) {
  Home home = load_home_file(testing::source_path("deploy/homes/default.json"));
  EXPECT_EQ(home.id, "default");
  EXPECT_GE(home.devices.size(), 25u);
  std::map<std::string, int> per_kind;
  std::set<int> floors;
  for (const auto& r : home.rooms) floors.insert(r.floor);
  for (const auto& d : home.devices) {
    ++per_kind[d.kind->name];
    EXPECT_NO_THROW(validate_state(*d.kind, starting_state(d), "state", true)) << d.id;
  }
  EXPECT_EQ(floors.size(), 2u);
  for (const char* kind : {"contact", "lock", "motion", "smoke", "co", "temperature", "thermostat", "window_opener",
                           "light", "plug", "siren", "strobe", "camera_motion"}) {
    EXPECT_GE(per_kind[kind], 1) << kind;
  }
  EXPECT_GE(per_kind["lock"], 2);
  EXPECT_EQ(per_kind["window_opener"], 1);
}

}  // namespace
}  // namespace homestead::devices
