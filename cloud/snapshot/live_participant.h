// Chandy-Lamport over channels that are NOT FIFO: the seed's non-FIFO variant with
// per-channel sequence numbers and piggybacked cut marks (issue 10 item 4, live snapshots).
//
// Why not the FIFO core (chandy_lamport.h)? The live RPC channels reorder and repeat:
// pipelined calls, replies out of order, retries after a timeout, a reconnect that races the
// old connection. A marker overtaken by an earlier message (or overtaking it) breaks the
// FIFO algorithm. Here every application message carries a Stamp:
//   - seq: the sender's per-channel sequence number (1, 2, 3, ...);
//   - marks: for every snapshot the sender has recorded (and not yet retired), the last seq
//     it sent on this channel before recording (its cut on this channel).
// A receiver that sees a mark for a snapshot it has not recorded treats the message as that
// snapshot's marker: it records first, then handles the message (which is after the
// sender's cut). A message from a channel is in flight at the cut iff its seq <= the
// sender's cut seq and it arrives after the receiver recorded. The receiver knows the
// channel is done once every seq 1..cut has arrived (duplicates are recognised by seq and
// dropped). A process with nothing to send still has to tell its peers about its cut: the
// adapter sends an empty message (it gets a seq and carries the marks), which is the
// explicit marker.
//
// Pure: no sockets, threads or clocks. The adapter serialises calls (one lock) and chooses
// when to retire a snapshot's marks (a deadline after it was recorded).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cloud/snapshot/chandy_lamport.h"

namespace homestead::snapshot {

// "I recorded snapshot `id` after sending the message with seq `cut_seq` on this channel."
struct CutMark {
  SnapshotId id = 0;
  std::uint64_t cut_seq = 0;
  bool operator==(const CutMark&) const = default;
};

struct Stamp {
  ProcessId from;
  std::uint64_t incarnation = 0;  // changes when the sender restarts (its seqs start over)
  std::uint64_t seq = 0;          // >= 1
  std::vector<CutMark> marks;
  // The reverse channel's acknowledgement: the highest seq the sender of this stamp has
  // received from the stamp's receiver, whose incarnation was `ack_incarnation` (0: none
  // yet). A mark rides on every frame stamped after the cut; the first frame the receiver
  // acknowledges beyond the cut carried it, so from then on the mark can stay home.
  std::uint64_t ack_incarnation = 0;
  std::uint64_t acked_through = 0;
};

// A message recorded as in flight: a summary, not the body.
struct InFlightMessage {
  std::uint64_t seq = 0;
  std::string kind;
  std::uint64_t bytes = 0;
};

// One incoming channel of one snapshot, at the receiver.
struct ChannelRecord {
  bool cut_known = false;                // a mark of this snapshot arrived on the channel
  std::uint64_t sender_cut_seq = 0;      // valid once cut_known
  std::uint64_t received_before_cut = 0; // distinct messages that arrived before we recorded
  std::uint64_t max_seq_before_cut = 0;  // highest seq among those
  std::vector<InFlightMessage> in_flight;
  bool closed = false;                   // every seq 1..sender_cut_seq has arrived (or the rest is lost)
  bool sender_restarted = false;         // closed because the sender's seqs started over
  // Closed by close_lost: seqs <= sender_cut_seq that had not arrived after the adapter's
  // wait (frames lost on the wire; Raft and Sync retransmit under new seqs). Sorted.
  // received_before_cut + in_flight + lost = sender_cut_seq.
  std::vector<std::uint64_t> lost;
  // Lost seqs that arrived after all, after the close: they were in flight at the cut but
  // are not in in_flight (the record was closed). Sorted; always a subset of lost. The cut
  // stays consistent (they were sent before the sender's cut and received after ours), only
  // the in-flight list is incomplete by these.
  std::vector<std::uint64_t> late;
};

struct LiveLocal {
  SnapshotId id = 0;
  ProcessId process;
  std::string state;                                // the adapter's recording (JSON text)
  std::map<ProcessId, std::uint64_t> sent_through;  // per outgoing channel: last seq sent before the cut
  std::map<ProcessId, ChannelRecord> incoming;
  bool complete = false;
};

struct ReceiveResult {
  bool duplicate = false;               // seq seen before: do not hand to the application
  std::vector<SnapshotId> recorded;     // snapshots this message made us record: send markers
};

class LiveParticipant {
 public:
  LiveParticipant(ProcessId self, std::uint64_t incarnation);

  const ProcessId& self() const { return self_; }
  // Current channels. A snapshot waits for the incoming channels present when it records,
  // and for a channel that shows up later (its first message arrives) while the snapshot
  // is still marking: the sender's messages sent before its own cut are in flight.
  // Likewise an outgoing channel first stamped after a record gets that snapshot's cut
  // (everything sent on it so far) and its marks.
  void set_channels(std::vector<ProcessId> incoming, std::vector<ProcessId> outgoing);

  // Starts snapshot `id` here: records `state`. The adapter then sends a (possibly empty)
  // message on every outgoing channel so each peer learns the cut. Throws if `id` is known.
  void initiate(SnapshotId id, std::string state);

  // The outgoing channel `outgoing` and the incoming channel `incoming` join the same two
  // processes under different names (a gateway names its channels to the cloud by URL
  // before it knows which member answers there). Acknowledgements cross over: stamps on
  // `outgoing` acknowledge what arrived on `incoming`, and acknowledgements arriving on
  // `incoming` stop `outgoing`'s marks. Without it every mark would ride both ways for the
  // adapter's whole kMarkFor. Re-pairing either name drops its old pair.
  void pair_channels(const ProcessId& outgoing, const ProcessId& incoming);

  // `from` reaches this process in send order over one connection at a time (cloudd's peer
  // links): the first message this run of the process receives from it is the first it
  // sent to this run, so its earlier seqs went to an earlier run (handled there or lost with
  // it) and are not waited for. Other channels (a gateway's pipelined Sync calls) may
  // reorder from the first message on; there a sender that acknowledges an earlier run of
  // this process says as much.
  void set_ordered_start(const ProcessId& from) { ordered_start_.insert(from); }

  // An application message (or empty marker message) is about to go to `to`.
  Stamp stamp(const ProcessId& to);

  // A message arrived. `state` is called only if it makes this process record; `describe`
  // only if the message is recorded as in flight somewhere.
  ReceiveResult on_receive(const Stamp& stamp, const std::function<std::string()>& state,
                           const std::function<InFlightMessage()>& describe);

  bool known(SnapshotId id) const { return locals_.count(id) != 0; }
  std::optional<LiveLocal> local(SnapshotId id) const;
  // The record itself, not a copy (nullptr if none); valid until the next non-const call.
  const LiveLocal* find(SnapshotId id) const;
  std::vector<SnapshotId> snapshots() const;
  // Records whose part changed since the last call, each once: completed, or given a
  // channel that appeared late (an incoming record, which reopens it, or an outgoing cut).
  // For adapters that pass finished parts on (the gateway agent ships changed parts).
  // Off unless track_changes() was called (cloudd does not use it).
  void track_changes() { tracking_changes_ = true; }
  std::vector<SnapshotId> take_changed();
  // How many such changes happened so far (always counted): an adapter compares it before
  // and after a call to wake whoever waits for a part to complete (a report's long poll).
  std::uint64_t change_count() const { return changes_; }
  // Stops carrying `id`'s marks on outgoing messages but keeps its record. Marks are only
  // needed until every peer has heard of the cut; a channel whose receiver acknowledged a
  // seq past the cut (Stamp::acked_through) already stops carrying it, this is the bound
  // for channels that never answer.
  void stop_marking(SnapshotId id) { marking_.erase(id); }
  // Whether `id`'s marks are still carried (recorded, not yet stopped or retired).
  bool marking(SnapshotId id) const { return marking_.count(id) != 0; }
  // Whether some outgoing channel still carries a mark its receiver has not acknowledged
  // (then an explicit marker repeat may be needed for an idle channel).
  bool marks_unacknowledged() const;
  // Stops carrying `id`'s marks and forgets its record (bounded memory on a long run).
  void retire(SnapshotId id);

  // Channels of open snapshots whose sender's cut is known (so the sender has moved past
  // it: a mark only rides on frames stamped after the cut) but that still miss seqs <= cut.
  // Either a frame is late (reordered) or it was lost on the wire; only time tells, so the
  // adapter waits (loss_closer.h) and then calls close_lost.
  std::vector<std::pair<SnapshotId, ProcessId>> waiting_for_gaps() const;
  // Closes that channel, recording every seq <= the sender's cut not arrived yet as lost.
  // Returns how many; 0 and no change unless the channel is open with its cut known.
  std::size_t close_lost(SnapshotId id, const ProcessId& from);
  std::vector<ProcessId> outgoing() const { return {outgoing_.begin(), outgoing_.end()}; }

 private:
  struct Incoming {
    std::uint64_t incarnation = 0;
    std::uint64_t contiguous = 0;    // every seq <= contiguous has arrived
    std::set<std::uint64_t> above;   // arrived seqs > contiguous
    std::uint64_t distinct() const { return contiguous + above.size(); }
    std::uint64_t max_seq() const { return above.empty() ? contiguous : *above.rbegin(); }
    bool seen(std::uint64_t seq) const { return seq <= contiguous || above.count(seq); }
    std::uint64_t records_seen = 0;  // records_ when a message on it was last handled
    void add(std::uint64_t seq);
  };
  // Per outgoing channel: the marks it may still have to carry, in recording order (so
  // with non-decreasing cut seqs), and what its receiver acknowledged. Marks whose cut the
  // receiver acknowledged past, or that stopped marking, are dropped from the front, so a
  // frame's stamp costs O(marks it carries), not O(snapshots recorded in the last kMarkFor).
  struct Outgoing {
    std::uint64_t next_seq = 0;       // last seq stamped
    std::uint64_t acked_through = 0;  // highest seq of ours the receiver reported (this incarnation)
    std::deque<CutMark> pending;
    std::uint64_t records_seen = 0;  // records_ when it was last stamped
  };
  void prune(Outgoing& out) const;

  void record(SnapshotId id, std::string state);
  void learn_cut(LiveLocal& local, const ProcessId& from, std::uint64_t cut_seq);
  void close_ready(LiveLocal& local, const ProcessId& from);
  void note_late(const Stamp& stamp);
  // Channels that appear after a record (set_channels lags: a gateway first heard after
  // the cut) still take part in the snapshots that are marking: see the .cpp.
  void mark_late_channel(const ProcessId& to, Outgoing& out);
  void track_late_channel(const ProcessId& from, Incoming& channel);
  void begin_after_restart(const ProcessId& from, Incoming& channel, std::uint64_t before);
  static void update_complete(LiveLocal& local);

  ProcessId self_;
  std::uint64_t incarnation_;
  std::set<ProcessId> incoming_peers_;
  std::set<ProcessId> outgoing_;
  std::map<ProcessId, Outgoing> sent_;           // per outgoing channel
  std::map<ProcessId, Incoming> received_;       // per incoming channel
  // pair_channels: names that differ between the two directions (absent: the same name).
  std::map<ProcessId, ProcessId> incoming_of_outgoing_;
  std::map<ProcessId, ProcessId> outgoing_of_incoming_;
  std::set<ProcessId> ordered_start_;  // see set_ordered_start
  std::map<SnapshotId, LiveLocal> locals_;
  // Marks for these are ignored when they arrive late. Bounded (oldest forgotten first):
  // a mark rides at most the adapter's kMarkFor after its sender recorded, while records
  // are retired minutes later, so only the newest retirements can still meet a mark.
  static constexpr std::size_t kRetiredKept = 1 << 16;
  std::set<SnapshotId> retired_;
  std::uint64_t records_ = 0;  // how many times this process recorded (see mark_late_channel)
  // (record number, snapshot) of the records that may still be marking, oldest first: a
  // channel only looks at the ones after its records_seen, not at every marking snapshot
  // (hundreds when snapshots run back to back) on each frame after a record.
  std::deque<std::pair<std::uint64_t, SnapshotId>> recent_records_;
  std::deque<SnapshotId> retired_order_;
  // Per-message work touches only these, not every record kept for the API:
  std::set<SnapshotId> marking_;  // recorded, marks still carried on messages
  std::set<SnapshotId> open_;     // recorded, some incoming channel still open
  std::set<SnapshotId> with_lost_;  // some channel closed with lost seqs: watch for late ones
  std::set<SnapshotId> changed_;    // see take_changed
  bool tracking_changes_ = false;
  std::uint64_t changes_ = 0;
  void note_changed(SnapshotId id) {
    ++changes_;
    if (tracking_changes_) changed_.insert(id);
  }
};

}  // namespace homestead::snapshot
