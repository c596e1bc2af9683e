#include "transactuation/json_app.h"

#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "transactuation/expression.h"

namespace homestead::transactuation {

namespace {

std::string type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "a number";
  }
}

// One object being read, with its dotted path for error messages.
class Fields {
 public:
  Fields(const Json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) throw AppError(path_.empty() ? "(top level)" : path_, "expected an object, got " + type_name(object_));
  }
  std::string field(std::string_view name) const { return path_.empty() ? std::string(name) : path_ + "." + std::string(name); }
  const Json* find(std::string_view name) const {
    auto it = object_.find(std::string(name));
    return it == object_.end() ? nullptr : &*it;
  }
  void reject_unknown(std::initializer_list<std::string_view> known) const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      bool ok = false;
      for (auto name : known) ok = ok || it.key() == name;
      if (!ok) throw AppError(field(it.key()), "unknown field");
    }
  }
  std::string string(std::string_view name, bool required = true) const {
    const Json* value = find(name);
    if (value == nullptr) {
      if (required) throw AppError(field(name), "missing");
      return "";
    }
    if (!value->is_string() || value->get<std::string>().empty()) {
      throw AppError(field(name), "expected a non-empty string, got " + type_name(*value));
    }
    return value->get<std::string>();
  }
  std::optional<Time> seconds(std::string_view name, double min, double max) const {
    const Json* value = find(name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number() || value->get<double>() < min || value->get<double>() > max) {
      std::ostringstream range;
      range << "expected seconds between " << min << " and " << max << ", got " << value->dump();
      throw AppError(field(name), range.str());
    }
    return static_cast<Time>(std::llround(value->get<double>() * kSecond));
  }
  std::optional<std::int64_t> integer(std::string_view name, std::int64_t min, std::int64_t max) const {
    const Json* value = find(name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number_integer() || value->get<std::int64_t>() < min || value->get<std::int64_t>() > max) {
      throw AppError(field(name), "expected an integer between " + std::to_string(min) + " and " + std::to_string(max) +
                                      ", got " + value->dump());
    }
    return value->get<std::int64_t>();
  }
  std::optional<bool> boolean(std::string_view name) const {
    const Json* value = find(name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) throw AppError(field(name), "expected true or false, got " + type_name(*value));
    return value->get<bool>();
  }

 private:
  const Json& object_;
  std::string path_;
};

SensorRef parse_sensor(const Json& value, const std::string& field) {
  if (!value.is_string()) throw AppError(field, "expected \"<device>.<attribute>\", got " + type_name(value));
  const std::string text = value.get<std::string>();
  const auto dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == text.size() || text.find('.', dot + 1) != std::string::npos) {
    throw AppError(field, "expected \"<device>.<attribute>\", got \"" + text + "\"");
  }
  return SensorRef{text.substr(0, dot), text.substr(dot + 1)};
}

Quorum parse_quorum(const Json& value, const std::string& field, bool allow_none) {
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "ALL") return Quorum::all();
    if (text == "ANY") return Quorum::any();
    if (text == "NONE" && allow_none) return Quorum::none();
    if (text.rfind("AT_LEAST ", 0) == 0) {
      const std::string number = text.substr(9);
      if (!number.empty() && number.find_first_not_of("0123456789") == std::string::npos && number.size() < 6) {
        const auto k = static_cast<std::size_t>(std::stoul(number));
        if (k >= 1) return Quorum::at_least(k);
      }
    }
  }
  throw AppError(field, std::string("expected \"ALL\", \"ANY\", \"AT_LEAST k\" (k >= 1)") + (allow_none ? " or \"NONE\"" : "") +
                            ", got " + value.dump());
}

Expression parse_expression(const Json& value, const std::string& field) {
  if (!value.is_string()) throw AppError(field, "expected an expression string, got " + type_name(value));
  try {
    return Expression::parse(value.get<std::string>());
  } catch (const ExpressionError& e) {
    throw AppError(field, std::string("bad expression: ") + e.what());
  }
}

struct ActionSpec {
  std::string device;
  std::string command;
  Json args = Json::object();
  std::optional<Expression> condition;
  std::optional<Compensation> compensation;
  std::vector<std::pair<std::string, Expression>> on_success;
};

// The compiled form of a JSON app's logic, shared by the app's logic function.
struct CompiledLogic {
  std::optional<Expression> when;
  std::vector<ActionSpec> actions;
  std::vector<std::pair<std::string, Expression>> writes;

  LogicResult run(const LogicInput& input) const {
    // Expression errors propagate: the runtime aborts the transactuation with reason `logic`.
    if (when && !when->evaluate_bool(input)) return LogicResult::nothing("condition is false");
    LogicResult result;
    for (const auto& spec : actions) {
      if (spec.condition && !spec.condition->evaluate_bool(input)) continue;
      Actuation actuation{spec.device, spec.command, spec.args, spec.compensation, {}};
      for (const auto& [key, expression] : spec.on_success) actuation.writes_on_success[key] = expression.evaluate(input);
      result.actuations.push_back(std::move(actuation));
    }
    for (const auto& [key, expression] : writes) result.state_writes[key] = expression.evaluate(input);
    return result;
  }
};

void check_sensors_listed(const Expression& expression, const std::set<SensorRef>& listed, const std::string& field) {
  for (const auto& ref : expression.sensors()) {
    if (!listed.count(ref)) throw AppError(field, "uses sensor " + ref.text() + " which is not listed in sensing.sensors");
  }
}

}  // namespace

AppDefinition load_app(const Json& definition) {
  Fields top(definition, "");
  top.reject_unknown({"name", "description", "trigger", "sensing", "when", "actions", "state", "actuating", "lock_timeout_s"});
  AppDefinition app;
  app.name = top.string("name");
  app.source = definition;
  auto compiled = std::make_shared<CompiledLogic>();
  std::set<std::string> reads, writes;
  std::set<SensorRef> listed;

  // sensing first: expressions elsewhere are checked against its sensor list.
  if (const Json* sensing_json = top.find("sensing")) {
    Fields sensing(*sensing_json, "sensing");
    sensing.reject_unknown({"sensors", "freshness_s", "require", "tolerate_failed", "window", "wait_s"});
    if (const Json* sensors = sensing.find("sensors")) {
      if (!sensors->is_array()) throw AppError("sensing.sensors", "expected an array, got " + type_name(*sensors));
      for (std::size_t i = 0; i < sensors->size(); ++i) {
        const SensorRef ref = parse_sensor((*sensors)[i], "sensing.sensors[" + std::to_string(i) + "]");
        if (!listed.insert(ref).second) throw AppError("sensing.sensors[" + std::to_string(i) + "]", "lists " + ref.text() + " twice");
        app.sensing.sensors.push_back(ref);
      }
    }
    if (auto freshness = sensing.seconds("freshness_s", 0.001, 86400 * 7)) app.sensing.freshness = *freshness;
    if (auto wait = sensing.seconds("wait_s", 0, 3600)) app.sensing.wait_timeout = *wait;
    if (const Json* require = sensing.find("require")) {
      if (sensing.find("tolerate_failed")) throw AppError("sensing.tolerate_failed", "give either require or tolerate_failed, not both");
      app.sensing.require = parse_quorum(*require, "sensing.require", false);
    }
    if (auto tolerate = sensing.integer("tolerate_failed", 0, 1000)) {
      const auto n = static_cast<std::int64_t>(app.sensing.sensors.size());
      if (*tolerate >= n) throw AppError("sensing.tolerate_failed", "must be below the number of sensors (" + std::to_string(n) + ")");
      app.sensing.require = Quorum::at_least(static_cast<std::size_t>(n - *tolerate));
    }
    if (const Json* window_json = sensing.find("window")) {
      Fields window(*window_json, "sensing.window");
      window.reject_unknown({"from", "to"});
      const auto from = parse_time_of_day(window.string("from"));
      if (!from) throw AppError("sensing.window.from", "expected \"HH:MM\", got \"" + window.string("from") + "\"");
      const auto to = parse_time_of_day(window.string("to"));
      if (!to) throw AppError("sensing.window.to", "expected \"HH:MM\", got \"" + window.string("to") + "\"");
      app.sensing.window = TimeWindow{*from, *to};
    }
  }

  const Json* trigger_json = top.find("trigger");
  if (trigger_json == nullptr) throw AppError("trigger", "missing (give sensor, every_s or api)");
  Fields trigger(*trigger_json, "trigger");
  trigger.reject_unknown({"sensor", "when", "every_s", "api"});
  const int kinds = (trigger.find("sensor") != nullptr) + (trigger.find("every_s") != nullptr) + (trigger.find("api") != nullptr);
  if (kinds != 1) throw AppError("trigger", "give exactly one of sensor, every_s or api");
  if (const Json* sensor = trigger.find("sensor")) {
    SensorTrigger st{parse_sensor(*sensor, "trigger.sensor"), {}};
    if (const Json* when = trigger.find("when")) {
      auto condition = std::make_shared<Expression>(parse_expression(*when, "trigger.when"));
      if (!condition->sensors().empty() || !condition->state_keys().empty()) {
        throw AppError("trigger.when", "may only use trigger.* (the event), not sensor. or state. references");
      }
      st.predicate = [condition](const Reading& reading) {
        LogicInput input;
        input.trigger = Json{{"device", reading.device}, {"attribute", reading.attribute}, {"value", reading.value}};
        try {
          return condition->evaluate_bool(input);
        } catch (const ExpressionError&) {
          return false;  // a reading of an unexpected type does not trigger
        }
      };
    }
    app.sensor_triggers.push_back(std::move(st));
  } else if (trigger.find("when")) {
    throw AppError("trigger.when", "only allowed with a sensor trigger");
  }
  if (auto every = trigger.seconds("every_s", 0.001, 86400 * 7)) app.every = *every;
  if (auto api = trigger.boolean("api"); api && !*api) throw AppError("trigger.api", "must be true when given");

  auto note_expression = [&](const Expression& expression, const std::string& field) {
    check_sensors_listed(expression, listed, field);
    reads.insert(expression.state_keys().begin(), expression.state_keys().end());
  };
  if (const Json* when = top.find("when")) {
    compiled->when = parse_expression(*when, "when");
    note_expression(*compiled->when, "when");
  }

  if (const Json* actions = top.find("actions")) {
    if (!actions->is_array()) throw AppError("actions", "expected an array, got " + type_name(*actions));
    std::set<std::string> devices;
    for (std::size_t i = 0; i < actions->size(); ++i) {
      const std::string path = "actions[" + std::to_string(i) + "]";
      Fields action((*actions)[i], path);
      action.reject_unknown({"device", "command", "args", "if", "compensation", "on_success"});
      ActionSpec spec;
      spec.device = action.string("device");
      spec.command = action.string("command");
      if (const Json* args = action.find("args")) {
        if (!args->is_object()) throw AppError(path + ".args", "expected an object, got " + type_name(*args));
        spec.args = *args;
      }
      if (const Json* condition = action.find("if")) {
        spec.condition = parse_expression(*condition, path + ".if");
        note_expression(*spec.condition, path + ".if");
      }
      if (const Json* compensation_json = action.find("compensation")) {
        Fields compensation(*compensation_json, path + ".compensation");
        compensation.reject_unknown({"command", "args"});
        Compensation c{compensation.string("command"), Json::object()};
        if (const Json* args = compensation.find("args")) {
          if (!args->is_object()) throw AppError(path + ".compensation.args", "expected an object, got " + type_name(*args));
          c.args = *args;
        }
        spec.compensation = c;
      }
      if (const Json* on_success = action.find("on_success")) {
        if (!on_success->is_object()) throw AppError(path + ".on_success", "expected an object of key: expression, got " + type_name(*on_success));
        for (auto it = on_success->begin(); it != on_success->end(); ++it) {
          const std::string field = path + ".on_success." + it.key();
          Expression expression = parse_expression(it.value(), field);
          note_expression(expression, field);
          writes.insert(it.key());
          spec.on_success.emplace_back(it.key(), std::move(expression));
        }
      }
      devices.insert(spec.device);
      compiled->actions.push_back(std::move(spec));
    }
    app.actuators.assign(devices.begin(), devices.end());
  }

  if (const Json* state = top.find("state")) {
    if (!state->is_object()) throw AppError("state", "expected an object of key: expression, got " + type_name(*state));
    for (auto it = state->begin(); it != state->end(); ++it) {
      const std::string field = "state." + it.key();
      Expression expression = parse_expression(it.value(), field);
      note_expression(expression, field);
      writes.insert(it.key());
      compiled->writes.emplace_back(it.key(), std::move(expression));
    }
  }
  if (compiled->actions.empty() && compiled->writes.empty()) {
    throw AppError("actions", "the app does nothing: give at least one action or state write");
  }

  if (const Json* actuating_json = top.find("actuating")) {
    Fields actuating(*actuating_json, "actuating");
    actuating.reject_unknown({"require", "timeout_s", "retries", "on_failure", "compensate", "sequential"});
    if (const Json* require = actuating.find("require")) app.actuating.require = parse_quorum(*require, "actuating.require", true);
    if (auto timeout = actuating.seconds("timeout_s", 0.001, 3600)) app.actuating.timeout = *timeout;
    if (auto retries = actuating.integer("retries", 0, 100)) app.actuating.retries = static_cast<int>(*retries);
    if (actuating.find("on_failure")) {
      const std::string on_failure = actuating.string("on_failure");
      if (on_failure == "ABORT") app.actuating.on_failure = OnFailure::abort;
      else if (on_failure == "COMMIT_PARTIAL") app.actuating.on_failure = OnFailure::commit_partial;
      else throw AppError("actuating.on_failure", "expected \"ABORT\" or \"COMMIT_PARTIAL\", got \"" + on_failure + "\"");
    }
    if (auto compensate = actuating.boolean("compensate")) app.actuating.compensate = *compensate;
    if (auto sequential = actuating.boolean("sequential")) app.actuating.sequential = *sequential;
  }
  if (app.actuating.require.mode == QuorumMode::at_least && app.actuating.require.k > compiled->actions.size()) {
    throw AppError("actuating.require", "AT_LEAST " + std::to_string(app.actuating.require.k) + " but the app has only " +
                                            std::to_string(compiled->actions.size()) + " action(s)");
  }
  if (auto lock_timeout = top.seconds("lock_timeout_s", 0.001, 3600)) app.lock_timeout = *lock_timeout;

  app.state_reads.assign(reads.begin(), reads.end());
  app.state_writes.assign(writes.begin(), writes.end());
  app.logic = [compiled](const LogicInput& input) { return compiled->run(input); };
  validate(app);  // the runtime's own checks, with the same field names
  return app;
}

std::vector<AppDefinition> load_apps_text(std::string_view text) {
  Json document;
  try {
    document = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw AppError("", std::string("invalid JSON: ") + e.what());
  }
  std::vector<AppDefinition> apps;
  if (!document.is_array()) {
    apps.push_back(load_app(document));
    return apps;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < document.size(); ++i) {
    try {
      apps.push_back(load_app(document[i]));
    } catch (const AppError& e) {
      throw AppError("[" + std::to_string(i) + "]" + (e.field().empty() ? "" : "." + e.field()),
                     e.message());
    }
    if (!names.insert(apps.back().name).second) {
      throw AppError("[" + std::to_string(i) + "].name", "\"" + apps.back().name + "\" appears twice");
    }
  }
  return apps;
}

std::vector<AppDefinition> load_apps_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw AppError("", "cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return load_apps_text(buffer.str());
  } catch (const AppError& e) {
    throw AppError(e.field(), path.string() + ": " + e.message());
  }
}

void install_all(Runtime& runtime, std::vector<AppDefinition> apps) {
  for (const auto& app : apps) {
    if (runtime.app(app.name) != nullptr) throw AppError("name", "an app named \"" + app.name + "\" is already installed");
  }
  for (auto& app : apps) runtime.install(std::move(app));
}

}  // namespace homestead::transactuation
