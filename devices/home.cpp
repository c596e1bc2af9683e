#include "devices/home.h"

#include <fstream>
#include <set>
#include <sstream>

#include "devices/payloads.h"
#include "devices/topics.h"

namespace homestead::devices {
namespace {

// Reports errors as "<source>: <where>field '<path>': <message>".
class Checker {
 public:
  explicit Checker(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message, const std::string& device_label = "") const {
    std::string where = device_label.empty() ? "" : device_label + ": ";
    throw HomeError(path, source_ + ": " + where + "field '" + path + "': " + message);
  }

  std::string id(const nlohmann::json& obj, const std::string& path, const std::string& label = "") const {
    auto it = obj.find("id");
    if (it == obj.end()) fail(path + ".id", "missing", label);
    if (!it->is_string() || !valid_id(it->get_ref<const std::string&>())) {
      fail(path + ".id", "expected 1..48 characters of a-z, 0-9, _ or -, got " + it->dump(), label);
    }
    return it->get<std::string>();
  }

  std::string optional_string(const nlohmann::json& obj, const std::string& path, const char* name,
                              const std::string& fallback, const std::string& label = "") const {
    auto it = obj.find(name);
    if (it == obj.end()) return fallback;
    if (!it->is_string()) fail(path + "." + name, "expected a string, got " + it->dump(), label);
    return it->get<std::string>();
  }

  void only(const nlohmann::json& obj, const std::string& path, std::initializer_list<std::string_view> known,
            const std::string& label = "") const {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool ok = false;
      for (auto k : known) ok = ok || it.key() == k;
      if (!ok) fail(path.empty() ? it.key() : path + "." + it.key(), "unknown field", label);
    }
  }

 private:
  std::string source_;
};

}  // namespace

const DeviceDescription* Home::device(std::string_view wanted) const {
  for (const auto& d : devices)
    if (d.id == wanted) return &d;
  return nullptr;
}

const Room* Home::room(std::string_view wanted) const {
  for (const auto& r : rooms)
    if (r.id == wanted) return &r;
  return nullptr;
}

nlohmann::json default_state(const KindInfo& kind) {
  nlohmann::json state = nlohmann::json::object();
  for (const auto& cap : kind.capabilities) {
    switch (cap.type) {
      case ValueType::boolean: state[cap.name] = false; break;
      case ValueType::integer: state[cap.name] = static_cast<std::int64_t>(cap.min); break;
      case ValueType::number: state[cap.name] = cap.min > 0 || cap.max < 0 ? cap.min : 0.0; break;
      case ValueType::enumeration: state[cap.name] = cap.values.front(); break;
    }
  }
  // Defaults a real device would show on first power-up.
  if (kind.kind == Kind::lock) state["lock"] = "locked";
  if (kind.kind == Kind::thermostat) {
    state["setpoint"] = 20.0;
    state["mode"] = "heat";
    state["current_temperature"] = 20.0;
  }
  if (kind.kind == Kind::temperature) state["temperature"] = 20.0;
  if (kind.kind == Kind::humidity) state["humidity"] = 45.0;
  return state;
}

nlohmann::json starting_state(const DeviceDescription& device) {
  nlohmann::json state = default_state(*device.kind);
  for (auto it = device.initial_state.begin(); it != device.initial_state.end(); ++it) state[it.key()] = it.value();
  return state;
}

Home home_from_json(const nlohmann::json& doc, const std::string& source) {
  Checker check(source);
  if (!doc.is_object()) throw HomeError("", source + ": the top level must be a JSON object");
  check.only(doc, "", {"home", "name", "rooms", "devices", "environment"});
  Home home;
  home.source = source;
  auto home_id = doc.find("home");
  if (home_id == doc.end()) check.fail("home", "missing");
  if (!home_id->is_string() || !valid_id(home_id->get_ref<const std::string&>())) {
    check.fail("home", "expected 1..48 characters of a-z, 0-9, _ or -, got " + home_id->dump());
  }
  home.id = home_id->get<std::string>();
  home.name = check.optional_string(doc, "", "name", home.id);
  if (home.name.empty()) home.name = home.id;

  auto rooms = doc.find("rooms");
  if (rooms == doc.end() || !rooms->is_array() || rooms->empty()) check.fail("rooms", "expected a non-empty array of rooms");
  for (std::size_t i = 0; i < rooms->size(); ++i) {
    const auto& r = (*rooms)[i];
    const std::string path = "rooms[" + std::to_string(i) + "]";
    if (!r.is_object()) check.fail(path, "expected an object");
    check.only(r, path, {"id", "name", "floor"});
    Room room;
    room.id = check.id(r, path);
    if (home.room(room.id)) check.fail(path + ".id", "duplicate room id '" + room.id + "'");
    room.name = check.optional_string(r, path, "name", room.id);
    if (auto f = r.find("floor"); f != r.end()) {
      if (!f->is_number_integer()) check.fail(path + ".floor", "expected an integer, got " + f->dump());
      room.floor = f->get<int>();
    }
    home.rooms.push_back(std::move(room));
  }

  auto devices = doc.find("devices");
  if (devices == doc.end() || !devices->is_array() || devices->empty()) {
    check.fail("devices", "expected a non-empty array of devices");
  }
  std::set<std::string> usernames;
  for (std::size_t i = 0; i < devices->size(); ++i) {
    const auto& d = (*devices)[i];
    const std::string path = "devices[" + std::to_string(i) + "]";
    if (!d.is_object()) check.fail(path, "expected an object");
    DeviceDescription dev;
    dev.id = check.id(d, path);
    const std::string label = path + " (id '" + dev.id + "')";
    check.only(d, path, {"id", "kind", "room", "name", "credentials", "initial_state", "sim"}, label);
    if (home.device(dev.id)) check.fail(path + ".id", "duplicate device id '" + dev.id + "'", label);
    auto kind = d.find("kind");
    if (kind == d.end()) check.fail(path + ".kind", "missing", label);
    if (!kind->is_string() || !(dev.kind = find_kind(kind->get_ref<const std::string&>()))) {
      check.fail(path + ".kind", "unknown kind " + kind->dump() + " (known: " + kind_names() + ")", label);
    }
    auto room = d.find("room");
    if (room == d.end()) check.fail(path + ".room", "missing", label);
    if (!room->is_string() || !home.room(room->get_ref<const std::string&>())) {
      check.fail(path + ".room", "no room " + room->dump() + " in rooms", label);
    }
    dev.room = room->get<std::string>();
    dev.name = check.optional_string(d, path, "name", dev.id, label);
    dev.credentials = check.optional_string(d, path, "credentials", dev.id, label);
    if (!valid_id(dev.credentials)) {
      check.fail(path + ".credentials", "expected a credentials name of a-z, 0-9, _ or -, got \"" + dev.credentials + "\"", label);
    }
    if (!usernames.insert(dev.credentials).second) {
      check.fail(path + ".credentials", "\"" + dev.credentials + "\" is already used by another device; each device has its own", label);
    }
    if (auto init = d.find("initial_state"); init != d.end()) {
      try {
        validate_state(*dev.kind, *init, path + ".initial_state", /*require_all=*/false);
      } catch (const PayloadError& e) {
        check.fail(e.field(), e.message(), label);
      }
      dev.initial_state = *init;
    }
    if (auto sim = d.find("sim"); sim != d.end()) {
      if (!sim->is_object()) check.fail(path + ".sim", "expected an object", label);
      dev.sim = *sim;
    }
    home.devices.push_back(std::move(dev));
  }
  if (auto env = doc.find("environment"); env != doc.end()) {
    if (!env->is_object()) check.fail("environment", "expected an object");
    home.environment = *env;
  }
  return home;
}

Home parse_home(std::string_view text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw HomeError("", source + ": invalid JSON: " + e.what());
  }
  return home_from_json(doc, source);
}

Home load_home_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw HomeError("", path.string() + ": cannot open home file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_home(buffer.str(), path.string());
}

}  // namespace homestead::devices
