// Structured logging: one line per record to stderr, with level, component and key=value
// fields. Level from HOMESTEAD_LOG_LEVEL (trace|debug|info|warn|error|off), default info.
// Secrets must never be passed as fields; callers log identifiers, not credentials.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace homestead::log {

enum class Level { trace = 0, debug, info, warn, error, off };

Level level();
void set_level(Level level);
// Parses "trace".."off"; returns false for anything else.
bool parse_level(std::string_view text, Level& out);
std::string_view level_name(Level level);

using Field = std::pair<std::string_view, std::string>;

class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  bool enabled(Level at) const { return at >= level(); }
  void write(Level at, std::string_view message, std::initializer_list<Field> fields = {}) const;

  void trace(std::string_view m, std::initializer_list<Field> f = {}) const { write(Level::trace, m, f); }
  void debug(std::string_view m, std::initializer_list<Field> f = {}) const { write(Level::debug, m, f); }
  void info(std::string_view m, std::initializer_list<Field> f = {}) const { write(Level::info, m, f); }
  void warn(std::string_view m, std::initializer_list<Field> f = {}) const { write(Level::warn, m, f); }
  void error(std::string_view m, std::initializer_list<Field> f = {}) const { write(Level::error, m, f); }

  const std::string& component() const { return component_; }

 private:
  std::string component_;
};

// Formats one record without writing it (used by write() and by tests).
std::string format_record(std::string_view timestamp, Level at, std::string_view component,
                          std::string_view message, std::initializer_list<Field> fields);

}  // namespace homestead::log
