// The `http` transport's client: a pool of keep-alive HTTP/1.1 connections (http_connection.h;
// lean on syscalls, where httplib's client was the benchmark's bottleneck) to one server, one call per connection at a time (HTTP/1.1 does not pipeline usefully), so
// concurrent callers use up to `max_connections` connections in parallel. Synchronous calls
// run in the caller's thread; asynchronous calls run on a small thread pool of the channel.
//
// Tuning per DESIGN.md section 4: TCP_NODELAY, keep-alive, headers and body in one write
// (they would otherwise meet Nagle, ~40 ms per call), and no Accept-Encoding (httplib's
// server would gzip JSON replies).
//
// Error kinds: could not connect or send -> transport (not executed); connection lost after
// the request went out -> unknown_outcome; no reply by the deadline -> timeout; the server's
// refusals come through as they are (X-Rpc-Error header, see http_protocol.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cloud/rpc/channel.h"

namespace homestead::rpc {

struct HttpChannelOptions {
  std::string credential;  // sent as "Authorization: Bearer <credential>"
  std::size_t max_connections = 16;
  std::size_t async_threads = 16;  // started on demand; each holds one connection while it waits
  std::size_t max_queued_async = 4096;
  std::chrono::milliseconds connect_timeout{1000};
};

class HttpChannel : public Channel {
 public:
  HttpChannel(std::string host, int port, HttpChannelOptions options = {});
  // Aborts calls in flight (they fail with unknown_outcome) and fails queued async calls with
  // transport. Safe to run from a reply callback.
  ~HttpChannel() override;

  void start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) override;
  RawReply call(RawRequest request, Clock::time_point deadline) override;
  // Connections opened so far (each httplib reconnect counts), for tests.
  std::size_t pooled_connections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace homestead::rpc
