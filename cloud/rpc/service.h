// The IDL for services: a service is a struct naming itself, its version and its methods;
// each method names its request and response types (schema.h) and its invocation semantics.
// The same declaration drives the client stub (stub.h), the server skeleton (skeleton.h) and
// the description served at GET /rpc/v1/_describe.
//
//   struct KvService {
//     static constexpr std::string_view name = "Kv";
//     static constexpr int version = 1;
//     HOMESTEAD_RPC_METHOD(Append, AppendRequest, AppendReply, at_most_once);
//     HOMESTEAD_RPC_METHOD(Get, GetRequest, GetReply, at_least_once);
//     using Methods = std::tuple<Append, Get>;
//   };
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "cloud/rpc/schema.h"

namespace homestead::rpc {

enum class Semantics : std::uint8_t {
  // The client retries on timeout/lost connection; the server executes every copy it gets.
  // For idempotent methods (reads, puts of absolute values).
  at_least_once = 1,
  // Each call carries (client id, sequence); the server's DuplicateFilter answers a repeat
  // with the saved reply and never executes it twice.
  at_most_once = 2,
  // Like at_most_once on the client; the server runtime does no filtering itself but hands
  // (client id, sequence, ack) to the handler, which keeps a DuplicateFilter inside its
  // replicated state machine so the filter survives fail-over (the Raft service does this).
  exactly_once = 3,
};

std::string_view to_string(Semantics semantics);

#define HOMESTEAD_RPC_METHOD(NAME, REQUEST, RESPONSE, SEMANTICS)                        \
  struct NAME {                                                                          \
    static constexpr std::string_view name = #NAME;                                      \
    using Request = REQUEST;                                                             \
    using Response = RESPONSE;                                                           \
    static constexpr ::homestead::rpc::Semantics semantics = ::homestead::rpc::Semantics::SEMANTICS; \
  }

template <class M>
concept MethodDecl = requires {
  { M::name } -> std::convertible_to<std::string_view>;
  { M::semantics } -> std::convertible_to<Semantics>;
  typename M::Request;
  typename M::Response;
} && HasSchema<typename M::Request> && HasSchema<typename M::Response>;

template <class S>
concept ServiceDecl = requires {
  { S::name } -> std::convertible_to<std::string_view>;
  { S::version } -> std::convertible_to<int>;
  typename S::Methods;
};

template <class M, class Tuple>
struct tuple_contains;
template <class M, class... Ms>
struct tuple_contains<M, std::tuple<Ms...>> : std::bool_constant<(std::is_same_v<M, Ms> || ...)> {};

template <class S, class M>
inline constexpr bool is_method_of = tuple_contains<M, typename S::Methods>::value;

// "Kv/Append": the key both transports route on.
inline std::string method_path(std::string_view service, std::string_view method) {
  std::string path(service);
  path += '/';
  path += method;
  return path;
}

template <MethodDecl M>
nlohmann::json describe_method() {
  return {{"name", M::name},
          {"semantics", to_string(M::semantics)},
          {"request", describe_message<typename M::Request>()},
          {"response", describe_message<typename M::Response>()}};
}

template <ServiceDecl S>
nlohmann::json describe_service() {
  nlohmann::json methods = nlohmann::json::array();
  std::apply([&](auto... method) { (methods.push_back(describe_method<decltype(method)>()), ...); },
             typename S::Methods{});
  return {{"name", S::name}, {"version", S::version}, {"methods", methods}};
}

}  // namespace homestead::rpc
