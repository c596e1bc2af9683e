// The pieces both versions of a built-in app run on in the latency benchmark: a clock that
// is real while the gateway works and skips the idle waits for devices, a queue of timed
// events, and the per-trial device latencies sampled from firmware-sim's model.
//
// Why a skipping clock rather than sleeping on the real clock: everything the gateway does
// (the runtime's work, the SQLite intent record's fsync, the naive app's callbacks) runs and
// is timed on the real clock, so the durable flush cost is measured as a user would see it;
// only the time in which the gateway would sit idle waiting for a device ack is skipped
// instead of slept. Sleeping would add the kernel's timer oversleep (tens to hundreds of
// microseconds on a shared machine, more than the overhead being measured) to both versions
// and make a run of a few hundred trials of 0.1-2.5 s devices take many minutes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "devices/catalog.h"
#include "firmware-sim/latency.h"
#include "transactuation/model.h"

namespace homestead::transactuation::bench {

inline Time steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class SkippingClock {
 public:
  explicit SkippingClock(Time base) : base_(base), start_(steady_us()) {}
  Time now() const { return base_ + (steady_us() - start_) + skipped_; }
  // Jumps forward to `when` (never backwards): the gateway would have been idle until then.
  void skip_to(Time when) {
    const Time current = now();
    if (when > current) skipped_ += when - current;
  }

 private:
  Time base_;
  Time start_;
  Time skipped_ = 0;
};

class EventQueue {
 public:
  void at(Time when, std::function<void()> event) { events_.emplace(when, std::move(event)); }
  std::optional<Time> next() const {
    if (events_.empty()) return std::nullopt;
    return events_.begin()->first;
  }
  // Runs every event due by now, including events that those schedule for now.
  void run_due(const SkippingClock& clock) {
    while (!events_.empty() && events_.begin()->first <= clock.now()) {
      auto node = events_.extract(events_.begin());
      node.mapped()();
    }
  }

 private:
  std::multimap<Time, std::function<void()>> events_;
};

// Actuation latency of each actuator in one trial, microseconds.
using TrialLatencies = std::map<std::string, Time>;

// Samples `trials` rows from firmware-sim's latency model, seeded: the same seed gives the
// same table, which both versions of an app then use trial by trial.
std::vector<TrialLatencies> sample_latencies(const std::map<std::string, devices::Kind>& actuators,
                                             firmware::LatencyMode mode, int trials, std::uint64_t seed);

}  // namespace homestead::transactuation::bench
