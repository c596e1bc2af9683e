// Runs one already-read HTTP request through cpp-httplib's own request processing
// (routing, pre/post-routing handlers, exception handler, response writing), for the epoll
// front end's non-KV routes: every route installed on the server behaves as under
// httplib's own listener. httplib 0.11 keeps process_request() protected, hence the subclass.
#pragma once

#include <httplib.h>

#include <string>

namespace homestead::cloudd {

class HttplibBridge : public httplib::Server {
 public:
  // `raw`: exactly one request (head + Content-Length body). Returns the response bytes;
  // `close` is set when the request asked to close the connection.
  // `continue_sent`: the front end already answered "Expect: 100-continue".
  std::string handle(const std::string& raw, const std::string& remote_ip, int remote_port, bool continue_sent,
                     bool& close);
};

}  // namespace homestead::cloudd
