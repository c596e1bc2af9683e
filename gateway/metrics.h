// Counters, gauges and one latency histogram, rendered in the Prometheus text format for
// GET /metrics. Families are declared up front (name, type, help) so /metrics always lists
// them, even at zero, and a typo in a family name is caught at the call site's first use.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace homestead::gateway {

class Metrics {
 public:
  Metrics();
  // `labels` is the inside of {...}, e.g. reason="schema"; empty for none.
  void add(std::string_view family, std::string_view labels = {}, double value = 1);
  void set(std::string_view family, std::string_view labels, double value);
  double value(std::string_view family, std::string_view labels = {}) const;
  // SQLite write (one batch commit) latency.
  void observe_db_write(double seconds);
  std::string render() const;

 private:
  struct Family {
    std::string type;
    std::string help;
    std::map<std::string, double> series;  // labels -> value
  };
  Family& family(std::string_view name);
  static constexpr std::array<double, 10> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::array<std::uint64_t, kBuckets.size()> db_buckets_{};
  std::uint64_t db_count_ = 0;
  double db_sum_ = 0;
};

}  // namespace homestead::gateway
