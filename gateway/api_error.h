// An error the REST layer turns into {"error": {"code", "message", "request_id"}} with
// `status`. Thrown by Gateway operations so they stay free of HTTP types.
#pragma once

#include <stdexcept>
#include <string>

namespace homestead::gateway {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

}  // namespace homestead::gateway
