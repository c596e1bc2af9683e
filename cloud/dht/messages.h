// Messages between Chord ring positions. A ring position is a NodeRef: its identifier and
// the physical host that runs it (a host runs v virtual nodes; adapters map a host to an
// endpoint). Every request carries a RequestId chosen by the asker and echoed in the reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cloud/dht/identifier.h"

namespace homestead::dht {

using HostId = std::uint32_t;
using RequestId = std::uint64_t;

struct NodeRef {
  Id id = 0;
  HostId host = 0;
  friend bool operator==(const NodeRef&, const NodeRef&) = default;
};

struct KeyValue {
  Id key = 0;
  std::string value;
};

// Iterative lookup: "what do you know about the owner of key?"
struct NextHopRequest {
  RequestId request = 0;
  Id key = 0;
};
// done: `node` owns the key and `alternatives` are its successors (where replicas live).
// Not done: ask `node` next; `alternatives` are fallbacks, best first, if it does not answer.
struct NextHopReply {
  RequestId request = 0;
  Id key = 0;
  bool done = false;
  NodeRef node;
  std::vector<NodeRef> alternatives;
};

// Recursive lookup: forwarded hop by hop; the last hop answers the origin directly.
struct FindSuccessor {
  RequestId request = 0;
  Id key = 0;
  NodeRef origin;
  std::vector<NodeRef> path;
};
struct FoundSuccessor {
  RequestId request = 0;
  Id key = 0;
  NodeRef owner;
  std::vector<NodeRef> path;
  std::vector<NodeRef> replicas;
};

// stabilize: ask the successor for its predecessor and successor list.
struct GetNeighbours {
  RequestId request = 0;
};
struct Neighbours {
  RequestId request = 0;
  std::optional<NodeRef> predecessor;
  std::vector<NodeRef> successors;
};
// "I think I am your predecessor" (the sender is the candidate).
struct Notify {};

// check_predecessor.
struct Ping {
  RequestId request = 0;
};
struct Pong {
  RequestId request = 0;
};

// Keys handed over (join, leave) or replicated; the receiver keeps them all.
struct StoreKeys {
  std::vector<KeyValue> items;
};
// A client write, sent to the owner found by a lookup; the owner replicates it.
struct Put {
  RequestId request = 0;
  KeyValue item;
};
struct PutAck {
  RequestId request = 0;
};
struct Fetch {
  RequestId request = 0;
  Id key = 0;
};
struct FetchReply {
  RequestId request = 0;
  std::optional<std::string> value;
};

// Graceful leave: the leaver tells its neighbours whom to link to instead.
struct Leaving {
  std::optional<NodeRef> predecessor;
  std::vector<NodeRef> successors;
};

using Body = std::variant<NextHopRequest, NextHopReply, FindSuccessor, FoundSuccessor, GetNeighbours, Neighbours,
                          Notify, Ping, Pong, StoreKeys, Put, PutAck, Fetch, FetchReply, Leaving>;

struct Envelope {
  NodeRef from;
  NodeRef to;
  Body body;
};

// Rough wire size, for message-volume statistics.
std::size_t approximate_size(const Envelope& envelope);
const char* message_name(const Body& body);

}  // namespace homestead::dht
