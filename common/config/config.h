// JSON configuration with errors that name the bad field ("gateway.json: field 'mqtt.port':
// expected an integer between 1 and 65535, got \"abc\""). Every setting a binary reads
// comes with a default at the call site, so an empty file is a valid config.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace homestead::config {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string field, const std::string& message)
      : std::runtime_error(message), field_(std::move(field)) {}
  // Dotted path of the offending field; empty for whole-file problems (syntax, missing file).
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

class Config {
 public:
  // Throws ConfigError naming the file and the line/column of a syntax error.
  static Config load_file(const std::filesystem::path& path);
  static Config parse(std::string_view text, std::string source = "<config>");
  static Config from_json(nlohmann::json document, std::string source = "<config>");

  // Dotted paths ("mqtt.port"). A missing field gives the default; a present field of the
  // wrong type or out of range is an error naming it.
  std::string get_string(std::string_view path, std::string fallback) const;
  bool get_bool(std::string_view path, bool fallback) const;
  std::int64_t get_int(std::string_view path, std::int64_t fallback,
                       std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX) const;
  double get_double(std::string_view path, double fallback) const;
  std::vector<std::string> get_string_list(std::string_view path,
                                           std::vector<std::string> fallback) const;
  std::string require_string(std::string_view path) const;
  bool has(std::string_view path) const;
  // The raw JSON value at a path (null if absent) for structured sections.
  const nlohmann::json* find(std::string_view path) const;

  // Fields present in the object at `path` ("" = root) but not in `known` are errors, so a
  // misspelt setting is reported instead of silently taking its default.
  void reject_unknown(std::string_view path, std::initializer_list<std::string_view> known) const;

  const std::string& source() const { return source_; }
  const nlohmann::json& document() const { return document_; }

 private:
  Config(nlohmann::json document, std::string source)
      : document_(std::move(document)), source_(std::move(source)) {}
  [[noreturn]] void fail(std::string_view path, const std::string& what) const;

  nlohmann::json document_;
  std::string source_;
};

// "string", "integer", ... for error messages.
std::string json_type_name(const nlohmann::json& value);

}  // namespace homestead::config
