// What the `http` transport puts on the wire, shared by HttpListener and HttpChannel:
//
//   POST /rpc/v1/<Service>/<Method>
//     Authorization: Bearer <cluster secret or client token>
//     Content-Type:  application/json | application/msgpack   (the request body's codec)
//     Accept:        application/json | application/msgpack   (optional: the reply's codec)
//     X-Rpc-Client-Id / X-Rpc-Seq / X-Rpc-Ack                  (at-most/exactly-once session)
//     X-Rpc-Timeout-Ms                                         (the caller's remaining deadline)
//   GET /rpc/v1/_describe                                      (the description document)
//
// A successful call answers 200 with the encoded response. Every error carries
// `X-Rpc-Error: <ErrorKind name>` plus a text/plain message, and a status a human or a proxy
// understands (401, 400, 404, 413, 503, ...). A reply without X-Rpc-Error (from a proxy, or
// httplib itself refusing an oversized body) is classified from the status alone.
#pragma once

#include <string_view>

#include "cloud/rpc/error.h"

namespace homestead::rpc::http {

inline constexpr std::string_view kPathPrefix = "/rpc/v1/";
inline constexpr std::string_view kDescribePath = "/rpc/v1/_describe";
inline constexpr const char* kErrorHeader = "X-Rpc-Error";
inline constexpr const char* kClientIdHeader = "X-Rpc-Client-Id";
inline constexpr const char* kSeqHeader = "X-Rpc-Seq";
inline constexpr const char* kAckHeader = "X-Rpc-Ack";
inline constexpr const char* kTimeoutHeader = "X-Rpc-Timeout-Ms";

// The HTTP status an error kind is sent with.
int status_for(ErrorKind kind);
// The error kind of a reply that has no X-Rpc-Error header. Anything unrecognised is
// unknown_outcome: something answered, but not our server, so the call may have run.
ErrorKind kind_for_status(int status);

}  // namespace homestead::rpc::http
