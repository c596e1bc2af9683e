#include "common/config/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/process.h"

namespace homestead::config {
namespace {

TEST(Config, MissingFieldsTakeDefaults) {
  auto config = Config::parse("{}");
  EXPECT_EQ(config.get_int("mqtt.port", 1883, 1, 65535), 1883);
  EXPECT_EQ(config.get_string("mqtt.host", "127.0.0.1"), "127.0.0.1");
  EXPECT_TRUE(config.get_bool("tls.enabled", true));
  EXPECT_DOUBLE_EQ(config.get_double("ratio", 0.5), 0.5);
  EXPECT_EQ(config.get_string_list("topics", {"a"}), std::vector<std::string>{"a"});
}

TEST(Config, ReadsNestedFields) {
  auto config = Config::parse(R"({"mqtt": {"port": 18830, "host": "broker"}, "topics": ["x", "y"]})");
  EXPECT_EQ(config.get_int("mqtt.port", 1883, 1, 65535), 18830);
  EXPECT_EQ(config.get_string("mqtt.host", ""), "broker");
  EXPECT_EQ(config.get_string_list("topics", {}), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(config.has("mqtt.port"));
  EXPECT_FALSE(config.has("mqtt.user"));
}

void expect_error(const std::function<void()>& body, const std::string& field, const std::string& fragment) {
  try {
    body();
    FAIL() << "expected a ConfigError for " << field;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), field);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Config, WrongTypesNameTheField) {
  auto config = Config::parse(R"({"mqtt": {"port": "abc", "tls": 1}, "topics": ["x", 3]})", "gateway.json");
  expect_error([&] { config.get_int("mqtt.port", 1883, 1, 65535); }, "mqtt.port",
               "gateway.json: field 'mqtt.port': expected an integer between 1 and 65535, got string \"abc\"");
  expect_error([&] { config.get_bool("mqtt.tls", false); }, "mqtt.tls", "expected true or false, got integer 1");
  expect_error([&] { config.get_string_list("topics", {}); }, "topics[1]", "expected a string, got integer 3");
  expect_error([&] { config.require_string("mqtt.user"); }, "mqtt.user", "is required but missing");
}

TEST(Config, OutOfRangeIsAnError) {
  auto config = Config::parse(R"({"port": 70000})");
  expect_error([&] { config.get_int("port", 1, 1, 65535); }, "port", "got 70000");
}

TEST(Config, UnknownSettingsAreReported) {
  auto config = Config::parse(R"({"mqtt": {"prot": 1}})");
  EXPECT_NO_THROW(config.reject_unknown("", {"mqtt", "http"}));
  expect_error([&] { config.reject_unknown("mqtt", {"port", "host"}); }, "mqtt.prot",
               "unknown setting (known here: port, host)");
}

TEST(Config, SyntaxErrorsGiveLineAndColumn) {
  try {
    Config::parse("{\n  \"a\": 1,\n  \"b\": ,\n}", "bad.json");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "");
    EXPECT_NE(std::string(e.what()).find("bad.json: invalid JSON at line 3"), std::string::npos) << e.what();
  }
  expect_error([] { Config::parse("[1,2]"); }, "", "the top level must be a JSON object, got array");
}

TEST(Config, LoadsFilesAndReportsMissingOnes) {
  homestead::testing::TempDir dir;
  std::ofstream(dir / "c.json") << R"({"name": "home"})";
  EXPECT_EQ(Config::load_file(dir / "c.json").get_string("name", ""), "home");
  expect_error([&] { Config::load_file(dir / "missing.json"); }, "", "cannot open config file");
}

}  // namespace
}  // namespace homestead::config
