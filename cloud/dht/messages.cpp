#include "cloud/dht/messages.h"

#include <type_traits>

namespace homestead::dht {

std::size_t approximate_size(const Envelope& envelope) {
  constexpr std::size_t kRef = sizeof(Id) + sizeof(HostId);
  constexpr std::size_t kHeader = 2 * kRef + 1 + sizeof(RequestId);
  return kHeader + std::visit(
                       [](const auto& m) -> std::size_t {
                         using T = std::decay_t<decltype(m)>;
                         if constexpr (std::is_same_v<T, NextHopReply>) {
                           return kRef * (1 + m.alternatives.size()) + sizeof(Id);
                         } else if constexpr (std::is_same_v<T, FindSuccessor>) {
                           return kRef * (1 + m.path.size()) + sizeof(Id);
                         } else if constexpr (std::is_same_v<T, FoundSuccessor>) {
                           return kRef * (1 + m.path.size() + m.replicas.size()) + sizeof(Id);
                         } else if constexpr (std::is_same_v<T, Neighbours> || std::is_same_v<T, Leaving>) {
                           return kRef * (1 + m.successors.size());
                         } else if constexpr (std::is_same_v<T, StoreKeys>) {
                           std::size_t bytes = 0;
                           for (const auto& item : m.items) bytes += sizeof(Id) + item.value.size();
                           return bytes;
                         } else if constexpr (std::is_same_v<T, Put>) {
                           return sizeof(Id) + m.item.value.size();
                         } else if constexpr (std::is_same_v<T, FetchReply>) {
                           return m.value ? m.value->size() : 0;
                         } else {
                           return sizeof(Id);
                         }
                       },
                       envelope.body);
}

const char* message_name(const Body& body) {
  static constexpr const char* kNames[] = {"NextHopRequest", "NextHopReply", "FindSuccessor", "FoundSuccessor",
                                           "GetNeighbours",  "Neighbours",   "Notify",        "Ping",
                                           "Pong",           "StoreKeys",    "Put",           "PutAck",
                                           "Fetch",          "FetchReply",   "Leaving"};
  static_assert(std::size(kNames) == std::variant_size_v<Body>);
  return kNames[body.index()];
}

}  // namespace homestead::dht
