// Reading a Prometheus text exposition (GET /metrics) in tests and benchmarks.
#pragma once

#include <optional>
#include <string_view>

namespace homestead::testing {

// The value on the line "<series> <value>" of `text` (series with its labels, if any, spelt
// as exposed); nullopt when no such line.
std::optional<double> prometheus_value(std::string_view text, std::string_view series);

}  // namespace homestead::testing
