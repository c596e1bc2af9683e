// The home description (JSON): rooms and the devices in them. Gateway and firmware-sim load
// the same file. Errors name the file, the field and the device:
//   "default.json: devices[4] (id 'hall_lock'): field 'kind': unknown kind 'lok' (known: ...)"
//
// {
//   "home": "default",                      id, [a-z0-9_-]{1,48}
//   "name": "Two-floor house",              optional
//   "rooms": [{"id": "hall", "name": "Hall", "floor": 0}],
//   "devices": [{
//     "id": "hall_motion", "kind": "motion", "room": "hall",
//     "name": "Hall motion",                optional, defaults to the id
//     "credentials": "hall_motion",         optional: broker username and key into the
//                                           credentials file (never a password); default the id
//     "initial_state": {"motion": false},   optional subset of the kind's capabilities
//     "sim": {...}                          optional, firmware-sim only (see firmware-sim/README.md)
//   }],
//   "environment": {...}                    optional, firmware-sim only
// }
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "devices/catalog.h"

namespace homestead::devices {

class HomeError : public std::runtime_error {
 public:
  HomeError(std::string field, const std::string& message) : std::runtime_error(message), field_(std::move(field)) {}
  // "devices[4].kind"; empty for whole-file problems.
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

struct Room {
  std::string id;
  std::string name;
  int floor = 0;
};

struct DeviceDescription {
  std::string id;
  const KindInfo* kind = nullptr;  // never null after loading
  std::string room;
  std::string name;
  std::string credentials;  // broker username / credentials-file key
  nlohmann::json initial_state = nlohmann::json::object();
  nlohmann::json sim = nlohmann::json::object();  // opaque here; firmware-sim validates it
};

struct Home {
  std::string id;
  std::string name;
  std::vector<Room> rooms;
  std::vector<DeviceDescription> devices;
  nlohmann::json environment = nlohmann::json::object();  // opaque here; firmware-sim validates it
  std::string source;                                     // file name, for later error messages

  const DeviceDescription* device(std::string_view id) const;
  const Room* room(std::string_view id) const;
};

Home load_home_file(const std::filesystem::path& path);
Home parse_home(std::string_view text, const std::string& source = "<home>");
Home home_from_json(const nlohmann::json& document, const std::string& source = "<home>");

// The full state a device starts with: the kind's defaults overlaid with initial_state.
nlohmann::json default_state(const KindInfo& kind);
nlohmann::json starting_state(const DeviceDescription& device);

}  // namespace homestead::devices
