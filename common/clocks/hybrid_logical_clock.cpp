#include "common/clocks/hybrid_logical_clock.h"

#include <algorithm>

namespace homestead::clocks {

std::string HlcTimestamp::to_string() const { return std::to_string(wall) + "." + std::to_string(logical); }

HybridLogicalClock::HybridLogicalClock(PhysicalClock physical, std::int64_t max_offset)
    : physical_(std::move(physical)), max_offset_(max_offset) {}

HlcTimestamp HybridLogicalClock::now() {
  const std::int64_t pt = physical_();
  if (pt > last_.wall) {
    last_ = {pt, 0};
  } else {
    ++last_.logical;
  }
  return last_;
}

std::optional<HlcTimestamp> HybridLogicalClock::update(const HlcTimestamp& message) {
  const std::int64_t pt = physical_();
  if (message.wall - pt > max_offset_) return std::nullopt;
  const std::int64_t wall = std::max({last_.wall, message.wall, pt});
  std::uint32_t logical = 0;
  if (wall == last_.wall && wall == message.wall) {
    logical = std::max(last_.logical, message.logical) + 1;
  } else if (wall == last_.wall) {
    logical = last_.logical + 1;
  } else if (wall == message.wall) {
    logical = message.logical + 1;
  }
  last_ = {wall, logical};
  return last_;
}

}  // namespace homestead::clocks
