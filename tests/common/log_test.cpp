#include "common/log/log.h"

#include <gtest/gtest.h>

namespace homestead::log {
namespace {

TEST(Log, FormatsLevelComponentAndFields) {
  auto line = format_record("2026-01-01T00:00:00.000Z", Level::warn, "gatewayd", "broker lost",
                            {{"host", "127.0.0.1"}, {"reason", "connection refused"}, {"n", "3"}});
  EXPECT_EQ(line,
            "2026-01-01T00:00:00.000Z warn gatewayd: broker lost host=127.0.0.1 reason=\"connection refused\" n=3\n");
}

TEST(Log, QuotesAndEscapesValues) {
  auto line = format_record("t", Level::info, "c", "m", {{"v", "a\"b\nc"}, {"e", ""}});
  EXPECT_EQ(line, "t info c: m v=\"a\\\"b\\nc\" e=\"\"\n");
}

TEST(Log, ParsesLevelsAndFilters) {
  Level parsed = Level::info;
  EXPECT_TRUE(parse_level("debug", parsed));
  EXPECT_EQ(parsed, Level::debug);
  EXPECT_FALSE(parse_level("loud", parsed));
  EXPECT_EQ(parsed, Level::debug);
  const Level saved = level();
  set_level(Level::error);
  Logger logger("test");
  EXPECT_FALSE(logger.enabled(Level::warn));
  EXPECT_TRUE(logger.enabled(Level::error));
  set_level(saved);
}

}  // namespace
}  // namespace homestead::log
