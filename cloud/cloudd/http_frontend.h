// cloudd's event-driven HTTP front end (config "http_frontend": "epoll"): one thread reads
// every keep-alive connection with epoll and parses requests (http_request_parser.h).
//
// Why: with cpp-httplib's thread per connection every KV put woke the connection's worker
// twice (request, then result), ~2 of the ~4 context switches per put on a 2-core machine.
// Here a request the fast handler takes (kv_fast_routes.h) is handed to the Raft server and
// its completion writes the answer straight to the socket from the thread that completes
// it (non-blocking send; what does not fit is queued and flushed by the event thread on
// EPOLLOUT) - the trick the Raft loop uses for peer frames.
//
// Everything else (cluster, members, services, snapshots, dht, Sync RPC, ...) goes to a pool
// of worker threads that run it through cpp-httplib's own request processing over the
// bytes already read (httplib_bridge.h), so those routes behave exactly as before.
//
// A connection handles one request at a time: pipelined requests wait in its input buffer
// until the answer to the one before is queued, so answers leave in request order.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "cloud/cloudd/cloudd_config.h"
#include "cloud/cloudd/http_request_parser.h"

namespace homestead::cloudd {

struct FrontendCore;

// One client connection, as the handlers see it.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(int fd, std::shared_ptr<FrontendCore> core, std::string remote_ip, int remote_port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // The whole answer to the current request (status line to body). Any thread, exactly
  // once per request taken; `close` closes the connection once it is written. Never
  // blocks: what the socket does not take at once is queued for the event thread.
  void respond(std::string_view response, bool close);
  // Gives the current request to the worker pool instead (e.g. a write the fast path found
  // it must forward over HTTP). Any thread.
  void respond_slowly();

 private:
  friend class HttpFrontend;
  friend struct FrontendCore;
  // All with mutex_ held.
  void write_locked(std::string_view data);
  void update_events_locked();
  void flush_locked();

  const int fd_;
  const std::shared_ptr<FrontendCore> core_;
  const std::string remote_ip_;
  const int remote_port_;

  std::mutex mutex_;
  std::string in_;            // bytes read, not yet answered (the current request first)
  std::string out_;           // answer bytes the socket has not taken yet
  std::size_t current_size_ = 0;  // bytes of in_ that are the request being handled
  bool busy_ = false;         // a request is being handled
  bool continue_sent_ = false;
  bool read_closed_ = false;  // the client sent FIN (answers still go out)
  bool read_paused_ = false;  // in_ is full while busy or out_ is full: stop reading
  bool closing_ = false;      // close once out_ is written
  bool dead_ = false;         // dropped: answers are discarded
  std::uint32_t events_ = 0;  // registered with epoll
  std::chrono::steady_clock::time_point last_read_;  // event thread only
};

std::string http_reason(int status);
// A complete response with a JSON (or `content_type`) body.
std::string http_response(int status, std::string_view body, bool close, std::string_view extra_headers = {},
                          std::string_view content_type = "application/json");

struct HttpFrontendHandlers {
  // Event thread. Returns false to leave the request to `slow`; true when it took it: it
  // (or a completion it set up) then calls respond() or respond_slowly() exactly once.
  // `request` views the connection's buffer: do not keep them past the call.
  std::function<bool(const HttpRequest& request, const std::shared_ptr<HttpConnection>& connection)> fast;
  // Worker thread: the raw request bytes -> the raw response; sets `close` when the
  // connection must close after it. `continue_sent`: "100 Continue" already went out.
  std::function<std::string(const std::string& raw, const std::string& remote_ip, int remote_port, bool continue_sent,
                            bool& close)>
      slow;
};

class HttpFrontend {
 public:
  // A connection with no request in progress and no bytes for `idle_timeout` is closed (as
  // cpp-httplib's keep-alive and read timeouts did), so idle or stalled clients cannot pile up.
  HttpFrontend(HostPort listen, int workers, HttpFrontendHandlers handlers, HttpParseLimits limits = {},
               std::chrono::milliseconds idle_timeout = std::chrono::seconds(120));
  ~HttpFrontend();
  // Binds and listens (throws std::runtime_error naming the address), then serves on a thread.
  void start();
  // Closes every connection; answers still pending are dropped. Waits for the workers.
  void stop();
  int port() const { return port_; }

 private:
  void run();
  void accept_all();
  void on_event(const std::shared_ptr<HttpConnection>& connection, std::uint32_t events);
  void read_from(const std::shared_ptr<HttpConnection>& connection, bool hung_up);
  void process_input(const std::shared_ptr<HttpConnection>& connection);
  void drop(const std::shared_ptr<HttpConnection>& connection);

  void close_idle(std::unordered_map<int, std::shared_ptr<HttpConnection>>& connections);

  HostPort listen_;
  int workers_;
  std::chrono::milliseconds idle_timeout_;
  std::shared_ptr<FrontendCore> core_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace homestead::cloudd
