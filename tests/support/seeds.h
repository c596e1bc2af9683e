// gtest glue for seeded simulation tests: runs a body per seed and, on the first failing
// seed, stops and prints the exact command that reruns only that seed.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/sim/seeds.h"

namespace homestead::testing {

inline std::string current_test_filter() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? std::string(info->test_suite_name()) + "." + info->name() : std::string();
}

// body(seed) runs the scenario; use gtest assertions inside it.
template <class Body>
void for_each_seed(std::size_t default_count, Body&& body) {
  for (std::uint64_t seed : sim::seeds_to_run(default_count)) {
    body(seed);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "failing seed " << seed << "; rerun just it with:\n  "
                    << sim::rerun_command(seed, current_test_filter())
                    << "\n(prefix HOMESTEAD_SIM_TRACE=1 to write each simulator's message trace to a file)";
      return;
    }
  }
}

}  // namespace homestead::testing
