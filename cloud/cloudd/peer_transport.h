// Raft traffic between cloudd members over cloud/rpc's tcp transport (persistent pipelined
// connections, authenticated with the cluster secret).
//
// Sending never blocks the Raft loop. When nothing is queued for a peer and its socket has
// room, the loop writes the frame itself (a non-blocking write: no thread hand-off, which on
// a busy 2-core box is most of the cost of a put); otherwise the frame goes to the peer's
// queue, and its sender thread packs everything queued into one "Raft/Step" call. One
// writer at a time per link keeps frames in stamp order. Frames are one-way (no rpc reply:
// Raft answers with its own messages) and the receiver handles each on its connection's
// reader thread, so per-peer order is kept end to end. Messages to an unreachable peer are
// dropped once its queue is full; Raft retransmits what matters. A connection that ends
// under a link is reported (set_on_peer_lost): Raft campaigns early when it was the
// leader's (replication/raft/node.h, peer_connection_lost).
//
// Followers hand client writes to the leader on the same links (set_forwarding: proposals
// out, the leader's answers - index and term, or a refusal - back).
//
// Every Raft frame starts with a live-snapshot stamp (snapshot_channels.h: per-link sequence
// number and cut marks), so a global snapshot can run across the members without pausing
// Raft. The stamp is taken when the frame is built (by whichever thread writes it); the
// receiver accounts for it before Raft sees the messages.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <atomic>
#include <chrono>
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

// A client write a follower hands to the leader over the peer link (instead of a second HTTP
// request): the leader proposes `data` and answers with where it will commit; the follower
// then answers its client when it applies that entry itself (same state machine, same
// result). Ids are the follower's own.
struct ForwardedProposal {
  std::uint64_t id = 0;
  std::string data;  // the encoded command
};
struct ForwardAnswer {
  std::uint64_t id = 0;
  std::uint8_t status = 0;  // raft::ProposeStatus
  raft::Index index = 0;
  raft::Term term = 0;
  raft::NodeId leader = 0;  // the proposer's leader hint when not ok
};

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
  // Handlers run on the connection's reader thread (one per peer connection, so possibly
  // concurrently), so they must be thread-safe and only hand work off.
  void add_method(std::string path, rpc::RawHandler handler);

  void start();
  void stop();
  int port() const { return listener_->port(); }

  // Adds or re-addresses a peer (no-op when the address is unchanged).
  void set_peer(raft::NodeId id, const HostPort& address);
  void remove_peer(raft::NodeId id);
  void send(std::vector<raft::Message> messages);

  std::uint64_t dropped() const;
  // Explicit snapshot marker frames written (frames without Raft messages, for the marks).
  std::uint64_t marker_frames() const;

  // Write forwarding (see ForwardedProposal). Both go out on the peer's link, before any Raft
  // messages queued after them, so an answer reaches the follower before the commit of its
  // entry. The handlers run on a connection's reader thread. Set before start().
  using OnProposals = std::function<void(raft::NodeId from, std::vector<ForwardedProposal>)>;
  using OnAnswers = std::function<void(std::vector<ForwardAnswer>)>;
  void set_forwarding(raft::NodeId self, OnProposals on_proposals, OnAnswers on_answers);
  // False when the peer is unknown, not connected or its queue is full: certainly not sent.
  bool forward_proposal(raft::NodeId leader, ForwardedProposal proposal);
  void answer_proposals(raft::NodeId to, std::vector<ForwardAnswer> answers);

  // Deferred snapshot markers. With a turn requester set (the Raft loop's), a snapshot
  // recorded here does not write explicit marker frames at once: it asks the loop for a turn
  // and, at that turn's end, the loop calls send_owed_markers(), which writes an explicit
  // marker only on the links no Step frame went out on since (a Step frame stamped after the
  // record carries its marks). Under load every leader<->follower link carries the turn's
  // Raft messages, so only the follower<->follower links need the extra frame; the cost is
  // that a snapshot's marks leave up to one Raft turn later. Without a requester (the
  // default) markers are written at once. Set before start().
  void set_turn_requester(std::function<void()> request_turn);
  // Marker linger (with a turn requester): an owed marker waits this long for a Step frame to
  // ride on before send_owed_markers() writes it alone, and a record asks no turn (the loop's
  // own turns, a tick at the latest, find it due). Like Nagle or Kafka's linger.ms: under
  // load the leader<->follower links' marks ride even at an idle moment (heartbeats), and a
  // snapshot's work is spread over at least this long instead of coming in one burst: fewer
  // snapshots fit in a second back to back, each a smaller share of the machine while it runs
  // (cloud/snapshot/README.md, tenth step). 0 (the default): due at the next turn's end.
  void set_marker_linger(std::chrono::milliseconds linger);
  void send_owed_markers(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

  // `lost(id)` runs (on a connection's reader thread) when an established connection to
  // peer `id` ends: usually its process is gone. Set before start(); cleared by stop().
  void set_on_peer_lost(std::function<void(raft::NodeId)> lost);

 private:
  struct Link;
  std::uint64_t sum_over_links(std::uint64_t Link::*counter) const;  // a Link counter over every link
  // Outlives the transport in the reader threads' callbacks; stop() empties it.
  struct LostNotifier {
    std::mutex mutex;
    std::function<void(raft::NodeId)> lost;
  };
  std::shared_ptr<LostNotifier> lost_notifier_ = std::make_shared<LostNotifier>();
  // A snapshot was recorded: every link owes a marker (at once, or deferred: see
  // set_turn_requester).
  void send_markers();
  std::function<void()> request_turn_;
  std::atomic<bool> markers_owed_{false};  // some link owes a marker; a turn was requested
  std::chrono::milliseconds marker_linger_{0};
  // With a linger: the steady clock count at which the earliest owed marker is due.
  std::atomic<std::chrono::steady_clock::rep> markers_due_{0};
  // A settled snapshot part for the member that started the snapshot (Snapshot/Part).
  void send_part(raft::NodeId to, std::string frame);
  std::string secret_;
  Receive on_messages_;
  raft::NodeId self_ = 0;
  OnProposals on_proposals_;
  OnAnswers on_answers_;
  std::shared_ptr<SnapshotChannels> snapshots_;  // the process's instance, if main installed one
  std::unique_ptr<rpc::Server> server_;
  std::unique_ptr<rpc::TcpListener> listener_;
  mutable std::mutex mutex_;
  std::map<raft::NodeId, std::shared_ptr<Link>> links_;
  bool stopped_ = false;
};

}  // namespace homestead::cloudd
