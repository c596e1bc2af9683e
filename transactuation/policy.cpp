#include "transactuation/policy.h"

#include <cstdio>

namespace homestead::transactuation {

const char* to_string(CommandStatus status) {
  switch (status) {
    case CommandStatus::ok: return "ok";
    case CommandStatus::error: return "error";
    case CommandStatus::unknown: return "unknown";
  }
  return "?";
}

const char* to_string(QuorumMode mode) {
  switch (mode) {
    case QuorumMode::all: return "ALL";
    case QuorumMode::any: return "ANY";
    case QuorumMode::at_least: return "AT_LEAST";
    case QuorumMode::none: return "NONE";
  }
  return "?";
}

const char* to_string(OnFailure on_failure) {
  return on_failure == OnFailure::abort ? "ABORT" : "COMMIT_PARTIAL";
}

bool Quorum::holds(std::size_t good, std::size_t total) const {
  switch (mode) {
    case QuorumMode::all: return good >= total;
    case QuorumMode::any: return total == 0 || good >= 1;
    case QuorumMode::at_least: return good >= k;
    case QuorumMode::none: return true;
  }
  return false;
}

std::string Quorum::text() const {
  if (mode == QuorumMode::at_least) return "AT_LEAST " + std::to_string(k);
  return to_string(mode);
}

bool TimeWindow::contains(Time now, Time utc_offset) const {
  const Time day = 86400;
  Time second = ((now + utc_offset) / kSecond) % day;
  if (second < 0) second += day;
  if (from_s == to_s) return true;  // a full day
  if (from_s < to_s) return second >= from_s && second < to_s;
  return second >= from_s || second < to_s;  // wraps midnight
}

static std::string hhmm(int seconds) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%02d:%02d", seconds / 3600, (seconds / 60) % 60);
  return buffer;
}

std::string TimeWindow::text() const { return hhmm(from_s) + "-" + hhmm(to_s); }

std::optional<int> parse_time_of_day(const std::string& text) {
  int h = 0, m = 0, s = 0;
  char tail = 0;
  const int fields = std::sscanf(text.c_str(), "%2d:%2d:%2d%c", &h, &m, &s, &tail);
  if (fields == 2) s = 0;
  if ((fields != 2 && fields != 3) || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59) return std::nullopt;
  if (text.size() != (fields == 2 ? 5u : 8u)) return std::nullopt;
  return h * 3600 + m * 60 + s;
}

SensingCheck check_sensing(const SensingPolicy& policy, const LatestReading& latest, Time now) {
  SensingCheck check;
  for (const SensorRef& ref : policy.sensors) {
    const Reading* reading = latest(ref);
    if (reading == nullptr) {
      check.failures.push_back(ref.text() + ": no reading");
      continue;
    }
    if (reading->value.is_null()) {
      check.failures.push_back(ref.text() + ": sensor reports failure");
      continue;
    }
    const Time age = now - reading->effective_time();
    if (age > policy.freshness) {
      check.failures.push_back(ref.text() + ": stale (age " + std::to_string(age / kMillisecond) + " ms > " +
                               std::to_string(policy.freshness / kMillisecond) + " ms)");
      continue;
    }
    check.usable.emplace(ref, *reading);
  }
  check.satisfied = policy.require.holds(check.usable.size(), policy.sensors.size());
  return check;
}

}  // namespace homestead::transactuation
