// Vector clock (seed section 3.5): consistent and strongly consistent, so comparing two
// timestamps tells exactly whether one event happened before the other or they are
// concurrent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clocks/lamport_clock.h"

namespace homestead::clocks {

enum class CausalOrder { before, after, equal, concurrent };
const char* to_string(CausalOrder order);

using VectorTimestamp = std::vector<std::uint64_t>;

// before: a[i] <= b[i] for all i and a != b; after: the reverse; equal; else concurrent.
// Throws std::invalid_argument when the sizes differ (timestamps from different systems).
CausalOrder compare(const VectorTimestamp& a, const VectorTimestamp& b);
bool happened_before(const VectorTimestamp& a, const VectorTimestamp& b);
std::string to_string(const VectorTimestamp& timestamp);

class VectorClock {
 public:
  VectorClock(ProcessId self, std::size_t processes);

  // Rule 1: before every event, advance our own entry.
  const VectorTimestamp& local_event();
  // The message carries the returned vector.
  const VectorTimestamp& send() { return local_event(); }
  // Rule 2: merge element-wise maximum, then rule 1, then deliver.
  const VectorTimestamp& receive(const VectorTimestamp& message);

  const VectorTimestamp& now() const { return entries_; }
  ProcessId self() const { return self_; }

 private:
  ProcessId self_;
  VectorTimestamp entries_;
};

}  // namespace homestead::clocks
