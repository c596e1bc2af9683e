// Home Assistant MQTT discovery: one retained config document per device, published at
// homeassistant/<component>/<home>_<device>/config, so a real Home Assistant subscribed to
// the same broker shows every device with availability, state and (for actuators) controls.
// HA's templates build our command payloads, including a fresh cmd_id per press.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "devices/catalog.h"

namespace homestead::devices {

struct DiscoveryDevice {
  std::string home;
  std::string id;
  std::string name;  // human name; defaults to the id
  std::string room;  // becomes HA's suggested_area
};

std::string discovery_topic(const KindInfo& kind, std::string_view home, std::string_view device);
nlohmann::json discovery_document(const KindInfo& kind, const DiscoveryDevice& device);

}  // namespace homestead::devices
