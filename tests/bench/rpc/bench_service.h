// The service the rpc benchmark calls: Echo of a payload of a given size, at-least-once (the
// benchmark measures the transport and codec, not the duplicate filter).
#pragma once

#include <string>
#include <tuple>

#include "cloud/rpc/service.h"

namespace homestead::rpc::bench {

struct Payload {
  std::string data;
  static constexpr auto schema() { return std::make_tuple(required("data", &Payload::data)); }
};

struct BenchService {
  static constexpr std::string_view name = "Bench";
  static constexpr int version = 1;
  HOMESTEAD_RPC_METHOD(Echo, Payload, Payload, at_least_once);
  using Methods = std::tuple<Echo>;
};

}  // namespace homestead::rpc::bench
