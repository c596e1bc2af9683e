// The C++ API for apps: an AppDefinition says what triggers a transactuation, what it
// senses, which devices and state keys it may touch, its logic and its actuating policy.
// Build one with AppBuilder (or load JSON with json_app.h) and install it in the Runtime.
//
//   auto app = AppBuilder("intrusion_alarm")
//       .on_sensor({"motion", "motion"}, [](const Reading& r) { return r.value == true; })
//       .sense({{"motion", "motion"}}).fresh_within(5 * kSecond).require(Quorum::any())
//       .reads_state({"armed", "alarmActive"}).actuates({"strobe", "siren"})
//       .logic([](const LogicInput& in) { ... return result; })
//       .actuating(Quorum::any()).build();
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "transactuation/model.h"
#include "transactuation/policy.h"

namespace homestead::transactuation {

struct Compensation {
  std::string command;
  Json args = Json::object();
};

// One command the logic wants sent.
struct Actuation {
  std::string device;
  std::string command;
  Json args = Json::object();
  // Sent if the transactuation aborts after this actuation succeeded (and the policy allows).
  std::optional<Compensation> compensation;
  // State writes that claim this actuation: applied only if this actuation was acked ok.
  std::map<std::string, Json> writes_on_success;
};

struct LogicInput {
  TxnId txn = 0;
  Time now = 0;
  Json trigger;
  std::map<SensorRef, Reading> readings;  // only fresh, readable ones (the sensing policy's)
  std::map<std::string, Json> state;      // snapshot of the declared keys; null if unset

  // nullptr when the sensor is not among the usable readings.
  const Reading* reading(const std::string& device, const std::string& attribute) const;
  const Json& state_value(const std::string& key) const;
};

struct LogicResult {
  std::vector<Actuation> actuations;
  std::map<std::string, Json> state_writes;  // applied when the actuating policy holds
  std::string note;                          // why the logic decided what it did, for the record
  static LogicResult nothing(std::string why = "") {
    LogicResult result;
    result.note = std::move(why);
    return result;
  }
};

using Logic = std::function<LogicResult(const LogicInput&)>;

struct SensorTrigger {
  SensorRef sensor;
  std::function<bool(const Reading&)> predicate;  // empty = every reading
};

struct AppDefinition {
  std::string name;
  // Triggers: any matching sensor event, a period, or an explicit request (Runtime::trigger).
  std::vector<SensorTrigger> sensor_triggers;
  std::optional<Time> every;
  SensingPolicy sensing;
  std::vector<std::string> actuators;    // devices the logic may command
  std::vector<std::string> state_reads;  // keys the logic may read
  std::vector<std::string> state_writes; // keys the logic may write
  Logic logic;
  ActuatingPolicy actuating;
  Time lock_timeout = 10 * kSecond;  // waiting longer for conflicting ones aborts with `conflict`
  Json source;                       // the JSON definition, for apps loaded from JSON
};

class AppError : public std::runtime_error {
 public:
  AppError(std::string field, const std::string& message)
      : std::runtime_error(field.empty() ? message : "field '" + field + "': " + message),
        field_(std::move(field)),
        message_(message) {}
  const std::string& field() const { return field_; }
  const std::string& message() const { return message_; }  // without the field prefix

 private:
  std::string field_;
  std::string message_;
};

// Checks an app for mistakes a runtime cannot recover from (no logic, AT_LEAST k above the
// number of sensors, ...); throws AppError naming the field.
void validate(const AppDefinition& app);

class AppBuilder {
 public:
  explicit AppBuilder(std::string name) { app_.name = std::move(name); }
  AppBuilder& on_sensor(SensorRef sensor, std::function<bool(const Reading&)> predicate = {});
  AppBuilder& every(Time period);
  AppBuilder& sense(std::vector<SensorRef> sensors);
  AppBuilder& fresh_within(Time freshness);
  AppBuilder& require(Quorum quorum);
  AppBuilder& tolerate_failed(std::size_t failed);  // AT_LEAST (sensors - failed)
  AppBuilder& during(TimeWindow window);
  AppBuilder& wait_for_sensing(Time timeout);
  AppBuilder& reads_state(std::vector<std::string> keys);
  AppBuilder& writes_state(std::vector<std::string> keys);
  AppBuilder& actuates(std::vector<std::string> devices);
  AppBuilder& logic(Logic logic);
  AppBuilder& actuating(Quorum quorum);
  AppBuilder& actuation_timeout(Time timeout, int retries);
  AppBuilder& on_failure(OnFailure on_failure, bool compensate = true);
  AppBuilder& sequential();
  AppBuilder& lock_timeout(Time timeout);
  AppDefinition build() const;  // validates

 private:
  AppDefinition app_;
};

}  // namespace homestead::transactuation
