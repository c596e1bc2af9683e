// Raft traffic between cloudd members over cloud/rpc's tcp transport (persistent pipelined
// connections, authenticated with the cluster secret).
//
// Sending never blocks the Raft loop: each peer has its own queue and sender thread, which
// packs everything queued into one "Raft/Step" call (so a busy leader sends one frame per
// peer per batch). Order per peer is kept end to end: one connection, one sender thread,
// and a one-worker server on the receiving side. Messages to an unreachable peer are
// dropped once its queue is full; Raft retransmits what matters. A connection that ends
// under a link is reported (set_on_peer_lost): Raft campaigns early when it was the
// leader's (replication/raft/node.h, peer_connection_lost).
//
// Every frame starts with a live-snapshot stamp (snapshot_channels.h: per-link sequence
// number and cut marks), so a global snapshot can run across the members without pausing
// Raft. The stamp is taken when the sender thread builds the frame; the receiver accounts
// for it before Raft sees the messages.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cloud/cloudd/cloudd_config.h"
#include "cloud/rpc/server.h"
#include "cloud/rpc/tcp_server.h"
#include "replication/raft/types.h"

namespace homestead::cloudd {

class SnapshotChannels;

std::string encode_message_batch(const std::vector<raft::Message>& messages);
// Throws raft::CodecError.
std::vector<raft::Message> decode_message_batch(std::string_view bytes);

class PeerTransport {
 public:
  using Receive = std::function<void(std::vector<raft::Message>)>;

  PeerTransport(const HostPort& listen, std::string cluster_secret, Receive on_messages);
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Another service on the same listener (cloudd's Chord traffic). Call before start().
  // Handlers run on the listener's single worker, so they must only hand work off.
  void add_method(std::string path, rpc::RawHandler handler);

  void start();
  void stop();
  int port() const { return listener_->port(); }

  // Adds or re-addresses a peer (no-op when the address is unchanged).
  void set_peer(raft::NodeId id, const HostPort& address);
  void remove_peer(raft::NodeId id);
  void send(std::vector<raft::Message> messages);

  std::uint64_t dropped() const;

  // `lost(id)` runs (on a connection's reader thread) when an established connection to
  // peer `id` ends: usually its process is gone. Set before start(); cleared by stop().
  void set_on_peer_lost(std::function<void(raft::NodeId)> lost);

 private:
  struct Link;
  // Outlives the transport in the reader threads' callbacks; stop() empties it.
  struct LostNotifier {
    std::mutex mutex;
    std::function<void(raft::NodeId)> lost;
  };
  std::shared_ptr<LostNotifier> lost_notifier_ = std::make_shared<LostNotifier>();
  // Wakes every link to send a frame now (empty if nothing is queued): the snapshot marker.
  void send_markers();
  std::string secret_;
  Receive on_messages_;
  std::shared_ptr<SnapshotChannels> snapshots_;  // the process's instance, if main installed one
  std::unique_ptr<rpc::Server> server_;
  std::unique_ptr<rpc::TcpListener> listener_;
  mutable std::mutex mutex_;
  std::map<raft::NodeId, std::shared_ptr<Link>> links_;
  bool stopped_ = false;
};

}  // namespace homestead::cloudd
