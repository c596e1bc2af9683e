#include "common/sim/seeds.h"

#include <cstdlib>
#include <fstream>
#include <string>

namespace homestead::sim {
namespace {

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  return (end && *end == '\0') ? value : fallback;
}

std::string self_executable() {
  std::ifstream cmdline("/proc/self/cmdline");
  std::string argv0;
  std::getline(cmdline, argv0, '\0');
  return argv0.empty() ? "<test binary>" : argv0;
}

}  // namespace

std::vector<std::uint64_t> seeds_to_run(std::size_t default_count) {
  if (std::getenv("HOMESTEAD_SEED")) return {env_number("HOMESTEAD_SEED", 1)};
  std::uint64_t count = env_number("HOMESTEAD_SEEDS", default_count);
  if (env_number("HOMESTEAD_SOAK", 0) != 0 && !std::getenv("HOMESTEAD_SEEDS")) count *= 10;
  const std::uint64_t base = env_number("HOMESTEAD_SEED_BASE", 1);
  std::vector<std::uint64_t> seeds;
  seeds.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) seeds.push_back(base + i);
  return seeds;
}

bool trace_requested() { return env_number("HOMESTEAD_SIM_TRACE", 0) != 0; }

std::string rerun_command(std::uint64_t seed, const std::string& test_filter) {
  std::string command = "HOMESTEAD_SEED=" + std::to_string(seed) + " " + self_executable();
  if (!test_filter.empty()) command += " --gtest_filter='" + test_filter + "'";
  return command;
}

}  // namespace homestead::sim
