#include "gateway/builtin_app_config.h"

#include <set>

#include "transactuation/builtin_apps.h"

namespace homestead::gateway {
namespace {

namespace tx = homestead::transactuation;
using nlohmann::json;

// Reads one app's settings object, naming every field as transactuations.builtin.<app>.<field>.
class Settings {
 public:
  Settings(const json& doc, std::string prefix, std::set<std::string> known) : doc_(doc), prefix_(std::move(prefix)) {
    if (!doc.is_object()) throw tx::AppError(prefix_, "expected an object of settings");
    for (const auto& [key, value] : doc.items()) {
      if (!known.count(key)) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        throw tx::AppError(field(key), "unknown setting (known: " + list + ")");
      }
    }
  }
  std::string field(const std::string& key) const { return prefix_ + "." + key; }

  std::string device(const std::string& key, bool required = true) const {
    const auto it = doc_.find(key);
    if (it == doc_.end()) {
      if (required) throw tx::AppError(field(key), "missing");
      return {};
    }
    if (!it->is_string() || it->get<std::string>().empty()) throw tx::AppError(field(key), "expected a device id");
    return *it;
  }
  std::vector<std::string> devices(const std::string& key, bool required = true) const {
    std::vector<std::string> out;
    const auto it = doc_.find(key);
    if (it == doc_.end()) {
      if (required) throw tx::AppError(field(key), "missing");
      return out;
    }
    if (!it->is_array() || (required && it->empty())) throw tx::AppError(field(key), "expected a non-empty array of device ids");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& v = (*it)[i];
      if (!v.is_string() || v.get<std::string>().empty()) {
        throw tx::AppError(field(key) + "[" + std::to_string(i) + "]", "expected a device id");
      }
      out.push_back(v);
    }
    return out;
  }
  // "device.attribute" entries.
  std::vector<tx::SensorRef> sensors(const std::string& key) const {
    std::vector<tx::SensorRef> out;
    const auto names = devices(key);
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto dot = names[i].find('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == names[i].size()) {
        throw tx::AppError(field(key) + "[" + std::to_string(i) + "]",
                           "expected \"<device>.<attribute>\", got \"" + names[i] + "\"");
      }
      out.push_back({names[i].substr(0, dot), names[i].substr(dot + 1)});
    }
    return out;
  }
  void seconds(const std::string& key, tx::Time& target) const {
    const auto it = doc_.find(key);
    if (it == doc_.end()) return;
    if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 7 * 24 * 3600) {
      throw tx::AppError(field(key), "expected a number of seconds in (0, 604800]");
    }
    target = static_cast<tx::Time>(it->get<double>() * tx::kSecond);
  }

 private:
  const json& doc_;
  std::string prefix_;
};

}  // namespace

std::vector<tx::AppDefinition> builtin_apps_from_config(const json& builtin) {
  const std::string root = "transactuations.builtin";
  if (!builtin.is_object()) throw tx::AppError(root, "expected an object of app name: settings");
  std::vector<tx::AppDefinition> apps;
  for (const auto& [name, doc] : builtin.items()) {
    const std::string prefix = root + "." + name;
    if (name == "intrusion_alarm") {
      Settings s(doc, prefix, {"motion", "strobe", "siren", "freshness_s"});
      tx::apps::IntrusionAlarmConfig c{s.sensors("motion"), s.device("strobe"), s.device("siren")};
      s.seconds("freshness_s", c.freshness);
      apps.push_back(tx::apps::intrusion_alarm(c));
    } else if (name == "fire_safety") {
      Settings s(doc, prefix, {"detectors", "sirens", "door_locks", "gas_valve", "freshness_s"});
      tx::apps::FireSafetyConfig c{s.sensors("detectors"), s.devices("sirens"), s.devices("door_locks", false),
                                   s.device("gas_valve", false)};
      s.seconds("freshness_s", c.freshness);
      apps.push_back(tx::apps::fire_safety(c));
    } else if (name == "energy_saver") {
      Settings s(doc, prefix, {"occupancy", "lights", "thermostat", "idle_s", "check_every_s", "freshness_s"});
      tx::apps::EnergySaverConfig c{s.sensors("occupancy"), s.devices("lights"), s.device("thermostat")};
      s.seconds("idle_s", c.idle);
      s.seconds("check_every_s", c.check_every);
      s.seconds("freshness_s", c.freshness);
      apps.push_back(tx::apps::energy_saver(c));
    } else if (name == "climate_guard") {
      Settings s(doc, prefix, {"windows", "hvac", "freshness_s"});
      tx::apps::ClimateGuardConfig c{s.sensors("windows"), s.device("hvac")};
      s.seconds("freshness_s", c.freshness);
      apps.push_back(tx::apps::climate_guard(c));
    } else if (name == "night_auto_lock") {
      Settings s(doc, prefix, {"contacts", "locks", "check_every_s", "freshness_s"});
      tx::apps::NightAutoLockConfig c{s.sensors("contacts"), s.devices("locks")};
      if (c.contacts.size() != c.locks.size()) {
        throw tx::AppError(prefix + ".locks", "needs one lock per contact (" + std::to_string(c.contacts.size()) +
                                                  " contacts, " + std::to_string(c.locks.size()) + " locks)");
      }
      s.seconds("check_every_s", c.check_every);
      s.seconds("freshness_s", c.freshness);
      apps.push_back(tx::apps::night_auto_lock(c));
    } else {
      throw tx::AppError(prefix, "unknown built-in app (known: climate_guard, energy_saver, fire_safety, "
                                 "intrusion_alarm, night_auto_lock)");
    }
  }
  return apps;
}

}  // namespace homestead::gateway
