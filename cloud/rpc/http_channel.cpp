#include "cloud/rpc/http_channel.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "cloud/rpc/http_connection.h"
#include "cloud/rpc/http_protocol.h"

namespace homestead::rpc {

namespace {

std::chrono::microseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::microseconds(0),
                  std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()));
}

}  // namespace

struct HttpChannel::Impl : std::enable_shared_from_this<HttpChannel::Impl> {
  Impl(std::string host, int port, HttpChannelOptions options)
      : host(std::move(host)), port(port), options(std::move(options)), authorization("Bearer " + this->options.credential) {}

  std::unique_ptr<http::Connection> acquire(Clock::time_point deadline);
  void release(std::unique_ptr<http::Connection> client, bool keep);
  RawReply call(const RawRequest& request, Clock::time_point deadline);
  void run_async();
  void close();

  std::string host;
  int port;
  HttpChannelOptions options;
  std::string authorization;

  std::mutex mutex;  // everything below
  std::condition_variable freed;
  std::vector<std::unique_ptr<http::Connection>> idle;
  std::vector<http::Connection*> busy;  // so close() can abort calls in flight
  std::size_t created = 0;
  bool closing = false;

  struct AsyncCall {
    RawRequest request;
    Clock::time_point deadline;
    ReplyCallback done;
  };
  std::condition_variable queued;
  std::deque<AsyncCall> async_queue;
  std::size_t async_threads = 0;
};

std::unique_ptr<http::Connection> HttpChannel::Impl::acquire(Clock::time_point deadline) {
  std::unique_lock lock(mutex);
  for (;;) {
    if (closing) return nullptr;
    if (!idle.empty()) {
      auto client = std::move(idle.back());
      idle.pop_back();
      busy.push_back(client.get());
      return client;
    }
    if (created < options.max_connections) {
      ++created;
      auto client = std::make_unique<http::Connection>(host, port);
      busy.push_back(client.get());
      return client;
    }
    if (freed.wait_until(lock, deadline) == std::cv_status::timeout && idle.empty()) return nullptr;
  }
}

void HttpChannel::Impl::release(std::unique_ptr<http::Connection> client, bool keep) {
  {
    std::lock_guard lock(mutex);
    std::erase(busy, client.get());
    if (keep && !closing) {
      idle.push_back(std::move(client));
    } else {
      --created;
    }
  }
  freed.notify_one();
}

RawReply HttpChannel::Impl::call(const RawRequest& request, Clock::time_point deadline) {
  const std::string where = host + ":" + std::to_string(port);
  auto client = acquire(deadline);
  if (!client) {
    return {ErrorKind::transport, request.codec,
            closing ? "channel is closing" : "no free connection to " + where + " before the deadline"};
  }
  if (left_until(deadline).count() <= 0) {
    release(std::move(client), true);
    return {ErrorKind::timeout, request.codec, "deadline passed before the call was sent to " + where};
  }
  // No Accept-Encoding: the server must not compress replies (DESIGN.md section 4).
  std::string head;
  head.reserve(256 + request.method.size() + authorization.size());
  head.append("POST ").append(http::kPathPrefix).append(request.method).append(" HTTP/1.1\r\nHost: ");
  head.append(where).append("\r\nAuthorization: ").append(authorization);
  head.append("\r\nContent-Type: ").append(content_type(request.codec));
  head.append("\r\nAccept: ").append(content_type(request.codec));
  head.append("\r\nContent-Length: ").append(std::to_string(request.body.size()));
  if (request.client_id != 0) {
    head.append("\r\n").append(http::kClientIdHeader).append(": ").append(std::to_string(request.client_id));
    head.append("\r\n").append(http::kSeqHeader).append(": ").append(std::to_string(request.seq));
    head.append("\r\n").append(http::kAckHeader).append(": ").append(std::to_string(request.ack));
  }
  if (request.timeout_ms != 0) {
    head.append("\r\n").append(http::kTimeoutHeader).append(": ").append(std::to_string(request.timeout_ms));
  }
  head.append("\r\n\r\n");

  http::Response response;
  std::string why;
  const auto outcome = client->exchange(head, request.body, deadline, options.connect_timeout, response, why);
  RawReply reply{ErrorKind::ok, request.codec, {}};
  bool keep = true;
  switch (outcome) {
    case http::Outcome::not_sent:
      // The server cannot act on a request it did not receive in full.
      reply = {ErrorKind::transport, request.codec, "cannot send to " + where + ": " + why};
      break;
    case http::Outcome::timed_out:
      reply = {ErrorKind::timeout, request.codec, "no reply from " + where + " before the deadline"};
      break;
    case http::Outcome::lost:
      reply = {ErrorKind::unknown_outcome, request.codec,
               "connection to " + where + " was lost after the request was sent" + (why.empty() ? "" : " (" + why + ")")};
      break;
    case http::Outcome::ok: {
      const ErrorKind kind = !response.error_kind.empty()
                                 ? parse_error_kind(response.error_kind).value_or(ErrorKind::unknown_outcome)
                                 : http::kind_for_status(response.status);
      if (kind == ErrorKind::ok) {
        reply.codec = codec_from_content_type(response.content_type).value_or(request.codec);
      } else if (!response.error_kind.empty()) {
        // Overloaded answers come on a connection the server is about to close.
        keep = kind != ErrorKind::overloaded;
      } else {
        reply.body = "HTTP " + std::to_string(response.status) + " from " + where + ": ";
      }
      reply.kind = kind;
      reply.body += response.body;
    }
  }
  release(std::move(client), keep);
  return reply;
}

void HttpChannel::Impl::run_async() {
  for (;;) {
    AsyncCall call;
    {
      std::unique_lock lock(mutex);
      queued.wait(lock, [&] { return closing || !async_queue.empty(); });
      if (async_queue.empty()) {
        --async_threads;
        return;
      }
      call = std::move(async_queue.front());
      async_queue.pop_front();
    }
    call.done(this->call(call.request, call.deadline));
  }
}

void HttpChannel::Impl::close() {
  std::deque<AsyncCall> left;
  {
    std::lock_guard lock(mutex);
    closing = true;
    left.swap(async_queue);
    // Shuts the sockets of calls in flight; they fail with unknown_outcome.
    for (auto* client : busy) client->abort();
    idle.clear();
  }
  queued.notify_all();
  freed.notify_all();
  for (auto& call : left) call.done({ErrorKind::transport, call.request.codec, "channel closed before the call was sent"});
}

HttpChannel::HttpChannel(std::string host, int port, HttpChannelOptions options)
    : impl_(std::make_shared<Impl>(std::move(host), port, std::move(options))) {}

HttpChannel::~HttpChannel() { impl_->close(); }

RawReply HttpChannel::call(RawRequest request, Clock::time_point deadline) { return impl_->call(request, deadline); }

void HttpChannel::start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->closing || impl_->async_queue.size() >= impl_->options.max_queued_async) {
      // Not under the lock: `done` may call back into this channel.
    } else {
      impl_->async_queue.push_back({std::move(request), deadline, std::move(done)});
      if (impl_->async_threads < impl_->options.async_threads) {
        ++impl_->async_threads;
        // Detached and holding the Impl, so the channel may be destroyed from a callback.
        std::thread([self = impl_->shared_from_this()] { self->run_async(); }).detach();
      }
      impl_->queued.notify_one();
      return;
    }
  }
  done({ErrorKind::transport, request.codec, "too many asynchronous calls queued on this channel"});
}

std::size_t HttpChannel::pooled_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->created;
}

}  // namespace homestead::rpc
