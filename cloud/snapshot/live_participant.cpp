#include "cloud/snapshot/live_participant.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace homestead::snapshot {

void LiveParticipant::Incoming::add(std::uint64_t seq) {
  if (seq <= contiguous) return;
  if (seq == contiguous + 1 && above.empty()) {  // in order: the common case, no allocation
    contiguous = seq;
    return;
  }
  above.insert(seq);
  while (!above.empty() && *above.begin() == contiguous + 1) {
    above.erase(above.begin());
    ++contiguous;
  }
}

LiveParticipant::LiveParticipant(ProcessId self, std::uint64_t incarnation)
    : self_(std::move(self)), incarnation_(incarnation) {}

void LiveParticipant::set_channels(std::vector<ProcessId> incoming, std::vector<ProcessId> outgoing) {
  incoming_peers_ = {incoming.begin(), incoming.end()};
  outgoing_ = {outgoing.begin(), outgoing.end()};
}

void LiveParticipant::initiate(SnapshotId id, std::string state) {
  if (known(id) || retired_.count(id)) throw std::logic_error("snapshot " + std::to_string(id) + " already known");
  record(id, std::move(state));
}

void LiveParticipant::record(SnapshotId id, std::string state) {
  LiveLocal local;
  local.id = id;
  local.process = self_;
  local.state = std::move(state);
  for (const auto& to : outgoing_) {
    Outgoing& out = sent_[to];
    local.sent_through[to] = out.next_seq;
    prune(out);
    out.pending.push_back(CutMark{id, out.next_seq});
  }
  for (const auto& from : incoming_peers_) {
    ChannelRecord& channel = local.incoming[from];
    auto it = received_.find(from);
    if (it != received_.end()) {
      channel.received_before_cut = it->second.distinct();
      channel.max_seq_before_cut = it->second.max_seq();
    }
  }
  update_complete(local);
  if (!local.complete) open_.insert(id);
  if (local.complete) note_changed(id);
  marking_.insert(id);
  locals_.emplace(id, std::move(local));
  recent_records_.emplace_back(++records_, id);
  // Forget the oldest that stopped marking (adapters stop marking in recording order).
  while (!marking_.count(recent_records_.front().second)) recent_records_.pop_front();
}

void LiveParticipant::prune(Outgoing& out) const {
  // The receiver acknowledged a seq beyond the cut: that frame carried the mark (marks
  // ride on every frame after the cut until then), so the receiver has recorded.
  while (!out.pending.empty() &&
         (out.acked_through > out.pending.front().cut_seq || !marking_.count(out.pending.front().id))) {
    out.pending.pop_front();
  }
}

void LiveParticipant::mark_late_channel(const ProcessId& to, Outgoing& out) {
  // A channel that was not one of ours when a snapshot still marking was recorded (a
  // gateway first heard after the cut): nothing has been stamped on it since the record
  // (this runs before every stamp), so its cut is what had been sent until now, and every
  // message from here on must carry the mark or the receiver takes it for one sent before
  // our cut.
  // Only the records since this channel's last stamp: the ones before were seen then.
  for (auto it = recent_records_.rbegin(); it != recent_records_.rend() && it->first > out.records_seen; ++it) {
    if (!marking_.count(it->second)) continue;
    LiveLocal& local = locals_.at(it->second);
    if (local.sent_through.count(to)) continue;
    local.sent_through[to] = out.next_seq;
    out.pending.push_back(CutMark{it->second, out.next_seq});
    note_changed(it->second);
  }
  out.records_seen = records_;
}

void LiveParticipant::pair_channels(const ProcessId& outgoing, const ProcessId& incoming) {
  auto current = incoming_of_outgoing_.find(outgoing);
  if (current != incoming_of_outgoing_.end() && current->second == incoming) return;
  if (current != incoming_of_outgoing_.end()) outgoing_of_incoming_.erase(current->second);
  auto previous = outgoing_of_incoming_.find(incoming);
  if (previous != outgoing_of_incoming_.end()) incoming_of_outgoing_.erase(previous->second);
  incoming_of_outgoing_[outgoing] = incoming;
  outgoing_of_incoming_[incoming] = outgoing;
}

Stamp LiveParticipant::stamp(const ProcessId& to) {
  Stamp stamp;
  stamp.from = self_;
  stamp.incarnation = incarnation_;
  Outgoing& out = sent_[to];
  mark_late_channel(to, out);
  stamp.seq = ++out.next_seq;
  prune(out);
  for (const CutMark& mark : out.pending) {
    if (marking_.count(mark.id)) stamp.marks.push_back(mark);
  }
  const auto paired = incoming_of_outgoing_.find(to);
  auto received = received_.find(paired == incoming_of_outgoing_.end() ? to : paired->second);
  if (received != received_.end() && received->second.incarnation != 0) {
    stamp.ack_incarnation = received->second.incarnation;
    stamp.acked_through = received->second.max_seq();
  }
  return stamp;
}

bool LiveParticipant::marks_unacknowledged() const {
  for (const auto& [to, out] : sent_) {
    for (const CutMark& mark : out.pending) {
      if (out.acked_through <= mark.cut_seq && marking_.count(mark.id)) return true;
    }
  }
  return false;
}

ReceiveResult LiveParticipant::on_receive(const Stamp& stamp, const std::function<std::string()>& state,
                                          const std::function<InFlightMessage()>& describe) {
  ReceiveResult result;
  Incoming& channel = received_[stamp.from];
  if (channel.incarnation != stamp.incarnation) {
    // The sender restarted: its seqs start over. Snapshots waiting on the old incarnation's
    // messages can never see them now; close those channels, saying why.
    if (channel.incarnation != 0) {
      for (auto& [id, local] : locals_) {
        auto it = local.incoming.find(stamp.from);
        if (it != local.incoming.end() && !it->second.closed) {
          it->second.closed = true;
          it->second.sender_restarted = true;
          update_complete(local);
          if (local.complete && open_.erase(id)) note_changed(id);
        }
      }
    }
    channel = Incoming{};
    channel.incarnation = stamp.incarnation;
  }
  if (channel.contiguous == 0 && channel.above.empty() && stamp.seq > 1 &&
      (ordered_start_.count(stamp.from) || (stamp.ack_incarnation != 0 && stamp.ack_incarnation != incarnation_))) {
    begin_after_restart(stamp.from, channel, stamp.seq - 1);
  }
  if (stamp.ack_incarnation == incarnation_) {
    const auto paired = outgoing_of_incoming_.find(stamp.from);
    Outgoing& out = sent_[paired == outgoing_of_incoming_.end() ? stamp.from : paired->second];
    out.acked_through = std::max(out.acked_through, stamp.acked_through);
  }

  // Marks first: a mark of an unrecorded snapshot makes this message its marker, so we
  // record before the message touches the application.
  for (const CutMark& mark : stamp.marks) {
    if (retired_.count(mark.id)) continue;
    if (!known(mark.id)) {
      record(mark.id, state());
      result.recorded.push_back(mark.id);
    }
  }

  const bool duplicate = channel.seen(stamp.seq);
  result.duplicate = duplicate;
  if (!duplicate) {
    track_late_channel(stamp.from, channel);
    std::optional<InFlightMessage> summary;
    for (SnapshotId id : open_) {
      LiveLocal& local = locals_.at(id);
      auto it = local.incoming.find(stamp.from);
      if (it == local.incoming.end() || it->second.closed) continue;
      ChannelRecord& record = it->second;
      bool marked = false;
      for (const CutMark& mark : stamp.marks) marked = marked || mark.id == id;
      // Sent before the sender's cut (its seq is within the cut, or it carries no mark of
      // this snapshot yet) and arriving after ours: in flight.
      const bool before_sender_cut = record.cut_known ? stamp.seq <= record.sender_cut_seq : !marked;
      if (before_sender_cut) {
        if (!summary) {
          summary = describe();
          summary->seq = stamp.seq;
        }
        record.in_flight.push_back(*summary);
      }
    }
    note_late(stamp);
    channel.add(stamp.seq);
  }

  for (const CutMark& mark : stamp.marks) {
    auto it = locals_.find(mark.id);
    if (it != locals_.end()) learn_cut(it->second, stamp.from, mark.cut_seq);
  }
  for (auto it = open_.begin(); it != open_.end();) {
    LiveLocal& local = locals_.at(*it);
    close_ready(local, stamp.from);
    if (local.complete) {
      note_changed(*it);
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  return result;
}

void LiveParticipant::begin_after_restart(const ProcessId& from, Incoming& channel, std::uint64_t before) {
  // The first message from `from` in this run, on an ordered channel or from a sender that
  // acknowledges an earlier run of this process: its seqs before this message went to that
  // run (handled there, or lost with it), never to this one. They count as
  // received before any cut here. Waiting for them instead held every later snapshot's
  // channel open until the loss closer gave up on them, reporting them all as lost.
  channel.contiguous = before;
  for (SnapshotId id : open_) {
    auto& incoming = locals_.at(id).incoming;
    auto it = incoming.find(from);
    if (it == incoming.end()) continue;
    ChannelRecord& record = it->second;
    if (record.closed || record.received_before_cut != 0 || !record.in_flight.empty()) continue;
    record.received_before_cut = before;
    record.max_seq_before_cut = before;
  }
}

void LiveParticipant::track_late_channel(const ProcessId& from, Incoming& channel) {
  // A sender that was not one of our channels when a snapshot still marking was recorded:
  // this is its first message since, so what had arrived from it until now is what arrived
  // before the cut. Its messages not marked with the snapshot were sent before its own cut
  // and are in flight; without a record for the channel they would vanish from the global
  // state (a gateway that first talks to this member after the cut). Only while marking:
  // the sender marks its messages for as long (kMarkFor after it recorded, and it records
  // within that much of us), so a channel that appears later could never learn its cut.
  // Only the records since this channel's last message: the ones before were seen then.
  for (auto it = recent_records_.rbegin(); it != recent_records_.rend() && it->first > channel.records_seen; ++it) {
    if (!marking_.count(it->second)) continue;
    LiveLocal& local = locals_.at(it->second);
    auto [record, added] = local.incoming.try_emplace(from);
    if (!added) continue;
    record->second.received_before_cut = channel.distinct();
    record->second.max_seq_before_cut = channel.max_seq();
    local.complete = false;
    open_.insert(it->second);
    note_changed(it->second);
  }
  channel.records_seen = records_;
}

void LiveParticipant::note_late(const Stamp& stamp) {
  for (SnapshotId id : with_lost_) {
    auto it = locals_.at(id).incoming.find(stamp.from);
    if (it == locals_.at(id).incoming.end()) continue;
    ChannelRecord& record = it->second;
    if (!std::binary_search(record.lost.begin(), record.lost.end(), stamp.seq)) continue;
    record.late.insert(std::upper_bound(record.late.begin(), record.late.end(), stamp.seq), stamp.seq);
  }
}

std::vector<std::pair<SnapshotId, ProcessId>> LiveParticipant::waiting_for_gaps() const {
  std::vector<std::pair<SnapshotId, ProcessId>> out;
  for (SnapshotId id : open_) {
    for (const auto& [from, record] : locals_.at(id).incoming) {
      if (!record.closed && record.cut_known) out.emplace_back(id, from);
    }
  }
  return out;
}

std::size_t LiveParticipant::close_lost(SnapshotId id, const ProcessId& from) {
  auto local = locals_.find(id);
  if (local == locals_.end()) return 0;
  auto it = local->second.incoming.find(from);
  if (it == local->second.incoming.end() || it->second.closed || !it->second.cut_known) return 0;
  ChannelRecord& record = it->second;
  auto channel = received_.find(from);
  // Every seq <= contiguous has arrived: only the (short) gap above it needs looking at,
  // not the whole history of a long-lived link.
  const std::uint64_t first = channel == received_.end() ? 1 : channel->second.contiguous + 1;
  for (std::uint64_t seq = first; seq <= record.sender_cut_seq; ++seq) {
    if (channel == received_.end() || !channel->second.seen(seq)) record.lost.push_back(seq);
  }
  record.closed = true;
  if (!record.lost.empty()) with_lost_.insert(id);
  update_complete(local->second);
  if (local->second.complete && open_.erase(id)) note_changed(id);
  return record.lost.size();
}

void LiveParticipant::learn_cut(LiveLocal& local, const ProcessId& from, std::uint64_t cut_seq) {
  auto it = local.incoming.find(from);
  if (it == local.incoming.end() || it->second.cut_known) return;
  it->second.cut_known = true;
  it->second.sender_cut_seq = cut_seq;
}

void LiveParticipant::close_ready(LiveLocal& local, const ProcessId& from) {
  auto it = local.incoming.find(from);
  if (it == local.incoming.end() || it->second.closed || !it->second.cut_known) return;
  auto channel = received_.find(from);
  const std::uint64_t contiguous = channel == received_.end() ? 0 : channel->second.contiguous;
  if (contiguous >= it->second.sender_cut_seq) {
    it->second.closed = true;
    update_complete(local);
  }
}

void LiveParticipant::update_complete(LiveLocal& local) {
  for (const auto& [from, channel] : local.incoming) {
    if (!channel.closed) {
      local.complete = false;
      return;
    }
  }
  local.complete = true;
}

std::optional<LiveLocal> LiveParticipant::local(SnapshotId id) const {
  auto it = locals_.find(id);
  if (it == locals_.end()) return std::nullopt;
  return it->second;
}

std::vector<SnapshotId> LiveParticipant::take_changed() {
  std::vector<SnapshotId> ids(changed_.begin(), changed_.end());
  changed_.clear();
  return ids;
}

const LiveLocal* LiveParticipant::find(SnapshotId id) const {
  auto it = locals_.find(id);
  return it == locals_.end() ? nullptr : &it->second;
}

std::vector<SnapshotId> LiveParticipant::snapshots() const {
  std::vector<SnapshotId> ids;
  for (const auto& [id, local] : locals_) ids.push_back(id);
  return ids;
}

void LiveParticipant::retire(SnapshotId id) {
  locals_.erase(id);
  marking_.erase(id);
  open_.erase(id);
  with_lost_.erase(id);
  changed_.erase(id);
  if (!retired_.insert(id).second) return;
  retired_order_.push_back(id);
  if (retired_order_.size() > kRetiredKept) {
    retired_.erase(retired_order_.front());
    retired_order_.pop_front();
  }
}

}  // namespace homestead::snapshot
