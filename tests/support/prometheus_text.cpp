#include "tests/support/prometheus_text.h"

#include <string>

namespace homestead::testing {

std::optional<double> prometheus_value(std::string_view text, std::string_view series) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (line.size() > series.size() && line.substr(0, series.size()) == series && line[series.size()] == ' ') {
      return std::stod(std::string(line.substr(series.size() + 1)));
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return std::nullopt;
}

}  // namespace homestead::testing
