// Small helpers shared by the Raft adapter's files (raft_server.cpp, raft_server_snapshot.cpp).
#pragma once

#include <chrono>
#include <cstdint>

#include "common/log/log.h"

namespace homestead::cloudd {

using SteadyClock = std::chrono::steady_clock;

inline const log::Logger& raft_logger() {
  static const log::Logger instance("cloudd.raft");
  return instance;
}

inline std::int64_t micros_since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count();
}

}  // namespace homestead::cloudd
