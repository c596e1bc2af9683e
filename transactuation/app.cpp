#include "transactuation/app.h"

#include <cctype>
#include <set>

namespace homestead::transactuation {

const Reading* LogicInput::reading(const std::string& device, const std::string& attribute) const {
  auto it = readings.find(SensorRef{device, attribute});
  return it == readings.end() ? nullptr : &it->second;
}

const Json& LogicInput::state_value(const std::string& key) const {
  static const Json null_value;
  auto it = state.find(key);
  return it == state.end() ? null_value : it->second;
}

void validate(const AppDefinition& app) {
  if (app.name.empty()) throw AppError("name", "must not be empty");
  for (char c : app.name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      throw AppError("name", "may contain only letters, digits, '_' and '-', got \"" + app.name + "\"");
    }
  }
  if (!app.logic) throw AppError("logic", "missing");
  const auto& sensing = app.sensing;
  std::set<SensorRef> seen;
  for (const auto& ref : sensing.sensors) {
    if (ref.device.empty() || ref.attribute.empty()) throw AppError("sensing.sensors", "empty device or attribute");
    if (!seen.insert(ref).second) throw AppError("sensing.sensors", "lists " + ref.text() + " twice");
  }
  if (sensing.require.mode == QuorumMode::none) {
    throw AppError("sensing.require", "NONE is not a sensing policy (use ANY, ALL or AT_LEAST k)");
  }
  if (sensing.require.mode == QuorumMode::at_least &&
      (sensing.require.k == 0 || sensing.require.k > sensing.sensors.size())) {
    throw AppError("sensing.require", "AT_LEAST " + std::to_string(sensing.require.k) + " needs between 1 and " +
                                          std::to_string(sensing.sensors.size()) + " (the number of sensors)");
  }
  if (sensing.freshness <= 0) throw AppError("sensing.freshness", "must be positive");
  if (sensing.wait_timeout < 0) throw AppError("sensing.wait", "must not be negative");
  if (app.every && *app.every <= 0) throw AppError("trigger.every", "must be positive");
  if (app.actuating.timeout <= 0) throw AppError("actuating.timeout", "must be positive");
  if (app.actuating.retries < 0 || app.actuating.retries > 100) {
    throw AppError("actuating.retries", "must be between 0 and 100");
  }
  if (app.actuating.require.mode == QuorumMode::at_least && app.actuating.require.k == 0) {
    throw AppError("actuating.require", "AT_LEAST needs k >= 1");
  }
  if (app.lock_timeout <= 0) throw AppError("lock_timeout", "must be positive");
}

AppBuilder& AppBuilder::on_sensor(SensorRef sensor, std::function<bool(const Reading&)> predicate) {
  app_.sensor_triggers.push_back(SensorTrigger{std::move(sensor), std::move(predicate)});
  return *this;
}
AppBuilder& AppBuilder::every(Time period) { app_.every = period; return *this; }
AppBuilder& AppBuilder::sense(std::vector<SensorRef> sensors) { app_.sensing.sensors = std::move(sensors); return *this; }
AppBuilder& AppBuilder::fresh_within(Time freshness) { app_.sensing.freshness = freshness; return *this; }
AppBuilder& AppBuilder::require(Quorum quorum) { app_.sensing.require = quorum; return *this; }
AppBuilder& AppBuilder::tolerate_failed(std::size_t failed) {
  const std::size_t n = app_.sensing.sensors.size();
  app_.sensing.require = Quorum::at_least(failed >= n ? 1 : n - failed);
  return *this;
}
AppBuilder& AppBuilder::during(TimeWindow window) { app_.sensing.window = window; return *this; }
AppBuilder& AppBuilder::wait_for_sensing(Time timeout) { app_.sensing.wait_timeout = timeout; return *this; }
AppBuilder& AppBuilder::reads_state(std::vector<std::string> keys) {
  app_.state_reads.insert(app_.state_reads.end(), keys.begin(), keys.end());
  return *this;
}
AppBuilder& AppBuilder::writes_state(std::vector<std::string> keys) {
  app_.state_writes.insert(app_.state_writes.end(), keys.begin(), keys.end());
  return *this;
}
AppBuilder& AppBuilder::actuates(std::vector<std::string> devices) {
  app_.actuators.insert(app_.actuators.end(), devices.begin(), devices.end());
  return *this;
}
AppBuilder& AppBuilder::logic(Logic logic) { app_.logic = std::move(logic); return *this; }
AppBuilder& AppBuilder::actuating(Quorum quorum) { app_.actuating.require = quorum; return *this; }
AppBuilder& AppBuilder::actuation_timeout(Time timeout, int retries) {
  app_.actuating.timeout = timeout;
  app_.actuating.retries = retries;
  return *this;
}
AppBuilder& AppBuilder::on_failure(OnFailure on_failure, bool compensate) {
  app_.actuating.on_failure = on_failure;
  app_.actuating.compensate = compensate;
  return *this;
}
AppBuilder& AppBuilder::sequential() { app_.actuating.sequential = true; return *this; }
AppBuilder& AppBuilder::lock_timeout(Time timeout) { app_.lock_timeout = timeout; return *this; }

AppDefinition AppBuilder::build() const {
  validate(app_);
  return app_;
}

}  // namespace homestead::transactuation
