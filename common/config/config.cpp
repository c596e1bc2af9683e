#include "common/config/config.h"

#include <fstream>
#include <sstream>

namespace homestead::config {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : path) {
    if (c == '.') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!path.empty()) parts.push_back(current);
  return parts;
}

std::string shown(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Turns nlohmann's byte offset into "line L, column C" for humans.
std::string position_of(std::string_view text, std::size_t byte) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

}  // namespace

std::string json_type_name(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "boolean";
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  if (value.is_string()) return "string";
  if (value.is_array()) return "array";
  return "object";
}

Config Config::load_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("", path.string() + ": cannot open config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str(), path.string());
}

Config Config::parse(std::string_view text, std::string source) {
  try {
    return from_json(nlohmann::json::parse(text), source);
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError("", source + ": invalid JSON at " + position_of(text, e.byte == 0 ? 0 : e.byte - 1) +
                              ": " + e.what());
  }
}

Config Config::from_json(nlohmann::json document, std::string source) {
  if (!document.is_object()) {
    throw ConfigError("", source + ": the top level must be a JSON object, got " +
                              json_type_name(document));
  }
  return Config(std::move(document), std::move(source));
}

void Config::fail(std::string_view path, const std::string& what) const {
  throw ConfigError(std::string(path), source_ + ": field '" + std::string(path) + "': " + what);
}

const nlohmann::json* Config::find(std::string_view path) const {
  const nlohmann::json* node = &document_;
  for (const auto& part : split_path(path)) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(part);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

bool Config::has(std::string_view path) const { return find(path) != nullptr; }

std::string Config::get_string(std::string_view path, std::string fallback) const {
  const auto* value = find(path);
  if (!value) return fallback;
  if (!value->is_string()) fail(path, "expected a string, got " + json_type_name(*value) + " " + shown(*value));
  return value->get<std::string>();
}

std::string Config::require_string(std::string_view path) const {
  const auto* value = find(path);
  if (!value) fail(path, "is required but missing");
  return get_string(path, "");
}

bool Config::get_bool(std::string_view path, bool fallback) const {
  const auto* value = find(path);
  if (!value) return fallback;
  if (!value->is_boolean()) fail(path, "expected true or false, got " + json_type_name(*value) + " " + shown(*value));
  return value->get<bool>();
}

std::int64_t Config::get_int(std::string_view path, std::int64_t fallback, std::int64_t min,
                             std::int64_t max) const {
  const auto* value = find(path);
  if (!value) return fallback;
  std::string range = (min == INT64_MIN && max == INT64_MAX)
                          ? std::string("an integer")
                          : "an integer between " + std::to_string(min) + " and " + std::to_string(max);
  if (!value->is_number_integer()) fail(path, "expected " + range + ", got " + json_type_name(*value) + " " + shown(*value));
  std::int64_t number = value->get<std::int64_t>();
  if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    fail(path, "expected " + range + ", got " + shown(*value));
  }
  if (number < min || number > max) fail(path, "expected " + range + ", got " + shown(*value));
  return number;
}

double Config::get_double(std::string_view path, double fallback) const {
  const auto* value = find(path);
  if (!value) return fallback;
  if (!value->is_number()) fail(path, "expected a number, got " + json_type_name(*value) + " " + shown(*value));
  return value->get<double>();
}

std::vector<std::string> Config::get_string_list(std::string_view path,
                                                 std::vector<std::string> fallback) const {
  const auto* value = find(path);
  if (!value) return fallback;
  if (!value->is_array()) fail(path, "expected an array of strings, got " + json_type_name(*value));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const auto& item = (*value)[i];
    if (!item.is_string()) {
      fail(std::string(path) + "[" + std::to_string(i) + "]",
           "expected a string, got " + json_type_name(item) + " " + shown(item));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

void Config::reject_unknown(std::string_view path, std::initializer_list<std::string_view> known) const {
  const auto* node = path.empty() ? &document_ : find(path);
  if (!node) return;
  if (!node->is_object()) fail(path, "expected an object, got " + json_type_name(*node));
  for (const auto& [key, value] : node->items()) {
    bool ok = false;
    for (auto name : known) ok = ok || name == key;
    if (!ok) {
      std::string full = path.empty() ? key : std::string(path) + "." + key;
      std::string list;
      for (auto name : known) list += (list.empty() ? "" : ", ") + std::string(name);
      fail(full, "unknown setting (known here: " + list + ")");
    }
  }
}

}  // namespace homestead::config
