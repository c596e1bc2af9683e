#include "cloud/rpc/tcp_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cloud/rpc/frame.h"
#include "cloud/rpc/socket.h"
#include "cloud/rpc/timer_queue.h"

namespace homestead::rpc {

namespace {
struct Connection {
  int fd = -1;
  std::mutex write_mutex;
  bool dead = false;  // under write_mutex; once set, fd may be closed

  // Under write_mutex so a writer never uses an fd that was closed (and maybe reused).
  // False only when nothing was written and the socket is still usable (full right now).
  bool try_send(std::string_view head, std::string_view body) {
    std::lock_guard lock(write_mutex);
    if (dead) return false;
    return net::try_send_frame(fd, head, body, std::chrono::milliseconds(1000)) != net::TrySend::would_block;
  }
  bool send(std::string_view head, std::string_view body) {
    std::lock_guard lock(write_mutex);
    if (dead) return false;
    if (net::send_frame(fd, head, body)) return true;
    ::shutdown(fd, SHUT_RDWR);  // the reader sees it and fails the pending calls
    return false;
  }
  void hang_up() {
    std::lock_guard lock(write_mutex);
    if (!dead) ::shutdown(fd, SHUT_RDWR);
  }
  void closed_by_reader() {
    std::lock_guard lock(write_mutex);
    dead = true;
    ::close(fd);
  }
};



// The header bytes of a one-way request frame (its body is written after them).
std::string one_way_header(const RawRequest& request) {
  frame::Frame header;
  header.type = frame::Type::request;
  header.codec = request.codec;
  header.client_id = request.client_id;
  header.seq = request.seq;
  header.ack = request.ack;
  header.timeout_ms = request.timeout_ms;
  header.one_way = true;
  header.method = request.method;
  return frame::encode_header(header, request.body.size());
}

struct Pending {
  ReplyCallback done;
  std::uint64_t timer = 0;
};

}  // namespace

// Everything a call and a reader thread touch. Reader threads and deadline timers hold it by
// shared/weak pointer, so the TcpChannel facade can go away at any time, from any thread.
struct TcpChannel::Impl : std::enable_shared_from_this<TcpChannel::Impl> {
  Impl(std::string host, int port, TcpChannelOptions options)
      : host_(std::move(host)), port_(port), options_(std::move(options)) {}

  void close();
  void start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done);
  std::shared_ptr<Connection> connection(Clock::time_point deadline, RawReply& error);
  void read_loop(std::shared_ptr<Connection> connection, frame::Reader reader);
  void fail_pending(Connection& connection, ErrorKind kind, const std::string& why);
  void expire(std::uint64_t id);

  std::string host_;
  int port_;
  TcpChannelOptions options_;
  std::mutex connect_mutex_;  // one connect attempt at a time
  mutable std::mutex mutex_;  // current_, pending_, backoff
  std::shared_ptr<Connection> current_;
  std::unordered_map<std::uint64_t, std::pair<std::shared_ptr<Connection>, Pending>> pending_;
  std::uint64_t next_id_ = 1;
  Clock::time_point next_connect_at_{};
  std::chrono::milliseconds backoff_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<bool> closing_{false};
};

namespace {

// Sends the hello and waits for the welcome (or the refusal) before any call may use the
// connection. Leftover bytes stay in `reader`.
RawReply handshake(int fd, const std::string& credential, frame::Reader& reader, Clock::time_point deadline) {
  frame::Frame hello;
  hello.type = frame::Type::hello;
  hello.payload = credential;
  if (!net::send_frame(fd, frame::encode(hello), {})) return {ErrorKind::transport, Codec::json, "hello: send failed"};
  char buffer[4096];
  for (;;) {
    if (auto item = reader.next()) {
      if (auto* frame = std::get_if<frame::Frame>(&*item)) {
        if (frame->type == frame::Type::welcome) return {ErrorKind::ok, Codec::json, {}};
        if (frame->kind != ErrorKind::ok) return {frame->kind, Codec::json, "server refused the connection: " + frame->payload};
      }
      return {ErrorKind::transport, Codec::json, "hello: unexpected answer from server"};
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd waiter{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&waiter, 1, static_cast<int>(left)) <= 0) {
      return {ErrorKind::transport, Codec::json, "hello: no answer from server"};
    }
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) return {ErrorKind::transport, Codec::json, "hello: server closed the connection"};
    reader.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
  }
}

}  // namespace

TcpChannel::TcpChannel(std::string host, int port, TcpChannelOptions options)
    : impl_(std::make_shared<Impl>(std::move(host), port, std::move(options))) {}

TcpChannel::~TcpChannel() { impl_->close(); }

void TcpChannel::start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) {
  impl_->start_call(std::move(request), deadline, std::move(done));
}

bool TcpChannel::connected() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->current_ != nullptr;
}

std::uint64_t TcpChannel::connects() const { return impl_->connects_.load(); }

bool TcpChannel::try_send_one_way(const RawRequest& request) {
  if (impl_->closing_) return false;
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard lock(impl_->mutex_);
    connection = impl_->current_;
  }
  if (!connection) return false;  // connecting may block: the caller's queue thread does it
  return connection->try_send(one_way_header(request), request.body);
}

void TcpChannel::Impl::close() {
  closing_ = true;
  std::shared_ptr<Connection> connection;
  std::vector<Pending> left;
  {
    std::lock_guard lock(mutex_);
    connection = current_;
    for (auto& [id, entry] : pending_) left.push_back(std::move(entry.second));
    pending_.clear();
  }
  if (connection) connection->hang_up();  // its reader thread ends and drops its reference
  for (auto& pending : left) {
    TimerQueue::shared().cancel(pending.timer);
    pending.done({ErrorKind::unknown_outcome, Codec::json, "channel closed before the reply arrived"});
  }
}

std::shared_ptr<Connection> TcpChannel::Impl::connection(Clock::time_point deadline, RawReply& error) {
  {
    std::lock_guard lock(mutex_);
    if (current_) return current_;
  }
  std::lock_guard connecting(connect_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (current_) return current_;  // another caller connected meanwhile
    if (Clock::now() < next_connect_at_) {
      error = {ErrorKind::transport, Codec::json,
               "not connected to " + host_ + ":" + std::to_string(port_) + " (reconnect backoff)"};
      return nullptr;
    }
  }
  const auto timeout = std::min(options_.connect_timeout,
                                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  std::string why;
  const int fd = timeout.count() > 0 ? net::connect_to(host_, port_, timeout, why) : -1;
  frame::Reader reader(options_.max_reply_bytes);
  RawReply result{ErrorKind::transport, Codec::json, why.empty() ? "deadline passed before connecting" : why};
  if (fd >= 0) {
    result = handshake(fd, options_.credential, reader, Clock::now() + timeout);
    if (result.kind != ErrorKind::ok) ::close(fd);
  }
  std::lock_guard lock(mutex_);
  if (result.kind != ErrorKind::ok) {
    backoff_ = backoff_.count() == 0 ? options_.reconnect_min : std::min(backoff_ * 2, options_.reconnect_max);
    next_connect_at_ = Clock::now() + backoff_;
    error = result;
    return nullptr;
  }
  backoff_ = std::chrono::milliseconds(0);
  ++connects_;
  auto connection = std::make_shared<Connection>();
  connection->fd = fd;
  // Detached: nobody joins it, so no thread ever has to wait for itself; it holds the Impl.
  std::thread(&Impl::read_loop, shared_from_this(), connection, std::move(reader)).detach();
  current_ = connection;
  return connection;
}

void TcpChannel::Impl::read_loop(std::shared_ptr<Connection> connection, frame::Reader reader) {
  char buffer[64 * 1024];
  for (;;) {
    while (auto item = reader.next()) {
      auto* frame = std::get_if<frame::Frame>(&*item);
      if (!frame || frame->type != frame::Type::reply) {
        connection->hang_up();
        break;
      }
      Pending pending;
      {
        std::lock_guard lock(mutex_);
        const auto found = pending_.find(frame->request_id);
        if (found == pending_.end()) continue;  // timed out already
        pending = std::move(found->second.second);
        pending_.erase(found);
      }
      TimerQueue::shared().cancel(pending.timer);
      pending.done(RawReply{frame->kind, frame->codec, std::move(frame->payload)});
    }
    const ssize_t got = ::recv(connection->fd, buffer, sizeof buffer, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    reader.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
  }
  connection->closed_by_reader();
  fail_pending(*connection, ErrorKind::unknown_outcome, "connection to the server was lost after the request was sent");
  if (!closing_ && options_.on_connection_lost) options_.on_connection_lost();
}

void TcpChannel::Impl::fail_pending(Connection& connection, ErrorKind kind, const std::string& why) {
  std::vector<Pending> failed;
  {
    std::lock_guard lock(mutex_);
    if (current_.get() == &connection) current_.reset();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.first.get() == &connection) {
        failed.push_back(std::move(it->second.second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& pending : failed) {
    TimerQueue::shared().cancel(pending.timer);
    pending.done({kind, Codec::json, why});
  }
}

void TcpChannel::Impl::expire(std::uint64_t id) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    const auto found = pending_.find(id);
    if (found == pending_.end()) return;
    pending = std::move(found->second.second);
    pending_.erase(found);
  }
  pending.done({ErrorKind::timeout, Codec::json, "no reply before the deadline"});
}

void TcpChannel::Impl::start_call(RawRequest request, Clock::time_point deadline, ReplyCallback done) {
  if (closing_) {
    done({ErrorKind::transport, request.codec, "channel is closing"});
    return;
  }
  RawReply error;
  auto connection = this->connection(deadline, error);
  if (!connection) {
    done(std::move(error));
    return;
  }
  if (request.one_way) {
    // Nothing comes back, so nothing waits: no pending entry, no deadline timer.
    const bool sent = connection->send(one_way_header(request), request.body);
    done(sent ? RawReply{ErrorKind::ok, request.codec, {}}
              : RawReply{ErrorKind::transport, request.codec, "send to " + host_ + ":" + std::to_string(port_) + " failed"});
    return;
  }
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    pending_.emplace(id, std::make_pair(connection, Pending{std::move(done), 0}));
  }
  const auto timer = TimerQueue::shared().schedule(deadline, [weak = weak_from_this(), id] {
    if (auto self = weak.lock()) self->expire(id);
  });
  {
    std::lock_guard lock(mutex_);
    const auto found = pending_.find(id);
    if (found != pending_.end()) {
      found->second.second.timer = timer;
    } else {
      TimerQueue::shared().cancel(timer);  // already answered or failed; unlikely but possible
    }
  }
  frame::Frame header;
  header.type = frame::Type::request;
  header.codec = request.codec;
  header.request_id = id;
  header.client_id = request.client_id;
  header.seq = request.seq;
  header.ack = request.ack;
  header.timeout_ms = request.timeout_ms;
  header.method = std::move(request.method);
  if (!connection->send(frame::encode_header(header, request.body.size()), request.body)) {
    Pending pending;
    {
      std::lock_guard lock(mutex_);
      const auto found = pending_.find(id);
      if (found == pending_.end()) return;  // the reader already failed it
      pending = std::move(found->second.second);
      pending_.erase(found);
    }
    TimerQueue::shared().cancel(pending.timer);
    pending.done({ErrorKind::transport, header.codec, "send to " + host_ + ":" + std::to_string(port_) + " failed"});
  }
}

}  // namespace homestead::rpc
