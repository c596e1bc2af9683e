// cloudd's side of the live global snapshot (issue 10 item 4): a thread-safe wrapper around
// the pure snapshot::LiveParticipant for this node's RPC channels.
//
// Channels: the Raft peer links (peer_transport.cpp stamps every frame it sends and hands
// every frame it receives to on_receive before Raft sees it). One lock serialises stamping,
// receiving and recording, so "sent before the cut" and "received before the cut" are
// exact, and the recorded state can only reflect frames received before the cut (later
// ones reach Raft only after the record).
//
// The state recorded is cheap and read without waiting for the Raft loop: the KV revision,
// the state-machine hash, key count and leader hint (StateFn).
//
// Markers: after recording, every peer link sends one frame at once, empty if there is no
// Raft traffic queued, carrying the cut marks. Marks ride on a link's frames until its
// receiver acknowledges a seq past the cut (every stamp carries the highest seq its sender
// has received on the reverse channel), at most kMarkFor; explicit markers repeat only
// while some mark is unacknowledged.
//
// Gateways (snapshot_sync_hooks.h): a gateway's Sync calls carry its stamp and get this
// node's stamp on their replies. A gateway counts as a channel (both ways) while it has
// been heard within kGatewayIdle: a gateway that stopped syncing (offline, removed) would
// otherwise hold every later snapshot open. Gateways ship their finished parts here
// (add_gateway_part).
//
// Sharing: once this member's own part of a snapshot is complete (and again if a late
// channel changes it), and whenever a gateway's part arrives here, it goes to every other member on the peer links (one one-way frame per
// link, set_part_sharer; add_shared_parts on the receiving side). So any member can answer
// a report from what it holds: the report route fetches a member's part over HTTP only
// while the shared copy has not arrived (before: every report request fetched two parts).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/snapshot/live_participant.h"
#include "cloud/snapshot/loss_closer.h"
#include "cloud/snapshot/record_aging.h"

namespace homestead::cloudd {

std::string cloud_process_name(std::uint64_t node_id);

// The stamp's wire form (prefix of a stamped frame). Throws raft::CodecError.
std::string encode_stamp(const snapshot::Stamp& stamp);
snapshot::Stamp decode_stamp(std::string_view bytes);

class SnapshotChannels {
 public:
  using StateFn = std::function<std::string()>;  // this node's state as JSON text
  static constexpr std::chrono::seconds kRetireAfter{300};
  // Marks ride on frames this long after recording (the explicit marker frame carries them
  // at once; the repeats cover a frame lost to a reconnect), then frames go back to bare.
  static constexpr std::chrono::seconds kMarkFor{5};
  static constexpr std::chrono::seconds kGatewayIdle{30};
  // A channel whose cut is known but which misses seqs <= cut is closed with them as lost
  // after this long (loss_closer.h). A Raft frame is sent with a 2 s call deadline on one
  // TCP connection per link (connect timeout 0.5 s), a gateway's Sync call has a 2 s
  // request timeout by default: a frame still in transit after 5 s does not come.
  static constexpr std::chrono::seconds kLossWait{5};
  // While marks ride (kMarkFor), every link gets an explicit marker frame this often: a
  // link with no Raft traffic (follower to follower) whose first marker frame was lost
  // would otherwise never tell the receiver the cut.
  static constexpr std::chrono::seconds kMarkerRepeat{1};

  SnapshotChannels(std::string self, StateFn state);

  const std::string& self() const { return self_; }
  // The transport's way to put one frame (empty if need be) on every link now.
  void set_marker_sender(std::function<void()> send_markers);
  // The transport's way to send a shared-parts frame (the text) to every other member.
  void set_part_sharer(std::function<void(std::string)> share);
  // A shared-parts frame from another member: its own parts and gateway parts it received
  // (see take_share_locked for the format). Parts of snapshots this node does not know are
  // dropped. Throws nothing; a malformed frame is logged and ignored.
  void add_shared_parts(std::string_view frame);
  // The newest parts other members shared, by process, if complete (a late channel can
  // reopen a part that was shared complete: its newer, open copy replaces it).
  std::map<std::string, snapshot::LiveLocal> shared_member_parts(snapshot::SnapshotId id) const;
  void add_peer(const std::string& peer);
  void remove_peer(const std::string& peer);

  snapshot::Stamp stamp(const std::string& to);
  // Returns false for a duplicate (drop it). Records and requests markers as needed.
  bool on_receive(const snapshot::Stamp& stamp, const std::function<snapshot::InFlightMessage()>& describe);

  // Starts a snapshot here; returns its id.
  snapshot::SnapshotId initiate();
  std::optional<snapshot::LiveLocal> local(snapshot::SnapshotId id) const;
  std::vector<snapshot::SnapshotId> snapshots() const;
  // The cloud members this node has channels with (process names, "cloud-<id>"): the
  // members a report gathers parts from.
  std::vector<std::string> members() const;

  // A gateway's finished part (already authenticated by the caller). Returns false when this
  // node does not know the snapshot (then the part is not kept).
  bool add_gateway_part(snapshot::LiveLocal part);
  std::vector<snapshot::LiveLocal> gateway_parts(snapshot::SnapshotId id) const;

 private:
  // Retires, stops marking, closes lossy channels; returns true when markers are due.
  bool housekeeping_locked();
  void update_channels_locked();
  bool is_gateway(const std::string& peer) const;
  // Adds to `pending_share_` this node's parts that completed or changed (LiveParticipant::
  // take_changed). Changes made while stamping wait for the next receive: stamp() runs under
  // the transport's locks, where sharing cannot.
  void share_changed_parts_locked();
  bool keep_gateway_part_locked(snapshot::LiveLocal part);
  // The pending shared parts as one frame for the sharer, to call outside the lock (empty
  // when there is nothing to share or no sharer).
  std::function<void()> take_share_locked();

  std::string self_;
  StateFn state_;
  mutable std::mutex mutex_;
  snapshot::LiveParticipant participant_;
  std::vector<std::string> peers_;                                          // cloud members
  std::map<std::string, std::chrono::steady_clock::time_point> gateways_;  // last heard
  std::map<snapshot::SnapshotId, std::map<std::string, snapshot::LiveLocal>> gateway_parts_;
  // A part shared with or by this node, kept as its JSON text: parsed only for a report.
  struct SharedPart {
    snapshot::SnapshotId id = 0;
    std::string process;
    bool gateway = false;  // a gateway's part (relayed by the member it reached)
    bool complete = false;
    std::size_t channels = 0;
    std::string json;
  };
  std::map<snapshot::SnapshotId, std::map<std::string, SharedPart>> member_parts_;          // shared to us
  std::map<snapshot::SnapshotId, std::map<std::string, SharedPart>> shared_gateway_parts_;  // relayed to us
  std::function<void()> send_markers_;
  std::function<void(std::string)> share_;
  std::vector<SharedPart> pending_share_;  // not yet handed to the sharer
  snapshot::RecordAging aging_{kMarkFor, kRetireAfter};  // when records stop marking, retire
  std::uint64_t counter_ = 0;
  std::chrono::steady_clock::time_point last_retire_check_{};
  std::chrono::steady_clock::time_point last_markers_{};
  snapshot::LossCloser loss_closer_{kLossWait};
};

// The process's instance, which PeerTransport picks up when it is constructed (RaftServer
// builds the transport itself, so main installs this first instead of passing it through).
void install_snapshot_channels(std::shared_ptr<SnapshotChannels> channels);
std::shared_ptr<SnapshotChannels> installed_snapshot_channels();

}  // namespace homestead::cloudd
