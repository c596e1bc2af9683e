// Seeded random numbers for the simulator. Hand-rolled (splitmix64 seeding a xoshiro256**)
// rather than std::uniform_*_distribution, whose output differs between standard libraries:
// a seed must reproduce the same run on every machine, including the aarch64 build.
#pragma once

#include <cstdint>

namespace homestead::sim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);

  std::uint64_t next();
  // Uniform in [lo, hi] (inclusive); lo <= hi.
  std::int64_t uniform(std::int64_t lo, std::int64_t hi);
  // Uniform in [0, 1).
  double unit();
  // True with probability p (p <= 0 never, p >= 1 always).
  bool chance(double p);
  // An independent generator for a sub-component, so adding randomness in one place does
  // not shift every later draw elsewhere.
  Rng fork();

 private:
  std::uint64_t state_[4];
};

}  // namespace homestead::sim
