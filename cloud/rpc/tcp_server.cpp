#include "cloud/rpc/tcp_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include "cloud/rpc/frame.h"
#include "cloud/rpc/socket.h"
#include "common/log/log.h"

namespace homestead::rpc {

namespace {
const log::Logger kLog("rpc.tcp");
}

struct TcpListener::Connection {
  int fd = -1;
  std::string peer;
  std::mutex write_mutex;
  bool closed = false;

  void send(const frame::Frame& header, std::string_view payload) {
    const std::string head = frame::encode_header(header, payload.size());
    std::lock_guard lock(write_mutex);
    if (closed) return;
    if (!net::send_frame(fd, head, payload)) {
      // The reader notices the broken connection and cleans up.
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  void reply(std::uint64_t request_id, const RawReply& reply) {
    frame::Frame header;
    header.type = frame::Type::reply;
    header.codec = reply.codec;
    header.kind = reply.kind;
    header.request_id = request_id;
    send(header, reply.body);
  }
  void close() {
    std::lock_guard lock(write_mutex);
    if (!closed) {
      closed = true;
      ::shutdown(fd, SHUT_RDWR);
    }
  }
};

TcpListener::TcpListener(Server& server, const std::string& host, int port) : server_(server) {
  listen_fd_ = net::listen_on(host, port);
  port_ = net::local_port(listen_fd_);
}

TcpListener::~TcpListener() { stop(); }

void TcpListener::start() {
  acceptor_ = std::thread([this] { accept_loop(); });
}

void TcpListener::stop() {
  if (stopping_.exchange(true)) return;
  // shutdown() wakes the blocked accept(); the fd is closed after the thread is gone.
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> readers;
  {
    std::lock_guard lock(mutex_);
    for (auto& connection : connections_) connection->close();
    readers.swap(readers_);
  }
  for (auto& reader : readers) reader.join();
}

std::size_t TcpListener::connections() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

void TcpListener::accept_loop() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      kLog.warn("accept failed", {{"errno", std::to_string(errno)}});
      if (errno == EINVAL) return;
      continue;
    }
    net::set_nodelay(fd);
    auto connection = std::make_shared<Connection>();
    connection->fd = fd;
    connection->peer = net::peer_name(fd);
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    connections_.push_back(connection);
    readers_.emplace_back([this, connection] { serve(connection); });
  }
}

void TcpListener::serve(std::shared_ptr<Connection> connection) {
  frame::Reader reader(server_.options().max_request_bytes + frame::kFixedHeader + frame::kRequestHeader + 256);
  bool authenticated = false;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t got = ::recv(connection->fd, buffer, sizeof buffer, 0);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      break;
    }
    reader.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
    bool hang_up = false;
    while (auto item = reader.next()) {
      if (auto* rejected = std::get_if<frame::Rejected>(&*item)) {
        kLog.warn("refused frame", {{"peer", connection->peer}, {"reason", rejected->reason}});
        server_.count_refusal(rejected->kind);
        connection->reply(rejected->request_id, RawReply{rejected->kind, Codec::json, rejected->reason});
        continue;
      }
      auto& frame = std::get<frame::Frame>(*item);
      if (!authenticated) {
        if (frame.type == frame::Type::hello && server_.authenticate(frame.payload)) {
          authenticated = true;
          frame::Frame welcome;
          welcome.type = frame::Type::welcome;
          connection->send(welcome, {});
          continue;
        }
        kLog.warn("refused connection: missing or wrong credential", {{"peer", connection->peer}});
        server_.count_refusal(ErrorKind::unauthenticated);
        connection->reply(frame.request_id, RawReply{ErrorKind::unauthenticated, Codec::json,
                                                     frame.type == frame::Type::hello
                                                         ? "wrong credential"
                                                         : "missing credential: the first frame must be a hello"});
        hang_up = true;
        break;
      }
      if (frame.type != frame::Type::request) {
        connection->reply(frame.request_id, RawReply{ErrorKind::bad_request, Codec::json, "expected a request frame"});
        continue;
      }
      CallContext context;
      context.peer = connection->peer;
      context.client_id = frame.client_id;
      context.seq = frame.seq;
      context.ack = frame.ack;
      if (frame.timeout_ms > 0) context.deadline = Clock::now() + std::chrono::milliseconds(frame.timeout_ms);
      const std::uint64_t id = frame.request_id;
      RawRequest request{std::move(frame.method), frame.codec, std::move(frame.payload),
                         frame.client_id, frame.seq, frame.ack, frame.timeout_ms, frame.one_way};
      const bool one_way = frame.one_way;
      if (server_.options().inline_calls) {
        RawReply reply = server_.execute(request, context);
        if (!one_way) connection->reply(id, reply);
        continue;
      }
      server_.submit(std::move(request), std::move(context), [connection, id, one_way](RawReply reply) {
        if (!one_way) connection->reply(id, reply);
      });
    }
    if (hang_up) break;
  }
  connection->close();
  std::lock_guard lock(mutex_);
  std::erase(connections_, connection);
  ::close(connection->fd);
}

}  // namespace homestead::rpc
