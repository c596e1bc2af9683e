// Unit tests for the app expression language: values, types, references, errors.
#include <gtest/gtest.h>

#include "transactuation/expression.h"

namespace homestead::transactuation {
namespace {

LogicInput sample_input() {
  LogicInput input;
  input.now = (22 * 3600 + 15 * 60) * kSecond;  // 22:15 UTC
  input.readings[SensorRef{"smoke-1", "ppm"}] = Reading{"smoke-1", "ppm", 420.0, 1, 1};
  input.readings[SensorRef{"door", "open"}] = Reading{"door", "open", true, 1, 1};
  input.state["armed"] = true;
  input.state["count"] = 3;
  input.state["mode"] = "away";
  input.trigger = Json{{"value", 7}, {"device", "motion"}};
  return input;
}

Json eval(const std::string& text) { return Expression::parse(text).evaluate(sample_input()); }

TEST(Expression, ArithmeticPrecedenceAndComparison) {
  EXPECT_EQ(eval("1 + 2 * 3"), 7.0);
  EXPECT_EQ(eval("(1 + 2) * 3"), 9.0);
  EXPECT_EQ(eval("10 % 4 - -1"), 3.0);
  EXPECT_EQ(eval("7 / 2"), 3.5);
  EXPECT_EQ(eval("1 < 2 == true"), true);
  EXPECT_EQ(eval("2 <= 2 && 3 >= 4"), false);
  EXPECT_EQ(eval("!(1 > 2) || false"), true);
  EXPECT_EQ(eval("'ab' + \"cd\" == 'abcd'"), true);
  EXPECT_EQ(eval("\"b\" > \"a\""), true);
  EXPECT_EQ(eval("1 == 1.0"), true);
}

TEST(Expression, References) {
  EXPECT_EQ(eval("sensor.smoke-1.ppm > 400"), true);
  EXPECT_EQ(eval("sensor.door.open"), true);
  EXPECT_EQ(eval("sensor.window.open == null"), true);  // not among the fresh readings
  EXPECT_EQ(eval("state.armed && state.count + 1 == 4"), true);
  EXPECT_EQ(eval("state.mode == 'away'"), true);
  EXPECT_EQ(eval("state.unset == null"), true);
  EXPECT_EQ(eval("trigger.value * 2"), 14.0);
  EXPECT_EQ(eval("trigger.missing.deeper == null"), true);
  EXPECT_EQ(eval("now.hour == 22 && now.minute == 15"), true);
  const Expression e = Expression::parse("sensor.a.x > 1 && state.k == state.j || sensor.b.y");
  EXPECT_EQ(e.sensors(), (std::set<SensorRef>{{"a", "x"}, {"b", "y"}}));
  EXPECT_EQ(e.state_keys(), (std::set<std::string>{"j", "k"}));
}

TEST(Expression, ShortCircuitSkipsTheTypeErrorOnTheRight) {
  EXPECT_EQ(eval("false && sensor.missing.x > 1"), false);
  EXPECT_EQ(eval("true || 1 + 'x'"), true);
}

void expect_parse_error(const std::string& text, std::size_t position, const std::string& fragment) {
  try {
    Expression::parse(text);
    ADD_FAILURE() << "parsed: " << text;
  } catch (const ExpressionError& e) {
    if (position != std::string::npos) {
      EXPECT_EQ(e.position(), position) << text << ": " << e.what();
    }
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << text << ": " << e.what();
  }
}

TEST(Expression, ParseErrorsGivePositionAndReason) {
  expect_parse_error("", 0, "empty expression");
  expect_parse_error("1 +", 3, "ends where a value was expected");
  expect_parse_error("(1 + 2", 6, "missing ')'");
  expect_parse_error("state.x = 1", 8, "unexpected");
  expect_parse_error("system.exec", 0, "unknown reference \"system\"");
  expect_parse_error("foo", 0, "unknown name \"foo\"");
  expect_parse_error("sensor.a", 0, "sensor.<device>.<attribute>");
  expect_parse_error("state.a.b", 0, "state.<key>");
  expect_parse_error("'open", 0, "unterminated string");
  expect_parse_error("1.2.3", 0, "bad number");
  expect_parse_error("now.second", 0, "now.hour and now.minute");
  // Reported at whichever '(' crosses the depth limit.
  expect_parse_error(std::string(50, '(') + "1" + std::string(50, ')'), std::string::npos, "nested too deeply");
  expect_parse_error(std::string(3000, '1'), 0, "longer than");
}

void expect_eval_error(const std::string& text, const std::string& fragment) {
  try {
    eval(text);
    ADD_FAILURE() << "evaluated: " << text;
  } catch (const ExpressionError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << text << ": " << e.what();
  }
}

TEST(Expression, TypeErrorsAtRunTime) {
  expect_eval_error("1 && true", "'&&' needs a boolean, got number");
  expect_eval_error("state.mode + 1", "'+' needs two numbers, got string and number");
  expect_eval_error("sensor.window.open > 1", "compares two numbers or two strings, got null and number");
  expect_eval_error("1 / 0", "division by zero");
  expect_eval_error("-state.mode", "unary '-' needs a number");
  EXPECT_THROW(Expression::parse("1 + 1").evaluate_bool(sample_input()), ExpressionError);
}

}  // namespace
}  // namespace homestead::transactuation
