// One keep-alive HTTP/1.1 client connection for HttpChannel, written against our socket
// helpers instead of httplib's client: profiling the benchmark showed httplib's client spends
// most of each call in the kernel (a liveness poll plus recv, separate writes for headers
// and body, a poll before every read). Here a call is one gather write (headers + body) and
// usually one recv; the liveness check is one poll() with no timeout.
//
// Only what the rpc wire needs: requests we build ourselves; responses with Content-Length
// or chunked bodies (a proxy may re-chunk), "Connection: close" honoured.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

namespace homestead::rpc::http {

struct Response {
  int status = 0;
  std::string content_type;
  std::string error_kind;  // X-Rpc-Error, empty when absent
  std::string body;
};

enum class Outcome {
  ok,
  not_sent,   // could not connect or send: the server cannot have acted on it
  lost,       // sent, then the connection closed or broke before a whole response
  timed_out,  // sent, no whole response by the deadline
};

class Connection {
 public:
  using Clock = std::chrono::steady_clock;
  Connection(std::string host, int port) : host_(std::move(host)), port_(port) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `head` (request line + headers, ending in the blank line) and `body` in one write,
  // reconnecting first if the kept-alive connection was closed by the server.
  Outcome exchange(std::string_view head, std::string_view body, Clock::time_point deadline,
                   std::chrono::milliseconds connect_timeout, Response& response, std::string& why);
  // From another thread: breaks a call in flight (it ends as `lost`) and refuses new ones.
  void abort();

 private:
  bool open(Clock::time_point deadline, std::chrono::milliseconds connect_timeout, std::string& why);
  void close_locked();
  Outcome read_response(Clock::time_point deadline, Response& response, bool& keep_alive, std::string& why);
  // Reads more bytes into buffer_; timed_out/lost on failure.
  Outcome fill(Clock::time_point deadline);

  std::string host_;
  int port_;
  std::mutex mutex_;  // fd_ and aborted_ against abort() from another thread
  int fd_ = -1;
  bool aborted_ = false;
  std::string buffer_;
  std::size_t offset_ = 0;
};

}  // namespace homestead::rpc::http
