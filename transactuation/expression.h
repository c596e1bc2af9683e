// The small, safe expression language of JSON app definitions. No loops, no calls, no
// assignment, bounded size and depth: an expression can only compute a value from
// literals and references.
//
//   literals     1  2.5  "text"  true  false  null
//   references   sensor.<device>.<attribute>   (null when not among the fresh readings)
//                state.<key>                   (null when unset)
//                trigger.<field>[.<field>...]  (the trigger event, e.g. trigger.value)
//                now.hour  now.minute          (local time of day of the transactuation)
//   operators    || && !   == != < <= > >=   + - * / %   unary -   ( )
// Types are checked at run time: && || ! need booleans, arithmetic needs numbers (+ also
// joins strings), ordering needs two numbers or two strings, == / != compare any values.
// Reference segments may contain '-' (device ids like door-1), so write `a - b` with spaces.
#pragma once

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "transactuation/app.h"
#include "transactuation/model.h"

namespace homestead::transactuation {

class ExpressionError : public std::runtime_error {
 public:
  ExpressionError(std::size_t position, const std::string& message)
      : std::runtime_error("at character " + std::to_string(position + 1) + ": " + message), position_(position) {}
  std::size_t position() const { return position_; }

 private:
  std::size_t position_;
};

struct ExpressionNode;

class Expression {
 public:
  static constexpr std::size_t kMaxLength = 2000;
  static constexpr int kMaxDepth = 40;

  // Throws ExpressionError with the position of the first problem.
  static Expression parse(std::string_view text);

  // Throws ExpressionError (position of the offending operator) on a type error.
  Json evaluate(const LogicInput& input, Time utc_offset = 0) const;
  bool evaluate_bool(const LogicInput& input, Time utc_offset = 0) const;

  const std::string& text() const { return text_; }
  const std::set<SensorRef>& sensors() const { return sensors_; }
  const std::set<std::string>& state_keys() const { return state_keys_; }

 private:
  std::string text_;
  std::shared_ptr<const ExpressionNode> root_;
  std::set<SensorRef> sensors_;
  std::set<std::string> state_keys_;
  friend class ExpressionParser;
};

}  // namespace homestead::transactuation
