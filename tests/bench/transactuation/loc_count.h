// Lines of code of one app between its "// BEGIN-APP name" and "// END-APP name" markers, as
// the built-in apps are laid out in transactuation/builtin_apps.cpp and naive_apps.cpp for
// this comparison. Counted: lines strictly between the markers that are neither blank nor
// only a // comment (so neither version is penalised for explaining itself).
#pragma once

#include <filesystem>
#include <string>

namespace homestead::transactuation::bench {

// Throws std::runtime_error naming the file and app when a marker is missing.
int count_app_lines(const std::filesystem::path& source, const std::string& app);

}  // namespace homestead::transactuation::bench
