// Sensing and actuating policies and their pure evaluation. A policy is data; checking it
// needs only the readings at hand and the injected time, so it is unit-testable alone.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "transactuation/model.h"

namespace homestead::transactuation {

// How many of n things (fresh sensors, successful actuations) must hold.
enum class QuorumMode { all, any, at_least, none };

struct Quorum {
  QuorumMode mode = QuorumMode::all;
  std::size_t k = 0;  // for at_least

  static Quorum all() { return {QuorumMode::all, 0}; }
  static Quorum any() { return {QuorumMode::any, 0}; }
  static Quorum at_least(std::size_t k) { return {QuorumMode::at_least, k}; }
  static Quorum none() { return {QuorumMode::none, 0}; }

  // True when `good` out of `total` meet the rule. ANY over zero items holds (nothing was
  // asked for); AT_LEAST k over fewer than k items never holds.
  bool holds(std::size_t good, std::size_t total) const;
  // True while the rule can still hold if every undecided item turns out good.
  bool still_possible(std::size_t good, std::size_t undecided, std::size_t total) const {
    return holds(good + undecided, total);
  }
  std::string text() const;  // "ALL", "ANY", "AT_LEAST 2", "NONE"
};

// Seconds of the local day [from, to); from > to wraps midnight (22:00-06:00).
struct TimeWindow {
  int from_s = 0;
  int to_s = 0;
  bool contains(Time now, Time utc_offset) const;
  std::string text() const;  // "22:00-06:00"
};
// Parses "HH:MM" or "HH:MM:SS" into seconds of the day; nullopt when malformed.
std::optional<int> parse_time_of_day(const std::string& text);

struct SensingPolicy {
  std::vector<SensorRef> sensors;
  Time freshness = 60 * kSecond;  // a reading older than this counts as failed
  Quorum require = Quorum::all();
  std::optional<TimeWindow> window;
  Time wait_timeout = 0;  // how long to wait for the policy to hold before aborting
};

struct SensingCheck {
  bool satisfied = false;
  // Only the readings that are present, readable (non-null) and fresh: all the logic sees.
  std::map<SensorRef, Reading> usable;
  std::vector<std::string> failures;  // "hall.motion: stale (age 75000 ms > 60000 ms)"
};

using LatestReading = std::function<const Reading*(const SensorRef&)>;
SensingCheck check_sensing(const SensingPolicy& policy, const LatestReading& latest, Time now);

enum class OnFailure { abort, commit_partial };

struct ActuatingPolicy {
  Quorum require = Quorum::all();
  Time timeout = 2 * kSecond;  // per attempt of one actuation
  int retries = 2;             // extra attempts with the same cmd_id after a timeout
  OnFailure on_failure = OnFailure::abort;
  bool compensate = true;      // on abort, send the declared compensations of succeeded ones
  bool sequential = false;     // one actuation at a time, in order (close window, then cool)
};

const char* to_string(QuorumMode mode);
const char* to_string(OnFailure on_failure);

}  // namespace homestead::transactuation
