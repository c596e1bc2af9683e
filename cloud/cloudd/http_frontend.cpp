#include "cloud/cloudd/http_frontend.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "cloud/cloudd/kv_http_common.h"
#include "common/log/log.h"

namespace homestead::cloudd {
namespace {

const log::Logger& logger() {
  static const log::Logger instance("cloudd.http");
  return instance;
}

// While a request is being handled, read at most this much more before pausing the socket.
constexpr std::size_t kMaxBufferedWhileBusy = 1 << 20;
// A client that pipelines requests but does not read its answers: stop taking its requests
// (and then reading) once this much is waiting for it, so it cannot fill our memory.
constexpr std::size_t kMaxQueuedOutput = 4 << 20;
constexpr int kListenBacklog = 1024;
const std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

// Shared by the event thread, the connections (whose answers may come after stop()) and
// the workers.
struct FrontendCore {
  int epoll_fd = -1;
  int wake_fd = -1;
  HttpFrontendHandlers handlers;
  HttpParseLimits limits;
  std::thread::id event_thread;

  std::mutex mutex;  // guards the rest
  bool stopping = false;
  std::vector<std::shared_ptr<HttpConnection>> to_parse;  // answered with pipelined input left
  std::unique_ptr<httplib::ThreadPool> pool;

  ~FrontendCore() {
    if (epoll_fd >= 0) ::close(epoll_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto ignored = ::write(wake_fd, &one, sizeof one);
  }

  void parse_later(std::shared_ptr<HttpConnection> connection) {
    {
      std::lock_guard lock(mutex);
      if (stopping) return;
      to_parse.push_back(std::move(connection));
    }
    wake();
  }

  void run_slowly(std::shared_ptr<HttpConnection> connection, std::string raw, bool continue_sent) {
    {
      std::lock_guard lock(mutex);
      if (!stopping && pool) {
        pool->enqueue([this, connection, raw = std::move(raw), continue_sent] {
          bool close = false;
          std::string response;
          try {
            response = handlers.slow(raw, connection->remote_ip_, connection->remote_port_, continue_sent, close);
          } catch (const std::exception& e) {
            response = http_response(500, dump_json({{"error", e.what()}}), true);
            close = true;
          }
          connection->respond(response, close);
        });
        return;
      }
    }
    connection->respond(http_response(503, R"({"error":"server stopping"})", true), true);
  }
};

std::string http_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

std::string http_response(int status, std::string_view body, bool close, std::string_view extra_headers,
                          std::string_view content_type) {
  std::string out;
  out.reserve(128 + body.size() + extra_headers.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += http_reason(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += close ? "\r\nConnection: close\r\n" : "\r\n";
  out += extra_headers;  // each "Name: value\r\n"
  out += "\r\n";
  out += body;
  return out;
}

HttpConnection::HttpConnection(int fd, std::shared_ptr<FrontendCore> core, std::string remote_ip, int remote_port)
    : fd_(fd), core_(std::move(core)), remote_ip_(std::move(remote_ip)), remote_port_(remote_port) {}

// The descriptor lives as long as anyone may still answer on it, so its number is never
// reused under a late answer.
HttpConnection::~HttpConnection() { ::close(fd_); }

void HttpConnection::respond(std::string_view response, bool close) {
  bool parse_more = false;
  {
    std::lock_guard lock(mutex_);
    if (!busy_) return;  // a second answer to one request is a bug; never corrupt the stream
    busy_ = false;
    in_.erase(0, current_size_);
    current_size_ = 0;
    continue_sent_ = false;
    if (dead_) return;
    write_locked(response);
    if (close || (read_closed_ && in_.empty())) closing_ = true;
    if (closing_ && out_.empty()) {
      ::shutdown(fd_, SHUT_RDWR);  // the event thread sees the hang-up and drops us
      return;
    }
    if (read_paused_ && out_.size() <= kMaxQueuedOutput) {
      read_paused_ = false;
      update_events_locked();
    }
    parse_more = !closing_ && !in_.empty();
  }
  // Pipelined requests: the event thread parses them (on it, process_input's loop does).
  if (parse_more && std::this_thread::get_id() != core_->event_thread) core_->parse_later(shared_from_this());
}

void HttpConnection::respond_slowly() {
  std::string raw;
  bool continue_sent = false;
  {
    std::lock_guard lock(mutex_);
    if (!busy_ || dead_) return;
    raw = in_.substr(0, current_size_);
    continue_sent = continue_sent_;
  }
  core_->run_slowly(shared_from_this(), std::move(raw), continue_sent);
}

namespace {

// Sends what the socket takes without blocking, adding to `sent`; false when it is broken.
bool send_nonblocking(int fd, std::string_view data, std::size_t& sent) {
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }
  return true;
}

}  // namespace

void HttpConnection::write_locked(std::string_view data) {
  if (!out_.empty()) {
    out_.append(data);
    return;
  }
  std::size_t sent = 0;
  if (!send_nonblocking(fd_, data, sent)) {
    dead_ = true;  // the client is gone
    ::shutdown(fd_, SHUT_RDWR);
    return;
  }
  if (sent < data.size()) {
    out_.append(data.substr(sent));
    update_events_locked();
  }
}

void HttpConnection::flush_locked() {
  std::size_t sent = 0;
  if (!send_nonblocking(fd_, out_, sent)) {
    dead_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    return;
  }
  out_.erase(0, sent);
  if (out_.empty() && closing_) {
    ::shutdown(fd_, SHUT_RDWR);
    return;
  }
  if (read_paused_ && !busy_ && out_.size() <= kMaxQueuedOutput) read_paused_ = false;
  update_events_locked();
}

void HttpConnection::update_events_locked() {
  std::uint32_t wanted = 0;
  if (!read_closed_ && !read_paused_) wanted |= EPOLLIN;
  if (!out_.empty()) wanted |= EPOLLOUT;
  if (wanted == events_) return;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.fd = fd_;
  if (::epoll_ctl(core_->epoll_fd, EPOLL_CTL_MOD, fd_, &ev) == 0) events_ = wanted;
}

HttpFrontend::HttpFrontend(HostPort listen, int workers, HttpFrontendHandlers handlers, HttpParseLimits limits,
                           std::chrono::milliseconds idle_timeout)
    : listen_(std::move(listen)), workers_(workers), idle_timeout_(idle_timeout), core_(std::make_shared<FrontendCore>()) {
  core_->handlers = std::move(handlers);
  core_->limits = limits;
}

HttpFrontend::~HttpFrontend() { stop(); }

void HttpFrontend::start() {
  const std::string where = "http_listen " + listen_.text();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(listen_.port);
  if (::getaddrinfo(listen_.host.c_str(), port_text.c_str(), &hints, &found) != 0 || found == nullptr) {
    throw std::runtime_error("cannot resolve " + where);
  }
  listen_fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1;
  if (listen_fd_ >= 0) ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const bool bound = listen_fd_ >= 0 && ::bind(listen_fd_, found->ai_addr, found->ai_addrlen) == 0 &&
                     ::listen(listen_fd_, std::max(kListenBacklog, workers_)) == 0;
  ::freeaddrinfo(found);
  if (!bound) {
    const std::string reason = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("cannot listen on " + where + ": " + reason);
  }
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&local), &local_len);
  port_ = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&local)->sin_port);

  core_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  core_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (core_->epoll_fd < 0 || core_->wake_fd < 0) throw std::runtime_error("epoll/eventfd: " + std::string(std::strerror(errno)));
  for (const int fd : {listen_fd_, core_->wake_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(core_->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  core_->pool = std::make_unique<httplib::ThreadPool>(static_cast<std::size_t>(workers_));
  thread_ = std::thread([this] { run(); });
}

void HttpFrontend::stop() {
  std::unique_ptr<httplib::ThreadPool> pool;
  {
    std::lock_guard lock(core_->mutex);
    if (core_->stopping) return;
    core_->stopping = true;
    pool = std::move(core_->pool);
  }
  if (core_->wake_fd >= 0) core_->wake();
  if (thread_.joinable()) thread_.join();
  if (pool) pool->shutdown();  // waits for requests on the workers (their answers are dropped)
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void HttpFrontend::run() {
  core_->event_thread = std::this_thread::get_id();
  std::unordered_map<int, std::shared_ptr<HttpConnection>> connections;
  std::vector<epoll_event> events(256);
  auto drop_all = [&] {
    for (auto& [fd, connection] : connections) drop(connection);
    connections.clear();
  };
  const auto sweep_every = std::clamp(idle_timeout_ / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  auto next_sweep = std::chrono::steady_clock::now() + sweep_every;
  while (true) {
    const int n = ::epoll_wait(core_->epoll_fd, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(sweep_every.count()));
    if (std::chrono::steady_clock::now() >= next_sweep) {
      close_idle(connections);
      next_sweep = std::chrono::steady_clock::now() + sweep_every;
    }
    if (n < 0 && errno != EINTR) {
      logger().error("epoll_wait failed; HTTP front end stops", {{"error", std::strerror(errno)}});
      break;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        // Accept every pending connection.
        while (true) {
          sockaddr_storage peer{};
          socklen_t peer_len = sizeof peer;
          const int client = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                                       SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (client < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
              logger().warn("accept failed", {{"error", std::strerror(errno)}});
            }
            break;
          }
          const int on = 1;
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
          char ip[INET6_ADDRSTRLEN] = "";
          int port = 0;
          if (peer.ss_family == AF_INET) {
            const auto* a = reinterpret_cast<const sockaddr_in*>(&peer);
            ::inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
            port = ntohs(a->sin_port);
          } else if (peer.ss_family == AF_INET6) {
            const auto* a = reinterpret_cast<const sockaddr_in6*>(&peer);
            ::inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
            port = ntohs(a->sin6_port);
          }
          auto connection = std::make_shared<HttpConnection>(client, core_, ip, port);
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = client;
          connection->events_ = EPOLLIN;
          connection->last_read_ = std::chrono::steady_clock::now();
          if (::epoll_ctl(core_->epoll_fd, EPOLL_CTL_ADD, client, &ev) != 0) continue;  // destructor closes it
          connections.emplace(client, std::move(connection));
        }
        continue;
      }
      if (fd == core_->wake_fd) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto ignored = ::read(core_->wake_fd, &count, sizeof count);
        std::vector<std::shared_ptr<HttpConnection>> to_parse;
        {
          std::lock_guard lock(core_->mutex);
          if (core_->stopping) {
            drop_all();
            return;
          }
          to_parse.swap(core_->to_parse);
        }
        for (const auto& connection : to_parse) process_input(connection);
        continue;
      }
      const auto it = connections.find(fd);
      if (it == connections.end()) continue;
      const std::shared_ptr<HttpConnection> connection = it->second;
      on_event(connection, events[i].events);
      bool gone = false;
      {
        std::lock_guard lock(connection->mutex_);
        gone = connection->dead_;
      }
      if (gone) {
        drop(connection);
        connections.erase(fd);
      }
    }
  }
  drop_all();
}

void HttpFrontend::on_event(const std::shared_ptr<HttpConnection>& connection, std::uint32_t events) {
  if (events & EPOLLOUT) {
    {
      std::lock_guard lock(connection->mutex_);
      connection->flush_locked();
    }
    process_input(connection);  // requests held back while too much output was queued
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_from(connection, (events & (EPOLLHUP | EPOLLERR)) != 0);
}

void HttpFrontend::read_from(const std::shared_ptr<HttpConnection>& connection, bool hung_up) {
  HttpConnection& c = *connection;
  bool drop_it = false;
  {
    std::lock_guard lock(c.mutex_);
    char buffer[64 * 1024];
    // A hang-up or error: both directions are gone, no answer can reach the client (and
    // epoll reports it on every wait, so it must not stay registered).
    bool failed = hung_up;
    while (!c.read_closed_) {
      const ssize_t n = ::recv(c.fd_, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.last_read_ = std::chrono::steady_clock::now();
        c.in_.append(buffer, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof buffer) break;
        continue;
      }
      if (n == 0) {
        c.read_closed_ = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) failed = true;
      break;
    }
    // Nothing left to answer on a closed or broken connection: drop it.
    if (failed || c.dead_ || (c.read_closed_ && !c.busy_ && (c.in_.empty() || c.closing_)) ||
        (c.closing_ && c.out_.empty())) {
      c.dead_ = true;
      drop_it = true;
    } else {
      if ((c.busy_ || c.out_.size() > kMaxQueuedOutput) && c.in_.size() > kMaxBufferedWhileBusy) c.read_paused_ = true;
      c.update_events_locked();
    }
  }
  if (drop_it) {
    drop(connection);
    return;
  }
  process_input(connection);
}

// Parses and hands out the requests in the buffer, one at a time (event thread).
void HttpFrontend::process_input(const std::shared_ptr<HttpConnection>& connection) {
  HttpConnection& c = *connection;
  while (true) {
    HttpParseResult parsed;
    {
      std::lock_guard lock(c.mutex_);
      if (c.busy_ || c.dead_ || c.closing_ || c.in_.empty() || c.out_.size() > kMaxQueuedOutput) return;
      parsed = parse_http_request(c.in_, core_->limits);
      if (parsed.status == HttpParseStatus::incomplete) {
        if (c.read_closed_) {  // the rest never comes
          c.dead_ = true;
          ::shutdown(c.fd_, SHUT_RDWR);
          return;
        }
        if (parsed.head_complete && parsed.request.expect_continue && !c.continue_sent_) {
          c.continue_sent_ = true;
          c.write_locked(kContinue);
        }
        return;
      }
      if (parsed.status == HttpParseStatus::error) {
        // The stream cannot be trusted past a bad request: answer and close.
        c.busy_ = true;
        c.current_size_ = c.in_.size();
      } else {
        c.busy_ = true;
        c.current_size_ = parsed.request.size;
      }
    }
    if (parsed.status == HttpParseStatus::error) {
      c.respond(http_response(parsed.error_status, dump_json({{"error", parsed.error}}), true), true);
      return;
    }
    bool taken = false;
    try {
      taken = core_->handlers.fast && core_->handlers.fast(parsed.request, connection);
    } catch (const std::exception& e) {
      logger().error("fast route failed", {{"error", e.what()}});
      c.respond(http_response(500, dump_json({{"error", e.what()}}), true), true);
      return;
    }
    if (!taken) c.respond_slowly();
  }
}

void HttpFrontend::close_idle(std::unordered_map<int, std::shared_ptr<HttpConnection>>& connections) {
  const auto cutoff = std::chrono::steady_clock::now() - idle_timeout_;
  for (auto it = connections.begin(); it != connections.end();) {
    HttpConnection& c = *it->second;
    bool idle = false;
    {
      std::lock_guard lock(c.mutex_);
      // A request being answered is the Raft server's to time out, not ours.
      idle = !c.busy_ && c.out_.empty() && c.last_read_ < cutoff;
    }
    if (idle) {
      drop(it->second);
      it = connections.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpFrontend::drop(const std::shared_ptr<HttpConnection>& connection) {
  std::lock_guard lock(connection->mutex_);
  connection->dead_ = true;
  ::epoll_ctl(core_->epoll_fd, EPOLL_CTL_DEL, connection->fd_, nullptr);
  ::shutdown(connection->fd_, SHUT_RDWR);
}

}  // namespace homestead::cloudd
