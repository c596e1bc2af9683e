#include "common/clocks/truetime.h"

#include <stdexcept>

namespace homestead::clocks {

TrueTimeClock::TrueTimeClock(PhysicalClock physical, Uncertainty epsilon)
    : physical_(std::move(physical)), epsilon_(std::move(epsilon)) {}

TimeInterval TrueTimeClock::now() const {
  const std::int64_t t = physical_();
  const std::int64_t e = epsilon_();
  if (e < 0) throw std::logic_error("TrueTime uncertainty must not be negative");
  return {t - e, t + e};
}

std::int64_t TrueTimeClock::wait_until_after(std::int64_t t) const {
  const TimeInterval interval = now();
  return interval.earliest > t ? 0 : t - interval.earliest + 1;
}

}  // namespace homestead::clocks
