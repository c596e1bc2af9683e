#include "common/clocks/matrix_clock.h"

#include <algorithm>
#include <stdexcept>

namespace homestead::clocks {

MatrixClock::MatrixClock(ProcessId self, std::size_t processes)
    : self_(self), rows_(processes, VectorTimestamp(processes, 0)) {
  if (self >= processes) throw std::invalid_argument("matrix clock: process id out of range");
}

const MatrixTimestamp& MatrixClock::local_event() {
  ++rows_[self_][self_];
  return rows_;
}

const MatrixTimestamp& MatrixClock::receive(ProcessId from, const MatrixTimestamp& message) {
  const std::size_t n = rows_.size();
  if (message.size() != n || from >= n) throw std::invalid_argument("matrix clock: message of wrong shape");
  for (std::size_t k = 0; k < n; ++k) {
    if (message[k].size() != n) throw std::invalid_argument("matrix clock: message of wrong shape");
    for (std::size_t l = 0; l < n; ++l) rows_[k][l] = std::max(rows_[k][l], message[k][l]);
  }
  // What the sender knew is now part of what we know.
  for (std::size_t l = 0; l < n; ++l) rows_[self_][l] = std::max(rows_[self_][l], message[from][l]);
  return local_event();
}

std::uint64_t MatrixClock::seen_by_all(ProcessId j) const {
  std::uint64_t low = UINT64_MAX;
  for (const auto& row : rows_) low = std::min(low, row.at(j));
  return low;
}

}  // namespace homestead::clocks
