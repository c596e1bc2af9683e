#include "common/log/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace homestead::log {
namespace {

Level initial_level() {
  Level parsed = Level::info;
  if (const char* env = std::getenv("HOMESTEAD_LOG_LEVEL")) parse_level(env, parsed);
  return parsed;
}

std::atomic<Level>& current_level() {
  static std::atomic<Level> value{initial_level()};
  return value;
}

// Quote values that contain spaces, quotes or '=' so a line stays machine-splittable.
void append_value(std::string& out, const std::string& value) {
  bool needs_quotes = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') needs_quotes = true;
  }
  if (!needs_quotes) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}

}  // namespace

Level level() { return current_level().load(std::memory_order_relaxed); }
void set_level(Level value) { current_level().store(value, std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level& out) {
  static constexpr std::pair<std::string_view, Level> kNames[] = {
      {"trace", Level::trace}, {"debug", Level::debug}, {"info", Level::info},
      {"warn", Level::warn},   {"error", Level::error}, {"off", Level::off}};
  for (const auto& [name, value] : kNames) {
    if (name == text) {
      out = value;
      return true;
    }
  }
  return false;
}

std::string_view level_name(Level at) {
  switch (at) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "?";
}

std::string format_record(std::string_view timestamp, Level at, std::string_view component,
                          std::string_view message, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(96);
  line += timestamp;
  line += ' ';
  line += level_name(at);
  line += ' ';
  line += component;
  line += ": ";
  line += message;
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    append_value(line, value);
  }
  line += '\n';
  return line;
}

void Logger::write(Level at, std::string_view message, std::initializer_list<Field> fields) const {
  if (!enabled(at) || at == Level::off) return;
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  std::string line = format_record(stamp, at, component_, message, fields);
  // One fwrite per record so lines from different threads never interleave.
  static std::mutex write_mutex;
  std::lock_guard lock(write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace homestead::log
