#include "firmware-sim/socket_tuning.h"

#include <MQTTAsync.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace homestead::firmware {
namespace {

struct Known {
  int fd;
  ino_t inode;
};

std::mutex registry_mutex;
std::unordered_map<std::string, Known>& registry() {
  static std::unordered_map<std::string, Known> map;
  return map;
}
std::atomic<std::uint64_t> nodelay_sockets{0};

void on_trace(enum MQTTASYNC_TRACE_LEVELS, char* message) {
  int fd = -1;
  std::string client;
  if (!message || !PahoSockets::parse_connect_line(message, fd, client)) return;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++nodelay_sockets;
  std::lock_guard lock(registry_mutex);
  registry()[client] = Known{fd, st.st_ino};
}

}  // namespace

bool parse_broker(const std::string& text, BrokerAddress& out) {
  std::string rest = text;
  for (const char* scheme : {"tcp://", "mqtt://"}) {
    if (rest.rfind(scheme, 0) == 0) rest = rest.substr(std::string(scheme).size());
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= rest.size()) return false;
  const std::string port = rest.substr(colon + 1);
  for (char c : port)
    if (c < '0' || c > '9') return false;
  out.host = rest.substr(0, colon);
  out.port = std::atoi(port.c_str());
  return out.port > 0 && out.port < 65536;
}

bool PahoSockets::parse_connect_line(std::string_view line, int& fd, std::string& client_id) {
  // "<date> <time> <fd> <client id> -> CONNECT version 4 clean: 1 (0)"
  const auto arrow = line.find(" -> CONNECT ");
  if (arrow == std::string_view::npos) return false;
  const std::string_view head = line.substr(0, arrow);
  const auto id_start = head.rfind(' ');
  if (id_start == std::string_view::npos || id_start == 0) return false;
  const auto fd_start = head.rfind(' ', id_start - 1);
  const std::string_view fd_text = head.substr(fd_start == std::string_view::npos ? 0 : fd_start + 1,
                                               id_start - (fd_start == std::string_view::npos ? 0 : fd_start + 1));
  if (fd_text.empty()) return false;
  int value = 0;
  for (char c : fd_text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  fd = value;
  client_id = std::string(head.substr(id_start + 1));
  return !client_id.empty();
}

void PahoSockets::install() {
  static std::once_flag once;
  std::call_once(once, [] {
    MQTTAsync_setTraceCallback(on_trace);
    MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_PROTOCOL);
  });
}

bool PahoSockets::cut(const std::string& client_id) {
  Known known{};
  {
    std::lock_guard lock(registry_mutex);
    auto it = registry().find(client_id);
    if (it == registry().end()) return false;
    known = it->second;
    registry().erase(it);
  }
  struct stat st {};
  if (::fstat(known.fd, &st) != 0 || st.st_ino != known.inode) return false;  // closed or fd reused
  return ::shutdown(known.fd, SHUT_RDWR) == 0;
}

std::uint64_t PahoSockets::nodelay_count() { return nodelay_sockets.load(); }

}  // namespace homestead::firmware
