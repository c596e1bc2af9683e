#include "cloud/rpc/http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "cloud/rpc/http_protocol.h"
#include "cloud/rpc/schema.h"
#include "common/log/log.h"
#include "common/net/listen_backlog.h"

namespace homestead::rpc {

namespace {

const log::Logger kLog("rpc.http");

// Set on the thread that serves connections which found no free thread: every request on
// it is answered `overloaded` and the connection is closed.
thread_local bool t_refuse_connection = false;

// httplib's task queue, replaced so the pool is fixed, waiting is visible, and the wait
// queue is bounded. Each task serves one connection until it closes.
class ConnectionThreads : public httplib::TaskQueue {
 public:
  ConnectionThreads(std::size_t threads, std::size_t max_waiting, std::atomic<std::uint64_t>& waited,
                    std::atomic<std::uint64_t>& refused)
      : max_waiting_(max_waiting), waited_(waited), refused_(refused) {
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { serve(queue_, false); });
    threads_.emplace_back([this] { serve(overflow_, true); });
  }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mutex_);
      const bool all_busy = busy_ + queue_.size() >= threads_.size() - 1;  // minus the overflow thread
      if (all_busy && queue_.size() >= max_waiting_) {
        ++refused_;
        overflow_.push_back(std::move(fn));
      } else {
        if (all_busy) {
          ++waited_;
          kLog.warn("connection waits for a free thread; raise HttpListenerOptions::threads",
                    {{"threads", std::to_string(threads_.size() - 1)}});
        }
        queue_.push_back(std::move(fn));
      }
    }
    ready_.notify_all();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& thread : threads_) thread.join();
  }

 private:
  void serve(std::deque<std::function<void()>>& queue, bool refusing) {
    t_refuse_connection = refusing;
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !queue.empty(); });
        if (queue.empty()) return;  // stopping, nothing left
        task = std::move(queue.front());
        queue.pop_front();
        if (!refusing) ++busy_;
      }
      task();
      if (!refusing) {
        std::lock_guard lock(mutex_);
        --busy_;
      }
    }
  }

  std::size_t max_waiting_;
  std::atomic<std::uint64_t>& waited_;
  std::atomic<std::uint64_t>& refused_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  std::deque<std::function<void()>> overflow_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

void send_error(httplib::Response& res, ErrorKind kind, const std::string& message) {
  res.status = http::status_for(kind);
  res.set_header(http::kErrorHeader, std::string(to_string(kind)));
  res.set_content(message, "text/plain");
}

// The reply codec: the first of Accept's types we speak; the request's codec when Accept is
// absent or a wildcard; nullopt when Accept names only types we cannot produce.
std::optional<Codec> negotiate(const std::string& accept, Codec request_codec) {
  if (accept.empty()) return request_codec;
  std::string_view rest(accept);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (auto codec = codec_from_content_type(item)) return codec;
    const auto type = item.substr(0, item.find(';'));
    if (type == "*/*" || type == "application/*") return request_codec;
  }
  return std::nullopt;
}

// A numeric X-Rpc-* header; throws SchemaError naming the header when it is not a number.
template <class T>
T numeric_header(const httplib::Request& req, const char* name) {
  if (!req.has_header(name)) return 0;
  const std::string text = req.get_header_value(name);
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw SchemaError(name, "header " + std::string(name) + ": expected an unsigned integer, got '" + text + "'");
  }
  return value;
}

std::string bearer_token(const httplib::Request& req) {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) return {};
  return header.substr(kBearer.size());
}

int socket_local_port(int fd, bool& connected) {
  sockaddr_in local{}, peer{};
  socklen_t length = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 || local.sin_family != AF_INET) return -1;
  length = sizeof peer;
  connected = ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0;
  return ntohs(local.sin_port);
}

// httplib keeps accepted sockets to itself and its stop() leaves idle keep-alive connections
// open until their timeout; find them by local port in /proc/self/fd and shut them down.
void shut_down_connections_on(int port) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    int fd = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    bool connected = false;
    if (socket_local_port(fd, connected) == port && connected) ::shutdown(fd, SHUT_RDWR);
  }
}

// The /rpc/v1 routes in front of one rpc::Server, shared by HttpListener and by servers that
// mount RPC next to their own routes (install_rpc_routes).
struct RpcRoutes {
  explicit RpcRoutes(Server& server) : server(server) {}

  // The caller's principal, or nullopt after answering `unauthenticated`.
  std::optional<std::string> authorized(const httplib::Request& req, httplib::Response& res) {
    const std::string token = bearer_token(req);
    if (!token.empty()) {
      if (auto principal = server.principal_for(token)) return principal;
    }
    server.count_refusal(ErrorKind::unauthenticated);
    kLog.warn("refused call: missing or wrong credential", {{"peer", req.remote_addr}});
    send_error(res, ErrorKind::unauthenticated,
               token.empty() ? "missing credential: send 'Authorization: Bearer <token>'" : "wrong credential");
    return std::nullopt;
  }

  void refuse(httplib::Response& res, ErrorKind kind, const std::string& message) {
    server.count_refusal(kind);
    send_error(res, kind, message);
  }

  void call(const httplib::Request& req, httplib::Response& res) {
    auto principal = authorized(req, res);
    if (!principal) return;
    const auto codec = codec_from_content_type(req.get_header_value("Content-Type"));
    if (!codec) {
      refuse(res, ErrorKind::bad_request,
             "unsupported Content-Type '" + req.get_header_value("Content-Type") +
                 "': use application/json or application/msgpack");
      res.status = 415;
      return;
    }
    const auto reply_codec = negotiate(req.get_header_value("Accept"), *codec);
    if (!reply_codec) {
      refuse(res, ErrorKind::bad_request,
             "cannot answer in any type of Accept '" + req.get_header_value("Accept") +
                 "': use application/json or application/msgpack");
      res.status = 406;
      return;
    }
    RawRequest request;
    request.method = method_path(req.matches[1].str(), req.matches[2].str());
    request.codec = *codec;
    request.body = req.body;
    try {
      request.client_id = numeric_header<std::uint64_t>(req, http::kClientIdHeader);
      request.seq = numeric_header<std::uint64_t>(req, http::kSeqHeader);
      request.ack = numeric_header<std::uint64_t>(req, http::kAckHeader);
      request.timeout_ms = numeric_header<std::uint32_t>(req, http::kTimeoutHeader);
    } catch (const SchemaError& e) {
      refuse(res, ErrorKind::bad_request, e.what());
      return;
    }
    CallContext context;
    context.principal = std::move(*principal);
    context.peer = req.remote_addr + ":" + std::to_string(req.remote_port);
    context.client_id = request.client_id;
    context.seq = request.seq;
    context.ack = request.ack;
    if (request.timeout_ms > 0) context.deadline = Clock::now() + std::chrono::milliseconds(request.timeout_ms);
    RawReply reply = server.execute(request, context);
    if (reply.kind != ErrorKind::ok) {
      send_error(res, reply.kind, reply.body);
      return;
    }
    if (*reply_codec != reply.codec) reply.body = encode(decode(reply.body, reply.codec), *reply_codec);
    res.status = 200;
    res.set_content(std::move(reply.body), std::string(content_type(*reply_codec)));
  }

  void describe(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    const auto codec = negotiate(req.get_header_value("Accept"), Codec::json);
    if (!codec) {
      refuse(res, ErrorKind::bad_request, "the description is available as application/json or application/msgpack");
      res.status = 406;
      return;
    }
    res.set_content(encode(server.describe(), *codec), std::string(content_type(*codec)));
  }

  Server& server;
};

}  // namespace

void install_rpc_routes(httplib::Server& http, Server& server) {
  auto routes = std::make_shared<RpcRoutes>(server);
  http.Post(R"(/rpc/v1/([A-Za-z0-9_.\-]+)/([A-Za-z0-9_.\-]+))",
            [routes](const httplib::Request& req, httplib::Response& res) { routes->call(req, res); });
  http.Get(std::string(http::kDescribePath),
           [routes](const httplib::Request& req, httplib::Response& res) { routes->describe(req, res); });
}

struct HttpListener::Impl {
  Impl(Server& server, HttpListenerOptions options) : server(server), options(options) {}

  void refuse(httplib::Response& res, ErrorKind kind, const std::string& message) {
    server.count_refusal(kind);
    send_error(res, kind, message);
  }

  Server& server;
  HttpListenerOptions options;
  httplib::Server http;
  std::atomic<std::uint64_t> waited{0};
  std::atomic<std::uint64_t> refused{0};
};

HttpListener::HttpListener(Server& server, const std::string& host, int port, HttpListenerOptions options)
    : impl_(std::make_unique<Impl>(server, options)) {
  auto& http = impl_->http;
  Impl* impl = impl_.get();
  http.set_tcp_nodelay(true);
  http.set_keep_alive_max_count(options.keep_alive_max_count);
  http.set_keep_alive_timeout(options.keep_alive_timeout.count());
  http.set_read_timeout(options.read_timeout);
  http.set_payload_max_length(server.options().max_request_bytes);
  http.set_socket_options([](int fd) {
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // but not SO_REUSEPORT
  });
  http.new_task_queue = [impl] {
    return new ConnectionThreads(std::max<std::size_t>(impl->options.threads, 1), impl->options.max_waiting_connections,
                                 impl->waited, impl->refused);
  };
  http.set_pre_routing_handler([impl](const httplib::Request&, httplib::Response& res) {
    if (!t_refuse_connection) return httplib::Server::HandlerResponse::Unhandled;
    impl->refuse(res, ErrorKind::overloaded, "no free connection thread; retry later");
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  install_rpc_routes(http, server);
  // httplib's own refusals (no such path, body over the limit, unparsable request) get an
  // error kind too, so clients classify them like ours.
  http.set_error_handler(httplib::Server::HandlerWithResponse([impl](const httplib::Request&, httplib::Response& res) {
    if (res.has_header(http::kErrorHeader)) return httplib::Server::HandlerResponse::Unhandled;
    const ErrorKind kind = http::kind_for_status(res.status);
    impl->refuse(res, kind == ErrorKind::unknown_outcome ? ErrorKind::bad_request : kind,
                 res.status == 413 ? "request body exceeds the limit of " +
                                         std::to_string(impl->server.options().max_request_bytes) + " bytes"
                 : res.status == 404 ? "no such path; calls are POST /rpc/v1/<Service>/<Method>"
                                     : "malformed request (HTTP status " + std::to_string(res.status) + ")");
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([impl](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    impl->refuse(res, ErrorKind::bad_request, what);
  });

  const bool bound = port == 0 ? (port_ = http.bind_to_any_port(host)) > 0 : http.bind_to_port(host, port);
  if (!bound) {
    throw std::runtime_error("rpc http: cannot listen on " + host + ":" + std::to_string(port) +
                             " (in use by another process, or a bad address)");
  }
  if (port != 0) port_ = port;
  // httplib listens with a backlog of 5 (common/net/listen_backlog.h); a failure only costs
  // clients arriving in a burst a 1 s SYN retry.
  net::raise_listen_backlog(port_, 1024);
}

HttpListener::~HttpListener() { stop(); }

void HttpListener::start() {
  thread_ = std::thread([this] { impl_->http.listen_after_bind(); });
  // httplib 0.11 has no wait_until_ready(): poll is_running() (set before the accept loop).
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!impl_->http.is_running()) {
    if (Clock::now() > deadline) throw std::runtime_error("rpc http: listener did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void HttpListener::stop() {
  if (stopped_.exchange(true)) return;
  impl_->http.stop();
  shut_down_connections_on(port_);
  if (thread_.joinable()) thread_.join();
}

std::uint64_t HttpListener::connections_waited() const { return impl_->waited.load(); }
std::uint64_t HttpListener::connections_refused() const { return impl_->refused.load(); }

}  // namespace homestead::rpc
