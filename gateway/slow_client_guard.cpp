#include "gateway/slow_client_guard.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <set>

namespace homestead::gateway {
namespace {

constexpr auto kScanInterval = std::chrono::milliseconds(200);

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string format_peer(const std::string& addr, int port) { return addr + ":" + std::to_string(port); }

// "addr:port" in the form httplib's Request::remote_addr/remote_port use (numeric host).
std::optional<std::string> peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return std::nullopt;
  }
  return format_peer(host, std::atoi(serv));
}

int local_port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}

// This process's connected TCP sockets whose local port is `port`, fd -> peer.
std::map<int, std::string> api_connections(int port) {
  std::map<int, std::string> out;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return out;
  const int own = ::dirfd(dir);
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == own) continue;
    struct stat st{};
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (local_port_of(static_cast<int>(fd)) != port) continue;
    if (auto peer = peer_of(static_cast<int>(fd))) out.emplace(static_cast<int>(fd), std::move(*peer));
  }
  ::closedir(dir);
  return out;
}

}  // namespace

std::vector<int> connections_to_close(const std::vector<ObservedConnection>& open, std::int64_t now_ms,
                                      std::size_t workers, std::int64_t grace_ms) {
  if (open.size() < workers) return {};
  std::vector<std::pair<std::int64_t, int>> stalled;  // progress time, fd
  for (const auto& c : open) {
    const auto progress = std::max(c.first_seen_ms, c.last_request_ms);
    if (now_ms - progress >= grace_ms) stalled.emplace_back(progress, c.fd);
  }
  std::sort(stalled.begin(), stalled.end());
  std::vector<int> fds;
  fds.reserve(stalled.size());
  for (const auto& s : stalled) fds.push_back(s.second);
  return fds;
}

SlowClientGuard::SlowClientGuard(int port, std::size_t workers, std::int64_t grace_ms,
                                 std::function<void(int)> on_close)
    : port_(port), workers_(workers), grace_ms_(grace_ms), on_close_(std::move(on_close)) {}

SlowClientGuard::~SlowClientGuard() { stop(); }

void SlowClientGuard::start() { thread_ = std::thread([this] { run(); }); }

void SlowClientGuard::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SlowClientGuard::request_completed(const std::string& remote_addr, int remote_port) {
  const auto t = now_ms();
  std::lock_guard lock(mutex_);
  last_request_ms_[format_peer(remote_addr, remote_port)] = t;
}

void SlowClientGuard::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    scan_once();
    lock.lock();
    wake_.wait_for(lock, kScanInterval, [this] { return stopping_; });
  }
}

void SlowClientGuard::scan_once() {
  const auto current = api_connections(port_);
  const auto t = now_ms();
  // Forget closed connections; a reused fd with another peer is a new connection.
  for (auto it = seen_.begin(); it != seen_.end();) {
    auto c = current.find(it->first);
    it = (c == current.end() || c->second != it->second.peer) ? seen_.erase(it) : std::next(it);
  }
  std::vector<ObservedConnection> open;
  open.reserve(current.size());
  {
    std::lock_guard lock(mutex_);
    std::set<std::string> live;
    for (const auto& [fd, peer] : current) {
      auto [it, fresh] = seen_.try_emplace(fd, ObservedConnection{fd, peer, t, -1});
      (void)fresh;
      auto done = last_request_ms_.find(peer);
      if (done != last_request_ms_.end()) it->second.last_request_ms = done->second;
      open.push_back(it->second);
      live.insert(peer);
    }
    // Requests of connections that are gone no longer matter (keeps the map small).
    std::erase_if(last_request_ms_, [&](const auto& entry) { return live.count(entry.first) == 0; });
  }
  int closed = 0;
  for (int fd : connections_to_close(open, t, workers_, grace_ms_)) {
    // The worker may have closed it (and the fd been reused) since the scan: only shut down
    // the connection the decision was about.
    const auto peer = peer_of(fd);
    if (!peer || *peer != seen_[fd].peer) continue;
    if (::shutdown(fd, SHUT_RDWR) == 0) ++closed;
    seen_.erase(fd);
  }
  if (closed > 0 && on_close_) on_close_(closed);
}

}  // namespace homestead::gateway
