// Order statistics for the snapshot bench's verdicts: percentiles, the median with a
// distribution-free 95% interval, and a throughput cost against a baseline.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

namespace homestead::bench {

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A distribution-free ~95% confidence interval for the median of v: the order statistics
// ranked (1-based) floor(n/2 - 0.98 sqrt(n)) and ceil(1 + n/2 + 0.98 sqrt(n)), from the
// normal approximation to the binomial(n, 1/2) count of values below the median. Rounds on this machine scatter by tens of percent, so a
// median alone reads the noise as a verdict; the bench says "met" only when the interval's
// top is under the target. Under 6 values the interval is the whole range.
inline std::pair<double, double> median_interval(std::vector<double> v) {
  if (v.empty()) return {0, 0};
  std::sort(v.begin(), v.end());
  const double n = static_cast<double>(v.size());
  const double half_width = 0.98 * std::sqrt(n);
  const auto lower = static_cast<std::size_t>(std::max(1.0, std::floor(n / 2 - half_width)) - 1);
  const auto upper = static_cast<std::size_t>(std::min(n, std::ceil(1 + n / 2 + half_width)) - 1);
  return {v[lower], v[upper]};
}

// How much lower `rate` is than `baseline`, in percent (negative: higher).
inline double cost_percent(double rate, double baseline) { return baseline > 0 ? 100.0 * (1.0 - rate / baseline) : 0; }

}  // namespace homestead::bench
