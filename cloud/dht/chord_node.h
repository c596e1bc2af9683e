// One Chord ring position as a pure state machine (Stoica et al., SIGCOMM 2001 and the
// 2003 ToN version): no sockets, clocks or threads. The owner calls step() with each
// message for this position, tick() once per stabilization period, and the requests
// (create/join/leave/lookup/get/put); it then drains take_ready() for the messages to send
// and the requests that finished.
//
// Lookup mode: ITERATIVE by default. The asker contacts every hop itself, so it notices a
// silent hop (request timeout in ticks) and retries that hop's fallbacks (other fingers,
// the successor list) - exactly what lookups need right after failures, and it records
// the full path. RECURSIVE forwards the query hop by hop (one message per hop instead of a
// round trip, so about half the latency), but a query forwarded to a dead hop is lost and
// the asker can only time out as a whole; choose it for a stable ring.
//
// Routing at a node n for key k (the paper's find_successor plus one documented addition):
//   1. k in (predecessor, n]          -> n owns k (the addition: a node answers for itself)
//   2. k in (n, successor]            -> successor owns k
//   3. otherwise the highest finger in (n, k) is the next hop (closest_preceding_node);
//      the other fingers and successor-list entries in (n, k) are fallbacks, closest first.
//
// Keys live on their owner and are replicated on the next replication_factor - 1
// successors on distinct hosts, so a failed node's keys are still found.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cloud/dht/identifier.h"
#include "cloud/dht/messages.h"

namespace homestead::dht {

enum class LookupMode { iterative, recursive };

struct ChordConfig {
  unsigned bits = 32;
  std::size_t successor_list_length = 4;  // r
  std::size_t replication_factor = 3;     // copies of a key including the owner's
  LookupMode lookup_mode = LookupMode::iterative;
  unsigned request_timeout_ticks = 2;     // a peer silent this long is presumed failed
  unsigned fingers_per_tick = 1;          // fix_fingers refreshes this many entries per tick
  unsigned replicate_every_ticks = 4;
  unsigned max_hops = 0;                  // 0: 2 * bits + 8
};

enum class OperationKind { lookup, get, put };

struct OperationResult {
  RequestId request = 0;
  OperationKind kind = OperationKind::lookup;
  Id key = 0;
  bool ok = false;              // lookup: owner found; get: value found; put: owner stored it
  NodeRef owner;
  std::vector<NodeRef> path;    // every node visited, starting with the asker, ending with the owner
  unsigned timeouts = 0;        // hops or replicas that did not answer
  std::optional<std::string> value;
  std::string error;
};

struct Ready {
  std::vector<Envelope> messages;
  std::vector<OperationResult> completed;
};

class ChordNode {
 public:
  ChordNode(const ChordConfig& config, NodeRef self);

  // ---- membership ----
  void create();                      // the first node of a new ring
  void join(NodeRef bootstrap);       // finds our successor through any ring member
  void leave();                       // graceful: keys go to the successor, neighbours relink
  // Simulation shortcut for large static experiments: the state stabilization converges
  // to, computed by the caller from the full membership (tests check the protocol reaches it).
  void install(std::optional<NodeRef> predecessor, std::vector<NodeRef> successors,
               const std::vector<NodeRef>& fingers);

  // ---- requests; results come out of take_ready() with the returned id ----
  RequestId lookup(Id key);
  RequestId get(Id key);
  RequestId put(Id key, std::string value);

  // ---- inputs ----
  void step(const Envelope& envelope);
  // One stabilization period: expires requests, then (unless maintain is false, used to
  // measure a ring "before stabilization") stabilize, check_predecessor, fix_fingers and
  // re-replicate owned keys.
  void tick(bool maintain = true);
  Ready take_ready();

  // ---- observation ----
  const NodeRef& self() const { return self_; }
  const IdSpace& space() const { return space_; }
  bool joined() const { return joined_; }
  const std::optional<NodeRef>& predecessor() const { return predecessor_; }
  const std::vector<NodeRef>& successors() const { return successors_; }
  NodeRef successor() const { return successors_.empty() ? self_ : successors_.front(); }
  const std::vector<std::optional<NodeRef>>& fingers() const { return fingers_; }
  const std::map<Id, std::string>& stored() const { return store_; }
  std::size_t memory_bytes() const;

 private:
  enum class Purpose { client, fix_finger, join };
  enum class Phase { routing, storing, fetching };
  struct Operation {
    OperationKind kind = OperationKind::lookup;
    Purpose purpose = Purpose::client;
    Phase phase = Phase::routing;
    unsigned finger = 0;
    Id key = 0;
    std::string value;
    std::vector<NodeRef> path;
    std::vector<NodeRef> targets;   // routing: next-hop candidates; later: owner then replicas
    std::optional<NodeRef> waiting_on;
    std::uint64_t deadline = 0;
    unsigned timeouts = 0;
    NodeRef owner;
  };
  enum class ProbeKind { stabilize, check_predecessor };
  struct Probe {
    ProbeKind kind;
    NodeRef target;
    std::uint64_t deadline;
  };
  struct Decision {
    bool done = false;
    NodeRef node;
    std::vector<NodeRef> alternatives;
  };

  // routing (chord_routing.cpp)
  Decision route(Id key) const;
  RequestId start(Operation operation);
  void apply_decision(RequestId id, const NodeRef& responder, Decision decision);
  void ask_next(RequestId id);
  void finish_routing(RequestId id, const NodeRef& owner, std::vector<NodeRef> replicas);
  void contact_next_target(RequestId id);
  void complete(RequestId id, bool ok, std::string error = {});
  void on_timeout(RequestId id);
  void on_next_hop_request(const Envelope& e, const NextHopRequest& m);
  void on_next_hop_reply(const Envelope& e, const NextHopReply& m);
  void on_find_successor(const FindSuccessor& m);
  void on_found_successor(const FoundSuccessor& m);
  void on_put_ack(const Envelope& e, const PutAck& m);
  void on_fetch_reply(const Envelope& e, const FetchReply& m);

  // maintenance (chord_node.cpp)
  void stabilize();
  void fix_fingers();
  void check_predecessor();
  void replicate();
  void on_neighbours(const Envelope& e, const Neighbours& m);
  void on_notify(const NodeRef& candidate);
  void on_leaving(const NodeRef& leaver, const Leaving& m);
  void adopt_successors(std::vector<NodeRef> list);
  void forget(const NodeRef& node);
  std::vector<NodeRef> replica_targets() const;
  void store(std::vector<KeyValue> items);
  void send(const NodeRef& to, Body body);
  RequestId next_request_id() { return ++request_seq_; }
  unsigned max_hops() const;

  ChordConfig config_;
  IdSpace space_;
  NodeRef self_;
  bool joined_ = false;
  std::optional<NodeRef> predecessor_;
  std::vector<NodeRef> successors_;               // nearest first, never contains self unless alone
  std::vector<std::optional<NodeRef>> fingers_;   // fingers_[i] = successor(self + 2^i)
  unsigned next_finger_ = 0;
  std::map<Id, std::string> store_;               // owned keys and replicas
  std::map<RequestId, Operation> operations_;
  std::map<RequestId, Probe> probes_;
  std::uint64_t tick_ = 0;
  RequestId request_seq_ = 0;
  Ready ready_;
};

}  // namespace homestead::dht
