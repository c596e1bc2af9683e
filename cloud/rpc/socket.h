// Small POSIX socket helpers for the tcp transport (blocking sockets; one reader thread per
// connection, writes under a per-connection lock).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace homestead::rpc::net {

// A listening socket on host:port (port 0 = any); throws std::runtime_error with errno text.
int listen_on(const std::string& host, int port, int backlog = 128);
int local_port(int fd);
// Connects with a timeout and sets TCP_NODELAY; -1 and `error` set on failure.
int connect_to(const std::string& host, int port, std::chrono::milliseconds timeout, std::string& error);
void set_nodelay(int fd);
// Sends head then body as one gather write (sendmsg = writev + MSG_NOSIGNAL), looping on short
// writes. False when the connection failed.
bool send_frame(int fd, std::string_view head, std::string_view body);
// Like send_frame, but gives up (false, nothing written) when the socket cannot take the
// first byte right now, so a caller that must not block can queue the frame instead. Once
// part of the frame is out the rest must follow: it waits for room up to `rest_timeout`,
// then shuts the connection down (the frame is lost with it; the reader reports the loss).
enum class TrySend { sent, would_block, failed };
TrySend try_send_frame(int fd, std::string_view head, std::string_view body, std::chrono::milliseconds rest_timeout);
std::string peer_name(int fd);

}  // namespace homestead::rpc::net
