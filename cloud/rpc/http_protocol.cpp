#include "cloud/rpc/http_protocol.h"

namespace homestead::rpc::http {

int status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::ok: return 200;
    case ErrorKind::unauthenticated: return 401;
    case ErrorKind::bad_request: return 400;
    case ErrorKind::not_found: return 404;
    case ErrorKind::too_large: return 413;
    case ErrorKind::overloaded:
    case ErrorKind::shutting_down: return 503;
    case ErrorKind::stale:
    case ErrorKind::in_progress: return 409;
    case ErrorKind::timeout: return 504;
    case ErrorKind::remote:
    case ErrorKind::transport:
    case ErrorKind::unknown_outcome: return 500;
  }
  return 500;
}

ErrorKind kind_for_status(int status) {
  switch (status) {
    case 200: return ErrorKind::ok;
    case 400:
    case 415: return ErrorKind::bad_request;
    case 401:
    case 403: return ErrorKind::unauthenticated;
    case 404: return ErrorKind::not_found;
    case 413: return ErrorKind::too_large;
    default: return ErrorKind::unknown_outcome;
  }
}

}  // namespace homestead::rpc::http
