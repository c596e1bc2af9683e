#include "common/clocks/vector_clock.h"

#include <algorithm>
#include <stdexcept>

namespace homestead::clocks {

const char* to_string(CausalOrder order) {
  switch (order) {
    case CausalOrder::before: return "before";
    case CausalOrder::after: return "after";
    case CausalOrder::equal: return "equal";
    case CausalOrder::concurrent: return "concurrent";
  }
  return "?";
}

CausalOrder compare(const VectorTimestamp& a, const VectorTimestamp& b) {
  if (a.size() != b.size()) {
    throw std::invalid_argument("vector clocks of different sizes: " + std::to_string(a.size()) +
                                " vs " + std::to_string(b.size()));
  }
  bool some_less = false, some_greater = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    some_less = some_less || a[i] < b[i];
    some_greater = some_greater || a[i] > b[i];
  }
  if (some_less && some_greater) return CausalOrder::concurrent;
  if (some_less) return CausalOrder::before;
  if (some_greater) return CausalOrder::after;
  return CausalOrder::equal;
}

bool happened_before(const VectorTimestamp& a, const VectorTimestamp& b) {
  return compare(a, b) == CausalOrder::before;
}

std::string to_string(const VectorTimestamp& timestamp) {
  std::string out = "[";
  for (std::size_t i = 0; i < timestamp.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(timestamp[i]);
  }
  return out + "]";
}

VectorClock::VectorClock(ProcessId self, std::size_t processes) : self_(self), entries_(processes, 0) {
  if (self >= processes) throw std::invalid_argument("vector clock: process id out of range");
}

const VectorTimestamp& VectorClock::local_event() {
  ++entries_[self_];
  return entries_;
}

const VectorTimestamp& VectorClock::receive(const VectorTimestamp& message) {
  if (message.size() != entries_.size()) {
    throw std::invalid_argument("vector clock: message timestamp has " + std::to_string(message.size()) +
                                " entries, expected " + std::to_string(entries_.size()));
  }
  for (std::size_t k = 0; k < entries_.size(); ++k) entries_[k] = std::max(entries_[k], message[k]);
  return local_event();
}

}  // namespace homestead::clocks
