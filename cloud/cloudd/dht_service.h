// cloudd's Chord adapter (issue 11 item 3): every cloudd member runs `dht.virtual_nodes`
// positions on a Chord ring, and the ring maps a home to the Raft group that owns it.
//
// * Core: one dht::ChordNode (pure) per position, touched only by this service's loop
//   thread. The loop ticks them every `dht.stabilize_ms`, steps received messages, runs
//   queued lookups and sends what take_ready() returns. Lookups are iterative (the core's
//   default), so a dead hop costs one request timeout and the asker goes on with that hop's
//   fallbacks; a lookup starts at the local position closest before the key.
// * Transport: the Raft peer listener (cloud/rpc tcp, cluster secret) also serves
//   "Dht/Step"; one one-way call carries one MessagePack envelope (cloud/dht/wire_codec.h)
//   plus the sender's peer address ("reply_to"). Outgoing calls use one TcpChannel per peer
//   member; messages between two positions of this member never leave the process.
// * Addresses: the configured members' `peer` addresses, plus every reply_to heard (the
//   callers passed the cluster secret): a member started later, which the others' configs
//   do not list, joins through any configured member and is answered at its reply_to.
// * Identity: position i of member m is first-bits(SHA-1("cloudd/<m>")) for i = 0 and of
//   "cloudd/<m>/<i>" otherwise, with host = m, so every member can compute every other
//   member's positions from the config.
// * Joining: while none of its positions is on the ring, every (request_timeout_ticks + 1)
//   ticks the node asks all other configured members to let each position join (first
//   answer wins). The lowest configured id creates the ring if that first round found no
//   ring. Positions still off the ring join through a local position that is on it. A
//   member whose positions only know each other ("alone") keeps asking the others, so a
//   restarted creator merges back instead of staying apart.
// * Home -> group: group_of(home) looks up successor(home_key(home)) and maps the owner's
//   host to its Raft group. Today the cluster is one Raft group (`dht.group`) hosting
//   several ring positions; multi-group sharding changes only group_of_host().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cloud/cloudd/cloudd_config.h"
#include "cloud/dht/chord_node.h"
#include "cloud/dht/home_directory.h"

namespace homestead::rpc {
class TcpChannel;
}

namespace homestead::cloudd {

class RaftServer;

struct DhtLookup {
  bool ok = false;
  dht::Id key = 0;
  dht::NodeRef owner;
  std::vector<dht::NodeRef> path;  // every position visited, this node first, the owner last
  unsigned timeouts = 0;           // hops that did not answer and were routed around
  std::string error;
};

// One ring position's pointers.
struct DhtPositionView {
  bool joined = false;
  dht::NodeRef self;
  std::optional<dht::NodeRef> predecessor;
  std::vector<dht::NodeRef> successors;
  std::vector<std::optional<dht::NodeRef>> fingers;
};

// This member's view of the ring (position 0 first), copied by the loop after every turn.
struct DhtRingView {
  std::vector<DhtPositionView> positions;
  std::uint64_t ticks = 0;
  bool joined() const {
    for (const auto& p : positions) {
      if (!p.joined) return false;
    }
    return !positions.empty();
  }
};

class DhtService : public dht::HomeGroupDirectory {
 public:
  static constexpr const char* kStepMethod = "Dht/Step";

  DhtService(const CloudConfig& config, std::string cluster_secret);
  ~DhtService() override;
  DhtService(const DhtService&) = delete;
  DhtService& operator=(const DhtService&) = delete;

  // Registers Dht/Step on the Raft peer listener; call before raft.start().
  void attach(RaftServer& raft);
  void start();
  void stop();

  // Ring position `index` (0 .. virtual_nodes - 1) of a member.
  static dht::Id position_of(const dht::IdSpace& space, std::uint64_t member_id, unsigned index = 0);
  const dht::IdSpace& space() const { return space_; }
  const CloudConfig& config() const { return config_; }

  // Owner of `key` and the hop path; waits at most `timeout`.
  DhtLookup lookup(dht::Id key, std::chrono::milliseconds timeout) const;
  DhtRingView view() const;
  // Throws std::runtime_error when the lookup fails (not joined yet, no live route).
  dht::GroupId group_of(std::string_view home_id) const override;
  // The Raft group a ring host (a cloudd member id) belongs to.
  dht::GroupId group_of_host(dht::HostId host) const;

 private:
  struct PendingLookup {
    dht::Id key = 0;
    std::shared_ptr<std::promise<DhtLookup>> promise;
  };
  struct Received {
    dht::Envelope envelope;
    std::string reply_to;  // the sender's peer address, "" when local or not given
  };
  using WaiterKey = std::pair<std::size_t, dht::RequestId>;  // (local position, its request id)

  void loop();
  void on_tick();
  void dispatch(std::size_t position, dht::Ready ready);
  void send(const dht::Envelope& envelope);
  void learn_address(dht::HostId host, const std::string& reply_to);
  std::size_t lookup_start(dht::Id key) const;
  bool alone() const;
  std::vector<dht::NodeRef> other_members() const;
  DhtRingView make_view() const;

  CloudConfig config_;
  std::string secret_;
  dht::IdSpace space_;
  std::vector<dht::NodeRef> selves_;  // this member's positions, fixed at construction
  std::string reply_to_;              // this member's peer address as the others reach it

  mutable std::mutex mutex_;
  mutable std::condition_variable wake_;
  std::vector<Received> inbox_;
  mutable std::vector<PendingLookup> pending_;  // lookups are queries: const callers may queue them
  DhtRingView view_;
  bool stopping_ = false;
  std::thread thread_;

  // loop thread only
  std::vector<dht::ChordNode> nodes_;  // nodes_[i] runs selves_[i]
  std::map<WaiterKey, std::shared_ptr<std::promise<DhtLookup>>> waiters_;
  std::map<dht::HostId, HostPort> addresses_;
  std::map<dht::HostId, std::unique_ptr<rpc::TcpChannel>> channels_;
  std::uint64_t ticks_ = 0;
  unsigned join_rounds_ = 0;
};

}  // namespace homestead::cloudd
