// Client stubs: typed calls generated from the service declaration (service.h).
//
//   auto channel = std::make_shared<rpc::TcpChannel>("127.0.0.1", port, tcp_options);
//   rpc::Stub<KvService> kv(channel);
//   rpc::Result<AppendReply> r = kv.call<KvService::Append>({"k", "v"});            // sync
//   std::future<rpc::Result<AppendReply>> f = kv.call_async<KvService::Append>(req); // future
//   kv.call_async<KvService::Append>(req, [](rpc::Result<AppendReply> r) { ... });   // callback
//
// Each call has a deadline (timeout) covering all its attempts, an optional per-attempt
// timeout, and a retry policy (exponential backoff with jitter). At-most-once and exactly-once
// methods carry the stub's session (client id, sequence, ack); a retry reuses the sequence so
// the server's duplicate filter recognises it.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "cloud/rpc/channel.h"
#include "cloud/rpc/message_codec.h"
#include "cloud/rpc/retry.h"
#include "cloud/rpc/service.h"

namespace homestead::rpc {

struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;          // whole call, all attempts
  std::optional<std::chrono::milliseconds> attempt_timeout;  // one attempt (default: whole call)
  std::optional<RetryPolicy> retry;
  std::optional<Codec> codec;
};

struct StubOptions {
  Codec codec = Codec::msgpack;
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds attempt_timeout{0};  // 0: an attempt may use the whole deadline
  RetryPolicy retry;
  std::shared_ptr<ClientSession> session;  // made on demand; share one to keep a client id
};

// The untyped part of every stub: sessions, deadlines, attempts and backoff.
class Invoker {
 public:
  Invoker(std::shared_ptr<Channel> channel, StubOptions options);

  RawReply call(const std::string& method, Semantics semantics, std::string body, const CallOptions& options);
  void call_async(const std::string& method, Semantics semantics, std::string body, const CallOptions& options,
                  ReplyCallback done);
  Codec codec(const CallOptions& options) const { return options.codec.value_or(options_.codec); }
  ClientSession& session() { return *options_.session; }
  struct Plan;  // one call's attempts (stub.cpp)

 private:
  std::shared_ptr<Plan> plan(const std::string& method, Semantics semantics, std::string body,
                             const CallOptions& options);
  std::shared_ptr<Channel> channel_;
  StubOptions options_;
};

template <class Response>
Result<Response> decode_reply(RawReply reply, std::string_view method) {
  if (reply.kind != ErrorKind::ok) return RpcError{reply.kind, std::move(reply.body)};
  try {
    return decode_message<Response>(reply.body, reply.codec);
  } catch (const SchemaError& e) {
    return RpcError{ErrorKind::bad_request, std::string(method) + " response: " + e.what()};
  }
}

template <ServiceDecl S>
class Stub {
 public:
  explicit Stub(std::shared_ptr<Channel> channel, StubOptions options = {})
      : invoker_(std::move(channel), std::move(options)) {}

  template <MethodDecl M>
  Result<typename M::Response> call(const typename M::Request& request, const CallOptions& options = {}) {
    static_assert(is_method_of<S, M>, "method is not declared in this service's Methods");
    return decode_reply<typename M::Response>(
        invoker_.call(path<M>(), M::semantics, encode_message(request, invoker_.codec(options)), options),
        M::name);
  }

  template <MethodDecl M>
  void call_async(const typename M::Request& request, std::function<void(Result<typename M::Response>)> done,
                  const CallOptions& options = {}) {
    static_assert(is_method_of<S, M>, "method is not declared in this service's Methods");
    invoker_.call_async(path<M>(), M::semantics, encode_message(request, invoker_.codec(options)), options,
                        [done = std::move(done)](RawReply reply) {
                          done(decode_reply<typename M::Response>(std::move(reply), M::name));
                        });
  }

  template <MethodDecl M>
  std::future<Result<typename M::Response>> call_async(const typename M::Request& request,
                                                       const CallOptions& options = {}) {
    auto promise = std::make_shared<std::promise<Result<typename M::Response>>>();
    auto future = promise->get_future();
    call_async<M>(request, [promise](Result<typename M::Response> result) { promise->set_value(std::move(result)); },
                  options);
    return future;
  }

  ClientSession& session() { return invoker_.session(); }

 private:
  template <MethodDecl M>
  static const std::string& path() {
    static const std::string value = method_path(S::name, M::name);
    return value;
  }
  Invoker invoker_;
};

}  // namespace homestead::rpc
