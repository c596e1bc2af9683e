// TrueTime-style interval clock (seed chapter 9, Spanner): now() returns an interval
// [earliest, latest] guaranteed to contain true time, given an uncertainty bound epsilon
// that the caller injects (tests) or derives from its time sync (production).
#pragma once

#include <cstdint>
#include <functional>

namespace homestead::clocks {

struct TimeInterval {
  std::int64_t earliest = 0;
  std::int64_t latest = 0;
};

class TrueTimeClock {
 public:
  using PhysicalClock = std::function<std::int64_t()>;
  using Uncertainty = std::function<std::int64_t()>;  // epsilon, >= 0

  TrueTimeClock(PhysicalClock physical, Uncertainty epsilon);

  TimeInterval now() const;
  // True time is definitely later than t.
  bool after(std::int64_t t) const { return now().earliest > t; }
  // True time is definitely earlier than t.
  bool before(std::int64_t t) const { return now().latest < t; }
  // Commit wait: how much longer (in clock units) until after(t) holds; 0 if it already does.
  std::int64_t wait_until_after(std::int64_t t) const;

 private:
  PhysicalClock physical_;
  Uncertainty epsilon_;
};

}  // namespace homestead::clocks
