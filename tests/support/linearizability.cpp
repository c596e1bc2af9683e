#include "tests/support/linearizability.h"

#include <functional>
#include <map>

namespace homestead::testing {

const char* to_string(Linearizability result) {
  switch (result) {
    case Linearizability::ok: return "linearizable";
    case Linearizability::violation: return "not linearizable";
    case Linearizability::gave_up: return "gave up";
  }
  return "?";
}

std::optional<KvModel::State> KvModel::step(const State& state, const Input& in, const Output& out, bool unknown) {
  switch (in.kind) {
    case KvInput::Kind::put:
      return State{in.value};
    case KvInput::Kind::del:
      return State{std::nullopt};
    case KvInput::Kind::get:
      if (unknown || out.value == state) return state;
      return std::nullopt;
    case KvInput::Kind::cas: {
      const bool holds = state == in.expected;
      if (unknown) return holds ? State{in.value} : state;
      if (out.succeeded != holds) return std::nullopt;
      return holds ? State{in.value} : state;
    }
  }
  return std::nullopt;
}

std::vector<std::vector<std::size_t>> KvModel::partition(const std::vector<Op>& history) {
  std::map<std::string, std::vector<std::size_t>> by_key;
  for (std::size_t i = 0; i < history.size(); ++i) by_key[history[i].input.key].push_back(i);
  std::vector<std::vector<std::size_t>> parts;
  for (auto& [key, ops] : by_key) parts.push_back(std::move(ops));
  return parts;
}

std::size_t KvModel::hash(const State& state) {
  return state ? std::hash<std::string>{}(*state) : 0x9E3779B97F4A7C15ULL;
}

std::string KvModel::describe(const Op& op) {
  auto show = [](const std::optional<std::string>& v) { return v ? "'" + *v + "'" : std::string("absent"); };
  std::string text = "client " + std::to_string(op.client) + " [" + std::to_string(op.call) + ", " +
                     (op.unknown ? std::string("?") : std::to_string(op.ret)) + "] ";
  switch (op.input.kind) {
    case KvInput::Kind::put: text += "put(" + op.input.key + ", '" + op.input.value + "')"; break;
    case KvInput::Kind::del: text += "delete(" + op.input.key + ")"; break;
    case KvInput::Kind::get:
      text += "get(" + op.input.key + ") -> " + (op.unknown ? std::string("?") : show(op.output.value));
      break;
    case KvInput::Kind::cas:
      text += "cas(" + op.input.key + ", " + show(op.input.expected) + " -> '" + op.input.value + "') -> " +
              (op.unknown ? std::string("?") : (op.output.succeeded ? "ok" : "failed"));
      break;
  }
  return text;
}

}  // namespace homestead::testing
