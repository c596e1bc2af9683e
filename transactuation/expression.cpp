#include "transactuation/expression.h"

#include <cctype>
#include <cmath>
#include <vector>

namespace homestead::transactuation {

struct ExpressionNode {
  enum class Kind { literal, sensor, state, trigger, now, unary, binary } kind = Kind::literal;
  std::size_t position = 0;
  Json value;                      // literal
  std::vector<std::string> path;   // references
  std::string op;                  // unary / binary
  std::shared_ptr<const ExpressionNode> left, right;
};

namespace {

using Node = ExpressionNode;
using NodePtr = std::shared_ptr<const Node>;

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

}  // namespace

class ExpressionParser {
 public:
  explicit ExpressionParser(std::string_view text) : text_(text) {}

  Expression parse() {
    if (text_.size() > Expression::kMaxLength) {
      throw ExpressionError(0, "expression longer than " + std::to_string(Expression::kMaxLength) + " characters");
    }
    skip_space();
    if (pos_ == text_.size()) throw ExpressionError(0, "empty expression");
    Expression expression;
    expression.root_ = parse_or(0);
    skip_space();
    if (pos_ != text_.size()) throw ExpressionError(pos_, "unexpected \"" + std::string(text_.substr(pos_, 10)) + "\"");
    expression.text_ = std::string(text_);
    expression.sensors_ = std::move(sensors_);
    expression.state_keys_ = std::move(state_keys_);
    return expression;
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(std::string_view token) {
    skip_space();
    if (text_.substr(pos_, token.size()) != token) return false;
    // "<" must not swallow the first half of "<=", "=" alone is not an operator, and so on.
    if (token.size() == 1 && pos_ + 1 < text_.size() && text_[pos_ + 1] == '=' &&
        (token == "<" || token == ">" || token == "!")) {
      return false;
    }
    pos_ += token.size();
    return true;
  }
  void depth_check(int depth) const {
    if (depth > Expression::kMaxDepth) throw ExpressionError(pos_, "expression nested too deeply");
  }
  NodePtr binary(std::string op, std::size_t at, NodePtr left, NodePtr right) {
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::binary;
    node->op = std::move(op);
    node->position = at;
    node->left = std::move(left);
    node->right = std::move(right);
    return node;
  }

  NodePtr parse_or(int depth) {
    depth_check(depth);
    NodePtr left = parse_and(depth + 1);
    for (std::size_t at = (skip_space(), pos_); accept("||"); at = (skip_space(), pos_)) {
      left = binary("||", at, left, parse_and(depth + 1));
    }
    return left;
  }
  NodePtr parse_and(int depth) {
    NodePtr left = parse_equality(depth + 1);
    for (std::size_t at = (skip_space(), pos_); accept("&&"); at = (skip_space(), pos_)) {
      left = binary("&&", at, left, parse_equality(depth + 1));
    }
    return left;
  }
  NodePtr parse_equality(int depth) {
    NodePtr left = parse_relation(depth + 1);
    for (;;) {
      skip_space();
      const std::size_t at = pos_;
      if (accept("==")) left = binary("==", at, left, parse_relation(depth + 1));
      else if (accept("!=")) left = binary("!=", at, left, parse_relation(depth + 1));
      else return left;
    }
  }
  NodePtr parse_relation(int depth) {
    NodePtr left = parse_additive(depth + 1);
    for (const char* op : {"<=", ">=", "<", ">"}) {
      skip_space();
      const std::size_t at = pos_;
      if (accept(op)) return binary(op, at, left, parse_additive(depth + 1));
    }
    return left;
  }
  NodePtr parse_additive(int depth) {
    NodePtr left = parse_multiplicative(depth + 1);
    for (;;) {
      skip_space();
      const std::size_t at = pos_;
      if (accept("+")) left = binary("+", at, left, parse_multiplicative(depth + 1));
      else if (accept("-")) left = binary("-", at, left, parse_multiplicative(depth + 1));
      else return left;
    }
  }
  NodePtr parse_multiplicative(int depth) {
    NodePtr left = parse_unary(depth + 1);
    for (;;) {
      skip_space();
      const std::size_t at = pos_;
      if (accept("*")) left = binary("*", at, left, parse_unary(depth + 1));
      else if (accept("/")) left = binary("/", at, left, parse_unary(depth + 1));
      else if (accept("%")) left = binary("%", at, left, parse_unary(depth + 1));
      else return left;
    }
  }
  NodePtr parse_unary(int depth) {
    depth_check(depth);
    skip_space();
    const std::size_t at = pos_;
    for (const char* op : {"!", "-"}) {
      if (accept(op)) {
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::unary;
        node->op = op;
        node->position = at;
        node->left = parse_unary(depth + 1);
        return node;
      }
    }
    return parse_primary(depth + 1);
  }
  NodePtr parse_primary(int depth) {
    skip_space();
    const std::size_t at = pos_;
    if (pos_ >= text_.size()) throw ExpressionError(pos_, "expression ends where a value was expected");
    auto node = std::make_shared<Node>();
    node->position = at;
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      NodePtr inner = parse_or(depth + 1);
      if (!accept(")")) throw ExpressionError(pos_, "missing ')' for the '(' at character " + std::to_string(at + 1));
      return inner;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      std::size_t end = pos_;
      while (end < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[end])) || text_[end] == '.')) ++end;
      const std::string number(text_.substr(pos_, end - pos_));
      char* parsed_end = nullptr;
      const double value = std::strtod(number.c_str(), &parsed_end);
      if (parsed_end != number.c_str() + number.size()) throw ExpressionError(at, "bad number \"" + number + "\"");
      pos_ = end;
      node->value = value;
      return node;
    }
    if (c == '"' || c == '\'') {
      std::string value;
      for (++pos_; pos_ < text_.size() && text_[pos_] != c; ++pos_) {
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
        value += text_[pos_];
      }
      if (pos_ >= text_.size()) throw ExpressionError(at, "unterminated string");
      ++pos_;
      node->value = value;
      return node;
    }
    if (!ident_start(c)) throw ExpressionError(at, std::string("unexpected '") + c + "'");
    std::vector<std::string> path;
    for (;;) {
      std::size_t end = pos_;
      while (end < text_.size() && ident_char(text_[end])) ++end;
      if (end == pos_) throw ExpressionError(pos_, "expected a name after '.'");
      path.emplace_back(text_.substr(pos_, end - pos_));
      pos_ = end;
      if (pos_ < text_.size() && text_[pos_] == '.') {
        ++pos_;
        continue;
      }
      break;
    }
    const std::string& head = path.front();
    if (path.size() == 1) {
      if (head == "true" || head == "false") node->value = head == "true";
      else if (head == "null") node->value = nullptr;
      else throw ExpressionError(at, "unknown name \"" + head + "\" (references start with sensor., state., trigger. or now.)");
      return node;
    }
    if (head == "sensor") {
      if (path.size() != 3) throw ExpressionError(at, "a sensor reference is sensor.<device>.<attribute>");
      node->kind = Node::Kind::sensor;
      sensors_.insert(SensorRef{path[1], path[2]});
    } else if (head == "state") {
      if (path.size() != 2) throw ExpressionError(at, "a state reference is state.<key>");
      node->kind = Node::Kind::state;
      state_keys_.insert(path[1]);
    } else if (head == "trigger") {
      node->kind = Node::Kind::trigger;
    } else if (head == "now") {
      if (path.size() != 2 || (path[1] != "hour" && path[1] != "minute")) {
        throw ExpressionError(at, "now has only now.hour and now.minute");
      }
      node->kind = Node::Kind::now;
    } else {
      throw ExpressionError(at, "unknown reference \"" + head + "\" (use sensor., state., trigger. or now.)");
    }
    node->path = std::move(path);
    return node;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::set<SensorRef> sensors_;
  std::set<std::string> state_keys_;
};

Expression Expression::parse(std::string_view text) { return ExpressionParser(text).parse(); }

namespace {

std::string type_of(const Json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "boolean";
  if (value.is_number()) return "number";
  if (value.is_string()) return "string";
  return "object";
}

struct Evaluator {
  const LogicInput& input;
  Time utc_offset;

  [[noreturn]] static void type_error(const Node& node, const std::string& what) { throw ExpressionError(node.position, what); }

  bool as_bool(const Node& node, const Json& value) const {
    if (!value.is_boolean()) type_error(node, "'" + node.op + "' needs a boolean, got " + type_of(value));
    return value.get<bool>();
  }

  Json eval(const Node& node) const {
    switch (node.kind) {
      case Node::Kind::literal: return node.value;
      case Node::Kind::sensor: {
        const Reading* reading = input.reading(node.path[1], node.path[2]);
        return reading ? reading->value : Json();
      }
      case Node::Kind::state: return input.state_value(node.path[1]);
      case Node::Kind::trigger: {
        const Json* at = &input.trigger;
        for (std::size_t i = 1; i < node.path.size(); ++i) {
          if (!at->is_object() || !at->contains(node.path[i])) return Json();
          at = &(*at)[node.path[i]];
        }
        return *at;
      }
      case Node::Kind::now: {
        Time second = ((input.now + utc_offset) / kSecond) % 86400;
        if (second < 0) second += 86400;
        return node.path[1] == "hour" ? static_cast<double>(second / 3600) : static_cast<double>((second / 60) % 60);
      }
      case Node::Kind::unary: {
        const Json value = eval(*node.left);
        if (node.op == "!") return !as_bool(node, value);
        if (!value.is_number()) type_error(node, "unary '-' needs a number, got " + type_of(value));
        return -value.get<double>();
      }
      case Node::Kind::binary: return eval_binary(node);
    }
    return Json();
  }

  Json eval_binary(const Node& node) const {
    const std::string& op = node.op;
    if (op == "&&" || op == "||") {
      const bool left = as_bool(node, eval(*node.left));
      if (op == "&&" && !left) return false;
      if (op == "||" && left) return true;
      return as_bool(node, eval(*node.right));
    }
    const Json left = eval(*node.left);
    const Json right = eval(*node.right);
    if (op == "==" || op == "!=") {
      // Numbers compare by value whatever their JSON representation (1 == 1.0).
      const bool equal = (left.is_number() && right.is_number()) ? left.get<double>() == right.get<double>() : left == right;
      return op == "==" ? equal : !equal;
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      int order = 0;
      if (left.is_number() && right.is_number()) {
        const double a = left.get<double>(), b = right.get<double>();
        order = a < b ? -1 : (a > b ? 1 : 0);
      } else if (left.is_string() && right.is_string()) {
        order = left.get<std::string>().compare(right.get<std::string>());
      } else {
        type_error(node, "'" + op + "' compares two numbers or two strings, got " + type_of(left) + " and " + type_of(right));
      }
      if (op == "<") return order < 0;
      if (op == "<=") return order <= 0;
      if (op == ">") return order > 0;
      return order >= 0;
    }
    if (op == "+" && left.is_string() && right.is_string()) return left.get<std::string>() + right.get<std::string>();
    if (!left.is_number() || !right.is_number()) {
      type_error(node, "'" + op + "' needs two numbers, got " + type_of(left) + " and " + type_of(right));
    }
    const double a = left.get<double>(), b = right.get<double>();
    if (op == "+") return a + b;
    if (op == "-") return a - b;
    if (op == "*") return a * b;
    if (b == 0) type_error(node, "division by zero");
    if (op == "/") return a / b;
    return std::fmod(a, b);
  }
};

}  // namespace

Json Expression::evaluate(const LogicInput& input, Time utc_offset) const {
  return Evaluator{input, utc_offset}.eval(*root_);
}

bool Expression::evaluate_bool(const LogicInput& input, Time utc_offset) const {
  const Json value = evaluate(input, utc_offset);
  if (!value.is_boolean()) throw ExpressionError(0, "condition must be true or false, got " + type_of(value));
  return value.get<bool>();
}

}  // namespace homestead::transactuation
