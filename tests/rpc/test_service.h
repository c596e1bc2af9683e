// The services the rpc tests use: a key -> list-of-values store whose Append exists in an
// at-most-once and an at-least-once flavour (so tests can tell the semantics apart), plus
// Echo for codec round trips and Sleep for stalled-server tests.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cloud/rpc/service.h"

namespace homestead::rpc::testing {

struct AppendRequest {
  std::string key;
  std::string value;
  static constexpr auto schema() {
    return std::make_tuple(required("key", &AppendRequest::key), required("value", &AppendRequest::value));
  }
};
struct AppendReply {
  std::uint64_t length = 0;  // list length after the append
  static constexpr auto schema() { return std::make_tuple(required("length", &AppendReply::length)); }
};
struct GetRequest {
  std::string key;
  static constexpr auto schema() { return std::make_tuple(required("key", &GetRequest::key)); }
};
struct GetReply {
  std::vector<std::string> values;
  static constexpr auto schema() { return std::make_tuple(required("values", &GetReply::values)); }
};

struct Item {
  std::string name;
  std::int32_t count = 0;
  static constexpr auto schema() {
    return std::make_tuple(required("name", &Item::name), optional("count", &Item::count));
  }
};
struct EchoMessage {
  std::string text;
  std::int64_t number = 0;
  double ratio = 0;
  bool flag = false;
  std::vector<Item> items;
  std::optional<std::string> note;
  std::map<std::string, std::uint32_t> tags;
  std::string payload;  // binary-safe only with msgpack
  static constexpr auto schema() {
    return std::make_tuple(required("text", &EchoMessage::text), optional("number", &EchoMessage::number),
                           optional("ratio", &EchoMessage::ratio), optional("flag", &EchoMessage::flag),
                           optional("items", &EchoMessage::items), optional("note", &EchoMessage::note),
                           optional("tags", &EchoMessage::tags), optional("payload", &EchoMessage::payload));
  }
  bool operator==(const EchoMessage&) const = default;
};
inline bool operator==(const Item& a, const Item& b) { return a.name == b.name && a.count == b.count; }

struct SleepRequest {
  std::uint32_t millis = 0;
  static constexpr auto schema() { return std::make_tuple(required("millis", &SleepRequest::millis)); }
};
struct SleepReply {
  std::uint32_t slept = 0;
  static constexpr auto schema() { return std::make_tuple(required("slept", &SleepReply::slept)); }
};

struct KvService {
  static constexpr std::string_view name = "Kv";
  static constexpr int version = 1;
  HOMESTEAD_RPC_METHOD(Append, AppendRequest, AppendReply, at_most_once);
  HOMESTEAD_RPC_METHOD(AppendAtLeastOnce, AppendRequest, AppendReply, at_least_once);
  HOMESTEAD_RPC_METHOD(Get, GetRequest, GetReply, at_least_once);
  HOMESTEAD_RPC_METHOD(Echo, EchoMessage, EchoMessage, at_least_once);
  HOMESTEAD_RPC_METHOD(Sleep, SleepRequest, SleepReply, at_least_once);
  HOMESTEAD_RPC_METHOD(Fail, GetRequest, GetReply, at_least_once);
  using Methods = std::tuple<Append, AppendAtLeastOnce, Get, Echo, Sleep, Fail>;
};

}  // namespace homestead::rpc::testing
