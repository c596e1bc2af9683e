// The server skeleton: typed handlers for a service's methods, each wrapped so the runtime
// sees only bytes. Decoding failures become `bad_request` naming the field; a handler that
// throws RemoteError (or any std::exception) becomes a `remote` error for the caller.
//
//   rpc::Skeleton<KvService> kv;
//   kv.on<KvService::Append>([&](const AppendRequest& req, const rpc::CallContext&) { ... return AppendReply{..}; });
//   kv.install(server);   // throws if a declared method has no handler
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "cloud/rpc/message_codec.h"
#include "cloud/rpc/server.h"
#include "cloud/rpc/service.h"

namespace homestead::rpc {

template <MethodDecl M, class F>
RawHandler make_raw_handler(F handler) {
  return [handler = std::move(handler)](const RawRequest& request, const CallContext& context) -> RawReply {
    typename M::Request decoded{};
    try {
      decode_message(request.body, request.codec, decoded);
    } catch (const SchemaError& e) {
      return RawReply{ErrorKind::bad_request, request.codec,
                      std::string(M::name) + " request: " + e.what()};
    }
    try {
      typename M::Response response;
      if constexpr (std::is_invocable_v<F&, const typename M::Request&, const CallContext&>) {
        response = handler(decoded, context);
      } else {
        response = handler(decoded);
      }
      return RawReply{ErrorKind::ok, request.codec, encode_message(response, request.codec)};
    } catch (const std::exception& e) {
      return RawReply{ErrorKind::remote, request.codec, e.what()};
    }
  };
}

template <ServiceDecl S>
class Skeleton {
 public:
  template <MethodDecl M, class F>
  Skeleton& on(F handler) {
    static_assert(is_method_of<S, M>, "method is not declared in this service's Methods");
    handlers_[std::string(M::name)] = {M::semantics, make_raw_handler<M>(std::move(handler))};
    return *this;
  }

  void install(Server& server) {
    std::apply(
        [&](auto... method) {
          (
              [&] {
                using M = decltype(method);
                const auto found = handlers_.find(std::string(M::name));
                if (found == handlers_.end()) {
                  throw std::logic_error("rpc: service " + std::string(S::name) + " has no handler for " +
                                         std::string(M::name));
                }
                server.add_method(method_path(S::name, M::name), found->second.first, found->second.second);
              }(),
              ...);
        },
        typename S::Methods{});
    server.add_description(describe_service<S>());
  }

 private:
  std::map<std::string, std::pair<Semantics, RawHandler>> handlers_;
};

}  // namespace homestead::rpc
