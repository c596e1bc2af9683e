// Keeps slow or idle HTTP clients from exhausting the REST API's workers (slowloris).
//
// cpp-httplib serves each connection on one pool thread until it closes. Its read timeout
// applies to each read, so a client that trickles one header byte every few seconds holds a
// worker forever, and a few dozen such clients starve every real request (tests/gateway/
// hardening_test.cpp shows it). httplib 0.11 has no per-request deadline and no hook that
// sees accepted sockets, so the guard watches from outside: a thread looks at this
// process's sockets on the API port a few times a second and, only while the connections
// reach the worker count, shuts down those that have not completed a request within the
// grace period (idle keep-alive connections included: under pressure they are the cheapest
// to drop, clients reconnect). Completed requests are reported by the server's logger hook.
//
// The decision is a pure function (`connections_to_close`) so it is unit tested on its own.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace homestead::gateway {

struct ObservedConnection {
  int fd = -1;
  std::string peer;            // "addr:port" of the client
  std::int64_t first_seen_ms = 0;    // when the guard first saw this connection
  std::int64_t last_request_ms = -1;  // last completed request on it, -1 = none yet
};

// The connections to close now: none while fewer than `workers` are open; otherwise every
// connection with no completed request during the last `grace_ms` (counted from when it was
// first seen or from its last request, whichever is later), the longest-stalled first.
std::vector<int> connections_to_close(const std::vector<ObservedConnection>& open, std::int64_t now_ms,
                                      std::size_t workers, std::int64_t grace_ms);

class SlowClientGuard {
 public:
  // `on_close(n)` is called (on the guard thread) after n connections were shut down.
  SlowClientGuard(int port, std::size_t workers, std::int64_t grace_ms, std::function<void(int)> on_close);
  ~SlowClientGuard();
  SlowClientGuard(const SlowClientGuard&) = delete;
  SlowClientGuard& operator=(const SlowClientGuard&) = delete;

  void start();
  void stop();
  // From the server's logger: a request on the connection from (addr, port) completed.
  void request_completed(const std::string& remote_addr, int remote_port);

 private:
  void run();
  void scan_once();

  const int port_;
  const std::size_t workers_;
  const std::int64_t grace_ms_;
  std::function<void(int)> on_close_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, std::int64_t> last_request_ms_;  // peer -> time
  std::map<int, ObservedConnection> seen_;               // fd -> what the guard knows (guard thread only)
  std::thread thread_;
};

}  // namespace homestead::gateway
