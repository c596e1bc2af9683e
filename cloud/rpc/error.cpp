#include "cloud/rpc/error.h"

#include <array>

namespace homestead::rpc {

namespace {
constexpr std::array<std::string_view, 13> kNames = {
    "ok",          "transport", "timeout",   "unknown_outcome", "remote",        "unauthenticated",
    "bad_request", "not_found", "too_large", "overloaded",      "shutting_down", "stale", "in_progress"};
}  // namespace

std::string_view to_string(ErrorKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  return index < kNames.size() ? kNames[index] : std::string_view("invalid");
}

std::optional<ErrorKind> parse_error_kind(std::string_view text) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == text) return static_cast<ErrorKind>(i);
  }
  return std::nullopt;
}

bool never_executed(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::transport:
    case ErrorKind::unauthenticated:
    case ErrorKind::bad_request:
    case ErrorKind::not_found:
    case ErrorKind::too_large:
    case ErrorKind::overloaded:
    case ErrorKind::shutting_down:
    case ErrorKind::stale:
    case ErrorKind::in_progress:
      return true;
    default:
      return false;
  }
}

}  // namespace homestead::rpc

#include "cloud/rpc/service.h"

namespace homestead::rpc {

std::string_view to_string(Semantics semantics) {
  switch (semantics) {
    case Semantics::at_least_once: return "at_least_once";
    case Semantics::at_most_once: return "at_most_once";
    case Semantics::exactly_once: return "exactly_once";
  }
  return "invalid";
}

}  // namespace homestead::rpc
