#include "cloud/rpc/http_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>

#include "cloud/rpc/socket.h"

namespace homestead::rpc::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

template <class T>
bool parse_number(std::string_view text, T& value, int base = 10) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  return error == std::errc() && end == text.data() + text.size();
}

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 << 20;

}  // namespace

Connection::~Connection() {
  std::lock_guard lock(mutex_);
  close_locked();
}

void Connection::close_locked() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
  offset_ = 0;
}

void Connection::abort() {
  std::lock_guard lock(mutex_);
  aborted_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // closed by the owner, so the fd is never reused under it
}

bool Connection::open(Clock::time_point deadline, std::chrono::milliseconds connect_timeout, std::string& why) {
  std::lock_guard lock(mutex_);
  if (aborted_) {
    why = "channel is closing";
    return false;
  }
  if (fd_ >= 0) {
    // A kept-alive connection the server has closed (or that has stray bytes) is replaced.
    pollfd check{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&check, 1, 0) == 0) return true;
    close_locked();
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  const auto timeout = std::min(connect_timeout, left);
  if (timeout.count() <= 0) {
    why = "deadline passed before connecting";
    return false;
  }
  fd_ = net::connect_to(host_, port_, timeout, why);  // sets TCP_NODELAY
  return fd_ >= 0;
}

Outcome Connection::fill(Clock::time_point deadline) {
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
    if (left <= 0) return Outcome::timed_out;
    pollfd waiter{fd_, POLLIN, 0};
    // poll() takes milliseconds; round up so a timeout never fires before the deadline.
    const int rc = ::poll(&waiter, 1, static_cast<int>((left + 999) / 1000));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) continue;  // the loop re-checks the deadline
    if (rc < 0) return Outcome::lost;
    char chunk[16 * 1024];
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Outcome::lost;
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return Outcome::ok;
  }
}

Outcome Connection::read_response(Clock::time_point deadline, Response& response, bool& keep_alive, std::string& why) {
  std::size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n", offset_)) == std::string::npos) {
    if (buffer_.size() - offset_ > kMaxHeaderBytes) {
      why = "response headers over 64 KiB";
      return Outcome::lost;
    }
    if (const auto outcome = fill(deadline); outcome != Outcome::ok) return outcome;
  }
  const std::string_view head(buffer_.data() + offset_, header_end - offset_);
  offset_ = header_end + 4;
  // Status line: HTTP/1.1 200 OK
  const auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  const auto space = status_line.find(' ');
  if (status_line.substr(0, 5) != "HTTP/" || space == std::string_view::npos ||
      !parse_number(status_line.substr(space + 1, 3), response.status)) {
    why = "malformed status line '" + std::string(status_line) + "'";
    return Outcome::lost;
  }
  keep_alive = status_line.substr(0, space) != "HTTP/1.0";
  std::size_t content_length = 0;
  bool has_length = false, chunked = false;
  std::string_view rest = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
  while (!rest.empty()) {
    const auto end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      has_length = parse_number(value, content_length);
    } else if (iequals(name, "Content-Type")) {
      response.content_type = value;
    } else if (iequals(name, "X-Rpc-Error")) {
      response.error_kind = value;
    } else if (iequals(name, "Connection")) {
      keep_alive = !iequals(value, "close");
    } else if (iequals(name, "Transfer-Encoding")) {
      chunked = iequals(value, "chunked");
    }
  }
  if (chunked) {
    for (;;) {
      std::size_t size_end;
      while ((size_end = buffer_.find("\r\n", offset_)) == std::string::npos) {
        if (const auto outcome = fill(deadline); outcome != Outcome::ok) return outcome;
      }
      std::string_view size_text(buffer_.data() + offset_, size_end - offset_);
      size_text = size_text.substr(0, size_text.find(';'));
      std::size_t size = 0;
      if (!parse_number(trim(size_text), size, 16) || response.body.size() + size > kMaxBodyBytes) {
        why = "malformed chunk size";
        return Outcome::lost;
      }
      while (buffer_.size() < size_end + 2 + size + 2) {
        if (const auto outcome = fill(deadline); outcome != Outcome::ok) return outcome;
      }
      response.body.append(buffer_, size_end + 2, size);
      offset_ = size_end + 2 + size + 2;
      if (size == 0) break;  // trailers are not used by the rpc wire; a blank line follows
    }
    return Outcome::ok;
  }
  if (!has_length) {
    // Body until the server closes: only possible without keep-alive.
    keep_alive = false;
    for (;;) {
      const auto outcome = fill(deadline);
      if (outcome == Outcome::timed_out) return outcome;
      if (outcome == Outcome::lost) break;
    }
    response.body.assign(buffer_, offset_);
    offset_ = buffer_.size();
    return Outcome::ok;
  }
  if (content_length > kMaxBodyBytes) {
    why = "response body over 64 MiB";
    return Outcome::lost;
  }
  while (buffer_.size() - offset_ < content_length) {
    if (const auto outcome = fill(deadline); outcome != Outcome::ok) return outcome;
  }
  response.body.assign(buffer_, offset_, content_length);
  offset_ += content_length;
  return Outcome::ok;
}

Outcome Connection::exchange(std::string_view head, std::string_view body, Clock::time_point deadline,
                             std::chrono::milliseconds connect_timeout, Response& response, std::string& why) {
  if (!open(deadline, connect_timeout, why)) return Outcome::not_sent;
  if (!net::send_frame(fd_, head, body)) {
    why = "send failed";
    std::lock_guard lock(mutex_);
    close_locked();
    return Outcome::not_sent;
  }
  bool keep_alive = true;
  const Outcome outcome = read_response(deadline, response, keep_alive, why);
  if (outcome != Outcome::ok || !keep_alive || offset_ != buffer_.size()) {
    // A broken, timed-out or closing connection (or one with stray bytes) is not reused:
    // a late reply must never be taken for the next call's.
    std::lock_guard lock(mutex_);
    close_locked();
  }
  return outcome;
}

}  // namespace homestead::rpc::http
