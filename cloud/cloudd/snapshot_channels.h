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
// (add_gateway_part); the report gathers them from every member.
//
// Pushed parts: a snapshot id's low 16 bits name the member that started it. Once this
// node's part of a snapshot another member started is settled (as wait_settled), it goes to
// that member over the peer link with the gateway parts held here (a Snapshot/Part frame,
// binary: part_codec.h), so the initiator's report usually asks no one over HTTP. The
// report falls back to asking (GET .../local) for a member whose part did not come.
#pragma once

#include <chrono>
#include <condition_variable>
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
#include "cloud/snapshot/part_codec.h"
#include "cloud/snapshot/record_aging.h"

namespace homestead::cloudd {

std::string cloud_process_name(std::uint64_t node_id);
// The member id in a process name cloud_process_name made; 0 for any other name.
std::uint64_t cloud_member_id(std::string_view process);

// The stamp's wire form (prefix of a stamped frame). Throws raft::CodecError.
std::string encode_stamp(const snapshot::Stamp& stamp);
snapshot::Stamp decode_stamp(std::string_view bytes);

class SnapshotChannels {
 public:
  using StateFn = std::function<std::string()>;  // this node's state as JSON text
  static constexpr std::chrono::seconds kRetireAfter{300};
  // Marks ride on frames this long after recording (the next Raft turn's frames, or an
  // explicit marker frame at that turn's end where a link had none: PeerTransport::
  // set_turn_requester; the repeats cover a frame lost to a reconnect), then frames go back
  // to bare.
  static constexpr std::chrono::seconds kMarkFor{5};
  static constexpr std::chrono::seconds kGatewayIdle{30};
  // How stale the channel list may get between gateway calls (a gateway gone quiet stops
  // being a channel at most this much after kGatewayIdle; initiate() always rechecks).
  static constexpr std::chrono::seconds kChannelsRecheck{1};
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

  // Long polls (a report's ?wait_ms, snapshot_routes.cpp): an operator gets the report in
  // one request once it is complete, and it is gathered once, instead of polling.
  // Blocks until this node's part of `id` is settled or `deadline`: complete, and holding a
  // part from every gateway it has a channel from that covers this node (a gateway ships its
  // part to a member it talks to, on its next Sync call). The gateway parts are waited for
  // at most kGatewayPartWait after the own part is complete: a gateway that moved between
  // members may have shipped to another one. Returns at once when `id` is not recorded
  // here. Returns whether the part settled.
  static constexpr std::chrono::milliseconds kGatewayPartWait{250};
  bool wait_settled(snapshot::SnapshotId id, std::chrono::steady_clock::time_point deadline) const;
  // The member that started `id` (its low 16 bits; 0: none, as for ids before pushes).
  static std::uint64_t initiator_of(snapshot::SnapshotId id) { return id & 0xffff; }
  // The transport's way to send a Snapshot/Part frame to member `to`.
  using PartSender = std::function<void(std::uint64_t to, std::string frame)>;
  void set_part_sender(PartSender send);
  // A Snapshot/Part frame's body from another member. False when malformed; a part of a
  // snapshot not known here is dropped (true).
  bool add_member_part(std::string_view frame);
  // The parts pushed here for `id`, by member process name.
  std::map<std::string, snapshot::MemberPart> member_parts(snapshot::SnapshotId id) const;
  // Blocks until every one of `members` pushed its part of `id` here, or `deadline`.
  static constexpr std::chrono::milliseconds kPushedPartWait{250};
  bool wait_member_parts(snapshot::SnapshotId id, const std::vector<std::string>& members,
                         std::chrono::steady_clock::time_point deadline) const;
  // Blocks until some part held here changes (a record completes or gets a late channel, a
  // gateway part arrives) or `deadline`.
  void wait_change(std::chrono::steady_clock::time_point deadline) const;

 private:
  // Retires, stops marking, closes lossy channels; returns true when markers are due.
  bool housekeeping_locked();
  void add_peer_locked(const std::string& peer);
  void update_channels_locked();
  bool is_gateway(const std::string& peer) const;
  bool gateway_parts_in_locked(snapshot::SnapshotId id, const snapshot::LiveLocal& local) const;
  // Changes waiters care about so far, and whether they have been told of the latest.
  std::uint64_t generation_locked() const {
    return participant_.change_count() + gateway_parts_added_ + member_parts_added_;
  }
  struct Push {
    std::uint64_t to = 0;
    std::string frame;
  };
  // The parts in to_push_ that have settled, taken out of it; parts no longer known dropped.
  std::vector<Push> collect_pushes_locked();
  void send_pushes(const std::vector<Push>& pushes, const PartSender& send) const;
  // After a change (take_wake_locked): the pushes due now and the sender to use.
  std::pair<std::vector<Push>, PartSender> pushes_after_change_locked();
  bool take_wake_locked();

  std::string self_;
  StateFn state_;
  mutable std::mutex mutex_;
  snapshot::LiveParticipant participant_;
  std::vector<std::string> peers_;                                          // cloud members
  std::map<std::string, std::chrono::steady_clock::time_point> gateways_;  // last heard
  std::map<snapshot::SnapshotId, std::map<std::string, snapshot::LiveLocal>> gateway_parts_;
  std::function<void()> send_markers_;
  snapshot::RecordAging aging_{kMarkFor, kRetireAfter};  // when records stop marking, retire
  std::uint64_t counter_ = 0;
  std::chrono::steady_clock::time_point last_retire_check_{};
  std::chrono::steady_clock::time_point last_markers_{};
  std::chrono::steady_clock::time_point last_channels_update_{};
  snapshot::LossCloser loss_closer_{kLossWait};
  std::uint64_t gateway_parts_added_ = 0;
  std::uint64_t self_member_ = 0;  // this node's member id ("cloud-<id>"), 0 if not one
  PartSender send_part_;
  // Recorded here, started by another member, not pushed yet: when recorded. A part not
  // settled within kPushAbandon is left to the initiator's HTTP fallback.
  static constexpr std::chrono::seconds kPushAbandon{2};
  std::map<snapshot::SnapshotId, std::chrono::steady_clock::time_point> to_push_;
  std::map<snapshot::SnapshotId, std::map<std::string, snapshot::MemberPart>> member_parts_;
  std::uint64_t member_parts_added_ = 0;
  std::uint64_t woken_generation_ = 0;
  mutable std::condition_variable changed_;  // waits on mutex_
};

// The process's instance, which PeerTransport picks up when it is constructed (RaftServer
// builds the transport itself, so main installs this first instead of passing it through).
void install_snapshot_channels(std::shared_ptr<SnapshotChannels> channels);
std::shared_ptr<SnapshotChannels> installed_snapshot_channels();

}  // namespace homestead::cloudd
