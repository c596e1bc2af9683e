#include "devices/payloads.h"

#include <cmath>

namespace homestead::devices {
namespace {

std::string shown(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string type_of(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

nlohmann::json parse_object(std::string_view payload) {
  nlohmann::json document = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    throw PayloadError("", "payload is not valid JSON: " + shown(nlohmann::json(std::string(payload))));
  }
  if (!document.is_object()) throw PayloadError("", "payload must be a JSON object, got " + type_of(document));
  return document;
}

const nlohmann::json& require(const nlohmann::json& doc, const std::string& prefix, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end()) throw PayloadError(join(prefix, name), "missing");
  return *it;
}

void reject_unknown(const nlohmann::json& doc, const std::string& prefix,
                    std::initializer_list<std::string_view> known) {
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    bool ok = false;
    for (auto k : known) ok = ok || it.key() == k;
    if (!ok) throw PayloadError(join(prefix, it.key()), "unknown field");
  }
}

std::string require_cmd_id(const nlohmann::json& doc, const std::string& prefix) {
  const auto& id = require(doc, prefix, "cmd_id");
  const std::string field = join(prefix, "cmd_id");
  if (!id.is_string()) throw PayloadError(field, "expected a string, got " + type_of(id));
  const auto& text = id.get_ref<const std::string&>();
  if (text.empty() || text.size() > kMaxCmdIdLength) {
    throw PayloadError(field, "expected 1.." + std::to_string(kMaxCmdIdLength) + " characters, got " +
                                  std::to_string(text.size()));
  }
  return text;
}

std::int64_t require_timestamp(const nlohmann::json& doc, const std::string& prefix) {
  const auto& ts = require(doc, prefix, "ts");
  if (!ts.is_number_integer() || ts.get<std::int64_t>() < 0) {
    throw PayloadError(join(prefix, "ts"), "expected Unix milliseconds (a non-negative integer), got " + shown(ts));
  }
  return ts.get<std::int64_t>();
}

CommandOutcome parse_outcome(const nlohmann::json& v, const std::string& field) {
  if (v == "done") return CommandOutcome::done;
  if (v == "pending") return CommandOutcome::pending;
  if (v == "unknown") return CommandOutcome::unknown;
  throw PayloadError(field, "expected \"done\", \"pending\" or \"unknown\", got " + shown(v));
}

}  // namespace

std::string_view outcome_name(CommandOutcome outcome) {
  switch (outcome) {
    case CommandOutcome::done: return "done";
    case CommandOutcome::pending: return "pending";
    case CommandOutcome::unknown: return "unknown";
  }
  return "unknown";
}

namespace {
// The common case (a valid value) without building any text: messages arrive at tens of
// thousands per second, and the error message is needed only when the check fails.
bool value_ok(const Capability& cap, const nlohmann::json& v) {
  switch (cap.type) {
    case ValueType::boolean:
      return v.is_boolean();
    case ValueType::integer:
    case ValueType::number: {
      if (!(cap.type == ValueType::integer ? v.is_number_integer() : v.is_number())) return false;
      const double x = v.get<double>();
      return std::isfinite(x) && x >= cap.min && x <= cap.max;
    }
    case ValueType::enumeration:
      if (!v.is_string()) return false;
      for (const auto& allowed : cap.values)
        if (v.get_ref<const std::string&>() == allowed) return true;
      return false;
  }
  return false;
}
}  // namespace

void validate_value(const Capability& cap, const nlohmann::json& v, const std::string& field) {
  if (value_ok(cap, v)) return;
  switch (cap.type) {
    case ValueType::boolean:
      throw PayloadError(field, "expected a boolean, got " + shown(v));
    case ValueType::integer:
    case ValueType::number: {
      const bool integral = cap.type == ValueType::integer;
      const std::string range = std::to_string(static_cast<long long>(cap.min)) + ".." +
                                std::to_string(static_cast<long long>(cap.max));
      throw PayloadError(field, std::string("expected ") + (integral ? "an integer" : "a number") + " in " + range +
                                    ", got " + shown(v));
    }
    case ValueType::enumeration: {
      std::string list;
      for (const auto& allowed : cap.values) list += (list.empty() ? "" : ", ") + allowed;
      throw PayloadError(field, "expected one of " + list + ", got " + shown(v));
    }
  }
  throw PayloadError(field, "unexpected value " + shown(v));
}

void validate_state(const KindInfo& kind, const nlohmann::json& state, const std::string& field, bool require_all) {
  if (!state.is_object()) throw PayloadError(field, "expected an object, got " + type_of(state));
  for (auto it = state.begin(); it != state.end(); ++it) {
    const Capability* cap = kind.capability(it.key());
    if (!cap) throw PayloadError(join(field, it.key()), "not a capability of kind " + kind.name);
    if (!value_ok(*cap, it.value())) validate_value(*cap, it.value(), join(field, it.key()));  // throws, naming it
  }
  if (require_all) {
    for (const auto& cap : kind.capabilities)
      if (!state.contains(cap.name)) throw PayloadError(join(field, cap.name), "missing");
  }
}

nlohmann::json to_json(const StateReport& r) { return {{"seq", r.seq}, {"ts", r.ts_ms}, {"state", r.state}}; }

nlohmann::json to_json(const Command& c) { return {{"cmd_id", c.cmd_id}, {"command", c.command}, {"args", c.args}}; }

nlohmann::json to_json(const Ack& a) {
  nlohmann::json j = {{"cmd_id", a.cmd_id}, {"result", a.ok ? "ok" : "error"}, {"state", a.state}, {"ts", a.ts_ms}};
  if (!a.ok) j["reason"] = a.reason;
  if (a.status_of) {
    j["status_of"] = {{"cmd_id", a.status_of->cmd_id}, {"outcome", outcome_name(a.status_of->outcome)}};
    if (a.status_of->outcome == CommandOutcome::done) j["status_of"]["ack"] = a.status_of->ack;
  }
  return j;
}

std::string encode(const StateReport& r) { return to_json(r).dump(); }
std::string encode(const Command& c) { return to_json(c).dump(); }
std::string encode(const Ack& a) { return to_json(a).dump(); }

namespace {
// Everything but the state object itself, which the callers copy or move.
StateReport checked_state_report(const KindInfo& kind, const nlohmann::json& doc) {
  if (!doc.is_object()) throw PayloadError("", "payload must be a JSON object, got " + type_of(doc));
  reject_unknown(doc, "", {"seq", "ts", "state"});
  StateReport r;
  const auto& seq = require(doc, "", "seq");
  if (!seq.is_number_unsigned()) throw PayloadError("seq", "expected a non-negative integer, got " + shown(seq));
  r.seq = seq.get<std::uint64_t>();
  r.ts_ms = require_timestamp(doc, "");
  validate_state(kind, require(doc, "", "state"), "state", /*require_all=*/true);
  return r;
}
}  // namespace

StateReport state_from_json(const KindInfo& kind, const nlohmann::json& doc) {
  StateReport r = checked_state_report(kind, doc);
  r.state = doc.at("state");
  return r;
}

Command command_from_json(const KindInfo& kind, const nlohmann::json& doc) {
  if (!doc.is_object()) throw PayloadError("", "payload must be a JSON object, got " + type_of(doc));
  reject_unknown(doc, "", {"cmd_id", "command", "args"});
  Command c;
  c.cmd_id = require_cmd_id(doc, "");
  const auto& name = require(doc, "", "command");
  if (!name.is_string()) throw PayloadError("command", "expected a string, got " + shown(name));
  c.command = name.get<std::string>();
  if (auto it = doc.find("args"); it != doc.end()) {
    if (!it->is_object()) throw PayloadError("args", "expected an object, got " + type_of(*it));
    c.args = *it;
  }
  if (c.command == kStatusCommand) {
    reject_unknown(c.args, "args", {"cmd_id"});
    require_cmd_id(c.args, "args");
    return c;
  }
  const CommandSpec* spec = kind.command(c.command);
  if (!spec) {
    std::string list(kStatusCommand);
    for (const auto& s : kind.commands) list += ", " + s.name;
    throw PayloadError("command", "kind " + kind.name + " accepts " + list + ", got " + shown(name));
  }
  for (auto it = c.args.begin(); it != c.args.end(); ++it) {
    bool known = false;
    for (const auto& a : spec->args) known = known || a == it.key();
    if (!known) throw PayloadError("args." + it.key(), "not an argument of " + spec->name);
  }
  for (const auto& arg : spec->args) {
    const auto it = c.args.find(arg);
    if (it == c.args.end()) throw PayloadError("args." + arg, "missing");
    validate_value(*kind.capability(arg), *it, "args." + arg);
  }
  return c;
}

Ack ack_from_json(const KindInfo& kind, const nlohmann::json& doc) {
  if (!doc.is_object()) throw PayloadError("", "payload must be a JSON object, got " + type_of(doc));
  reject_unknown(doc, "", {"cmd_id", "result", "reason", "state", "ts", "status_of"});
  Ack a;
  a.cmd_id = require_cmd_id(doc, "");
  const auto& result = require(doc, "", "result");
  if (result != "ok" && result != "error") throw PayloadError("result", "expected \"ok\" or \"error\", got " + shown(result));
  a.ok = result == "ok";
  if (auto it = doc.find("reason"); it != doc.end()) {
    if (!it->is_string()) throw PayloadError("reason", "expected a string, got " + shown(*it));
    a.reason = it->get<std::string>();
  }
  if (!a.ok && a.reason.empty()) throw PayloadError("reason", "required when result is \"error\"");
  validate_state(kind, require(doc, "", "state"), "state", /*require_all=*/true);
  a.state = doc.at("state");
  a.ts_ms = require_timestamp(doc, "");
  if (auto it = doc.find("status_of"); it != doc.end()) {
    if (!it->is_object()) throw PayloadError("status_of", "expected an object, got " + type_of(*it));
    reject_unknown(*it, "status_of", {"cmd_id", "outcome", "ack"});
    StatusOf s;
    s.cmd_id = require_cmd_id(*it, "status_of");
    s.outcome = parse_outcome(require(*it, "status_of", "outcome"), "status_of.outcome");
    if (s.outcome == CommandOutcome::done) {
      // The earlier ack must itself be valid; its errors are reported under status_of.ack.
      try {
        ack_from_json(kind, require(*it, "status_of", "ack"));
      } catch (const PayloadError& inner) {
        throw PayloadError(join("status_of.ack", inner.field()), inner.message());
      }
      s.ack = it->at("ack");
    }
    a.status_of = std::move(s);
  }
  return a;
}

StateReport decode_state(const KindInfo& kind, std::string_view payload) {
  nlohmann::json doc = parse_object(payload);
  StateReport r = checked_state_report(kind, doc);
  r.state = std::move(doc["state"]);  // validated above; the document is ours to take apart
  return r;
}
Command decode_command(const KindInfo& kind, std::string_view payload) {
  return command_from_json(kind, parse_object(payload));
}
Ack decode_ack(const KindInfo& kind, std::string_view payload) { return ack_from_json(kind, parse_object(payload)); }

}  // namespace homestead::devices
