// Hybrid logical clock (Kulkarni et al., 2014): timestamps (l, c) where l tracks the
// largest physical time seen and c counts events within the same l. Like Lamport it
// captures happens-before; unlike Lamport, l stays within the clock offset of physical time,
// so timestamps are meaningful to humans and usable for snapshot reads.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace homestead::clocks {

struct HlcTimestamp {
  std::int64_t wall = 0;       // l: max physical time seen, in the physical clock's unit
  std::uint32_t logical = 0;   // c
  auto operator<=>(const HlcTimestamp&) const = default;
  std::string to_string() const;
};

class HybridLogicalClock {
 public:
  using PhysicalClock = std::function<std::int64_t()>;

  // max_offset bounds how far ahead of our physical clock a remote timestamp may be; a
  // message beyond it is refused (a peer with a broken clock must not drag ours forward).
  HybridLogicalClock(PhysicalClock physical, std::int64_t max_offset);

  HlcTimestamp now();  // local or send event
  // Receive event; nullopt (clock unchanged) when the message is more than max_offset ahead.
  std::optional<HlcTimestamp> update(const HlcTimestamp& message);
  HlcTimestamp last() const { return last_; }

 private:
  PhysicalClock physical_;
  std::int64_t max_offset_;
  HlcTimestamp last_;
};

}  // namespace homestead::clocks
