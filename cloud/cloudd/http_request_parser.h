// A pure HTTP/1.1 request parser for the epoll front end (http_frontend.h): bytes in, one
// request (or "need more bytes", or an error with the status to answer) out. No sockets,
// no allocation beyond the decoded path and the header list.
//
// Supported: HTTP/1.0 and 1.1 requests with no body or a Content-Length body, keep-alive
// (1.1 default, 1.0 with "Connection: keep-alive"), pipelining (parse again after `size`
// bytes). Refused with a status: Transfer-Encoding bodies (411), headers past
// `max_header_bytes` (431), bodies past `max_body_bytes` (413), malformed request lines or
// headers (400), other HTTP versions (505).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace homestead::cloudd {

struct HttpParseLimits {
  std::size_t max_header_bytes = 64 * 1024;     // request line + headers
  std::size_t max_body_bytes = 256u << 20;      // snapshot parts are the largest bodies
};

// Views point into the parsed buffer: valid while it is unchanged.
struct HttpRequest {
  std::string_view method;
  std::string_view target;   // as sent: path and query
  std::string_view version;  // "HTTP/1.1"
  std::string path;          // percent-decoded path ('+' stays '+')
  std::string_view query;    // raw text after '?', empty if none
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // value trimmed
  std::string_view body;
  bool keep_alive = true;
  bool expect_continue = false;  // "Expect: 100-continue"
  std::size_t size = 0;          // bytes of the whole request (head + body)

  // Case-insensitive; empty when absent.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // The first query parameter called `name`, decoded ('+' is a space); false if absent.
  bool query_param(std::string_view name, std::string& value) const;
};

enum class HttpParseStatus { incomplete, complete, error };

struct HttpParseResult {
  HttpParseStatus status = HttpParseStatus::incomplete;
  HttpRequest request;      // complete: the request; incomplete: head fields once head_complete
  bool head_complete = false;  // incomplete but the head is parsed (answer 100-continue now)
  int error_status = 0;     // error: the status to answer before closing
  std::string error;        // error: what was wrong
};

HttpParseResult parse_http_request(std::string_view buffer, const HttpParseLimits& limits = {});

// "%2F" -> "/"; `plus_is_space` for query strings. Bad escapes are kept as they are.
std::string percent_decode(std::string_view text, bool plus_is_space);

}  // namespace homestead::cloudd
