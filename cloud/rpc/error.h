// The one error type every RPC call returns. Callers must be able to tell apart what they can
// safely retry (the request never left: `transport`), what may or may not have happened
// (`timeout`, `unknown_outcome`), and what the server decided (`remote` and the refusals).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace homestead::rpc {

enum class ErrorKind : std::uint8_t {
  ok = 0,
  transport = 1,        // could not send: no connection, refused; the server did not see it
  timeout = 2,          // deadline passed before a reply; the call may or may not have run
  unknown_outcome = 3,  // sent, then the connection died (server crash/restart) before a reply
  remote = 4,           // the handler ran and reported an application error
  unauthenticated = 5,  // missing or wrong credentials
  bad_request = 6,      // malformed frame/body or schema error (message names the field)
  not_found = 7,        // no such service or method
  too_large = 8,        // request over the server's size limit
  overloaded = 9,       // worker queue full; not executed, safe to retry
  shutting_down = 10,   // server draining; not executed, safe to retry elsewhere
  stale = 11,           // at-most-once: a sequence the client already acknowledged, or a
                        // session the server has forgotten; never executed
  in_progress = 12,     // at-most-once: the first copy of this request is still executing
};

std::string_view to_string(ErrorKind kind);
// Parses the names to_string produces; nullopt for anything else.
std::optional<ErrorKind> parse_error_kind(std::string_view text);

// True when the server certainly did not execute the request, so any method may retry it.
bool never_executed(ErrorKind kind);

struct RpcError {
  ErrorKind kind = ErrorKind::ok;
  std::string message;

  std::string describe() const { return std::string(to_string(kind)) + ": " + message; }
};

// Thrown by handlers to report an application error to the caller (ErrorKind::remote).
class RemoteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A value or an RpcError (std::expected is C++23).
template <class T>
class Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(RpcError error) : data_(std::move(error)) {}  // NOLINT
  Result(ErrorKind kind, std::string message) : data_(RpcError{kind, std::move(message)}) {}

  bool ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& {
    if (!ok()) throw std::logic_error("rpc: value() on error " + error().describe());
    return std::get<T>(data_);
  }
  T& value() & {
    if (!ok()) throw std::logic_error("rpc: value() on error " + error().describe());
    return std::get<T>(data_);
  }
  const T* operator->() const { return &value(); }
  const RpcError& error() const { return std::get<RpcError>(data_); }
  ErrorKind kind() const { return ok() ? ErrorKind::ok : error().kind; }

 private:
  std::variant<T, RpcError> data_;
};

}  // namespace homestead::rpc
