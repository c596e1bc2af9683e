// The transport-independent server runtime: methods by "Service/Method", authentication,
// the bounded worker pool, the at-most-once duplicate filter, the description document and
// graceful draining. The tcp and http listeners only move bytes in and out of it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/rpc/codec.h"
#include "cloud/rpc/duplicate_filter.h"
#include "cloud/rpc/error.h"
#include "cloud/rpc/service.h"
#include "cloud/rpc/worker_pool.h"

namespace homestead::rpc {

using Clock = std::chrono::steady_clock;

// One call as the transports carry it: the method, the encoded body, and for at-most-once /
// exactly-once methods the client's session (client id, sequence, acknowledged-through).
struct RawRequest {
  std::string method;  // "Service/Method"
  Codec codec = Codec::json;
  std::string body;
  std::uint64_t client_id = 0;
  std::uint64_t seq = 0;
  std::uint64_t ack = 0;
  std::uint32_t timeout_ms = 0;  // the caller's remaining deadline, 0 = none
  // No reply wanted (tcp transport only): the channel reports ok once the frame is written
  // and the server sends nothing back. For traffic whose sender never looks at the answer.
  bool one_way = false;
};

struct RawReply {
  ErrorKind kind = ErrorKind::ok;
  Codec codec = Codec::json;
  std::string body;  // the encoded response when ok, else a human-readable message
};

struct CallContext {
  std::string peer;  // "127.0.0.1:40312"
  // Who the credential belongs to: "" for the shared credentials (ServerOptions::credentials,
  // or anonymous), else what ServerOptions::authenticator returned (e.g. "home/gateway").
  std::string principal;
  std::uint64_t client_id = 0;
  std::uint64_t seq = 0;
  std::uint64_t ack = 0;
  Clock::time_point deadline = Clock::time_point::max();
};

using RawHandler = std::function<RawReply(const RawRequest&, const CallContext&)>;

struct ServerOptions {
  // Accepted credentials: the shared cluster secret and/or per-client tokens. Auth is on by
  // default; a server with no credentials refuses every call unless allow_anonymous is set.
  std::vector<std::string> credentials;
  bool allow_anonymous = false;
  // Optional per-client credentials (e.g. gateway tokens held in a replicated registry):
  // returns the principal a presented token belongs to, or nullopt. Tried after
  // `credentials`; it must compare in constant time itself.
  std::function<std::optional<std::string>(std::string_view token)> authenticator;
  std::size_t max_request_bytes = 4 << 20;
  std::size_t workers = 4;
  std::size_t queue_capacity = 4096;
  // tcp listener: run each call on its connection's reader thread instead of handing it to
  // the worker pool. Keeps per-connection order and saves a thread hand-off per call; only
  // for handlers that never block (they just queue the work elsewhere).
  bool inline_calls = false;
  DuplicateFilter::Options filter;
};

struct ServerStats {
  std::uint64_t executed = 0;
  std::uint64_t duplicates_answered = 0;
  std::uint64_t refused_auth = 0;
  std::uint64_t refused_other = 0;  // bad request, too large, not found, overloaded, draining
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void add_method(std::string path, Semantics semantics, RawHandler handler);
  void add_description(nlohmann::json service_description);
  nlohmann::json describe() const;

  // Constant-time against each configured credential, then the authenticator hook.
  bool authenticate(std::string_view presented) const { return principal_for(presented).has_value(); }
  // The principal of a presented credential ("" for the shared ones); nullopt when refused.
  std::optional<std::string> principal_for(std::string_view presented) const;
  const ServerOptions& options() const { return options_; }

  // Runs the call on a worker; `done` is called exactly once (inline when refused).
  void submit(RawRequest request, CallContext context, std::function<void(RawReply)> done);
  // Runs the call in the calling thread (the http listener's own pool is the bound there).
  RawReply execute(const RawRequest& request, const CallContext& context);

  // Graceful shutdown: new calls get `shutting_down`; waits up to `grace` for the calls in
  // flight to finish. True when none is left.
  bool drain(std::chrono::milliseconds grace);
  bool draining() const { return draining_.load(); }
  std::size_t in_flight() const;
  ServerStats stats() const;
  // Listeners count the refusals they decide themselves (bad credentials, bad frames).
  void count_refusal(ErrorKind kind);
  // The at-most-once filter's size, for tests and /metrics.
  std::size_t filter_clients() const;

 private:
  struct Method {
    Semantics semantics;
    RawHandler handler;
  };
  RawReply run(const RawRequest& request, const CallContext& context);
  RawReply refuse(ErrorKind kind, std::string message, Codec codec);
  void finished();

  ServerOptions options_;
  std::map<std::string, Method, std::less<>> methods_;
  nlohmann::json descriptions_ = nlohmann::json::array();
  std::atomic<bool> draining_{false};
  mutable std::mutex mutex_;  // in-flight count, filter, stats
  std::condition_variable idle_;
  std::size_t in_flight_ = 0;
  DuplicateFilter filter_;
  ServerStats stats_;
  Clock::time_point epoch_ = Clock::now();
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace homestead::rpc
