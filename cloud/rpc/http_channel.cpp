#include "cloud/rpc/http_channel.h"

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "cloud/rpc/http_protocol.h"

namespace homestead::rpc {

namespace {

std::chrono::microseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::microseconds(0),
                  std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()));
}

void set_timeouts(httplib::Client& client, std::chrono::microseconds read_write, std::chrono::microseconds connect) {
  const auto sec = [](std::chrono::microseconds d) { return static_cast<time_t>(d.count() / 1'000'000); };
  const auto usec = [](std::chrono::microseconds d) { return static_cast<time_t>(d.count() % 1'000'000); };
  client.set_read_timeout(sec(read_write), usec(read_write));
  client.set_write_timeout(sec(read_write), usec(read_write));
  client.set_connection_timeout(sec(connect), usec(connect));
}

}  // namespace

struct HttpChannel::Impl : std::enable_shared_from_this<HttpChannel::Impl> {
  Impl(std::string host, int port, HttpChannelOptions options)
      : host(std::move(host)), port(port), options(std::move(options)), authorization("Bearer " + this->options.credential) {}

  std::unique_ptr<httplib::Client> acquire(Clock::time_point deadline);
  void release(std::unique_ptr<httplib::Client> client, bool keep);
  RawReply call(const RawRequest& request, Clock::time_point deadline);
  void run_async();
  void close();

  std::string host;
  int port;
  HttpChannelOptions options;
  std::string authorization;

  std::mutex mutex;  // everything below
  std::condition_variable freed;
  std::vector<std::unique_ptr<httplib::Client>> idle;
  std::vector<httplib::Client*> busy;  // so close() can abort calls in flight
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

std::unique_ptr<httplib::Client> HttpChannel::Impl::acquire(Clock::time_point deadline) {
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
      auto client = std::make_unique<httplib::Client>(host, port);
      client->set_tcp_nodelay(true);
      client->set_keep_alive(true);
      client->set_decompress(false);  // no Accept-Encoding: the server must not compress replies
      client->set_compress(false);
      busy.push_back(client.get());
      return client;
    }
    if (freed.wait_until(lock, deadline) == std::cv_status::timeout && idle.empty()) return nullptr;
  }
}

void HttpChannel::Impl::release(std::unique_ptr<httplib::Client> client, bool keep) {
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
  const auto left = left_until(deadline);
  if (left.count() <= 0) {
    release(std::move(client), true);
    return {ErrorKind::timeout, request.codec, "deadline passed before the call was sent to " + where};
  }
  // httplib waits with poll(), whose millisecond timeout rounds down: one more millisecond
  // makes a timeout fire at or after the deadline, never just before it.
  set_timeouts(*client, left + std::chrono::milliseconds(1),
               std::min<std::chrono::microseconds>(left, options.connect_timeout));
  httplib::Headers headers{{"Authorization", authorization},
                           {"Accept", std::string(content_type(request.codec))}};
  if (request.client_id != 0) {
    headers.emplace(http::kClientIdHeader, std::to_string(request.client_id));
    headers.emplace(http::kSeqHeader, std::to_string(request.seq));
    headers.emplace(http::kAckHeader, std::to_string(request.ack));
  }
  if (request.timeout_ms != 0) headers.emplace(http::kTimeoutHeader, std::to_string(request.timeout_ms));
  const std::string path = std::string(http::kPathPrefix) + request.method;
  const auto result = client->Post(path.c_str(), headers, request.body, std::string(content_type(request.codec)).c_str());

  RawReply reply{ErrorKind::ok, request.codec, {}};
  bool keep = true;
  if (!result) {
    keep = false;  // httplib has closed the socket; a fresh client reconnects next time
    switch (result.error()) {
      case httplib::Error::Connection:
      case httplib::Error::ConnectionTimeout:
      case httplib::Error::BindIPAddress:
        reply = {ErrorKind::transport, request.codec, "cannot connect to " + where + ": " + httplib::to_string(result.error())};
        break;
      case httplib::Error::Write:
        // The server cannot act on a request it did not receive in full.
        reply = {ErrorKind::transport, request.codec, "send to " + where + " failed"};
        break;
      default:
        if (Clock::now() >= deadline) {
          reply = {ErrorKind::timeout, request.codec, "no reply from " + where + " before the deadline"};
        } else {
          reply = {ErrorKind::unknown_outcome, request.codec,
                   "connection to " + where + " was lost after the request was sent (" +
                       httplib::to_string(result.error()) + ")"};
        }
    }
  } else {
    const auto& response = *result;
    const ErrorKind kind = response.has_header(http::kErrorHeader)
                               ? parse_error_kind(response.get_header_value(http::kErrorHeader))
                                     .value_or(ErrorKind::unknown_outcome)
                               : http::kind_for_status(response.status);
    if (kind == ErrorKind::ok) {
      reply.codec = codec_from_content_type(response.get_header_value("Content-Type")).value_or(request.codec);
    } else if (response.has_header(http::kErrorHeader)) {
      // Overloaded answers come on a connection the server is about to close.
      keep = kind != ErrorKind::overloaded;
    } else {
      keep = false;
      reply.body = "HTTP " + std::to_string(response.status) + " from " + where + ": ";
    }
    reply.kind = kind;
    reply.body += response.body;
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
    for (auto* client : busy) client->stop();
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
