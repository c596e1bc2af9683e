#include "tests/bench/transactuation/loc_count.h"

#include <fstream>
#include <stdexcept>

namespace homestead::transactuation::bench {

namespace {

std::string trimmed(const std::string& line) {
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
}

}  // namespace

int count_app_lines(const std::filesystem::path& source, const std::string& app) {
  std::ifstream in(source);
  if (!in) throw std::runtime_error("cannot read " + source.string());
  const std::string begin = "// BEGIN-APP " + app, end = "// END-APP " + app;
  bool inside = false, seen_end = false;
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    const std::string text = trimmed(line);
    if (text == begin) {
      inside = true;
    } else if (text == end && inside) {
      seen_end = true;
      break;
    } else if (inside && !text.empty() && text.rfind("//", 0) != 0) {
      ++lines;
    }
  }
  if (!seen_end) throw std::runtime_error(source.string() + ": no '" + begin + "' ... '" + end + "' block");
  return lines;
}

}  // namespace homestead::transactuation::bench
