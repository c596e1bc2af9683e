// Chandy-Lamport global snapshot (seed chapter 4) as a pure protocol core.
//
// One SnapshotParticipant lives beside each process of the application. It sees nothing of
// sockets or time: the adapter tells it when the process itself starts a snapshot
// (initiate), when a marker arrives (on_marker) and when an application message arrives
// (on_message, called before the application handles it), and sends the markers that those
// calls return. Channels are directed and must be FIFO; that is the adapter's promise.
//
// Several snapshots may run at once, from different initiators: each is kept apart by its
// SnapshotId, which the adapter chooses (unique across the system, e.g. initiator + counter,
// or a number a coordinator hands out) and carries in every marker.
//
// A process's part of a snapshot is complete once it has recorded its own state and every
// incoming channel has delivered that snapshot's marker. A SnapshotAssembler collects the
// local parts (shipped to whoever asked, by whatever transport) into the global state.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace homestead::snapshot {

using ProcessId = std::string;  // compared as strings wherever an order is needed
using SnapshotId = std::uint64_t;

// A marker this participant wants sent: "put snapshot `id`'s marker on the channel to `to`".
struct MarkerSend {
  SnapshotId id = 0;
  ProcessId to;
  bool operator==(const MarkerSend&) const = default;
};

// One process's contribution: its state when it recorded, and per incoming channel (keyed by
// sender) the application messages that arrived after it recorded and before that channel's
// marker: the messages in flight on the channel at the cut, in arrival (= send) order.
template <class State, class Payload>
struct LocalSnapshot {
  SnapshotId id = 0;
  ProcessId process;
  State state{};
  std::map<ProcessId, std::vector<Payload>> channels;
};

template <class State, class Payload>
class SnapshotParticipant {
 public:
  using Local = LocalSnapshot<State, Payload>;

  // incoming: processes with a channel to this one; outgoing: processes this one has a
  // channel to. Markers go out in ascending id order of `outgoing`.
  SnapshotParticipant(ProcessId self, std::vector<ProcessId> incoming, std::vector<ProcessId> outgoing)
      : self_(std::move(self)), incoming_(sorted(std::move(incoming))), outgoing_(sorted(std::move(outgoing))) {}

  const ProcessId& self() const { return self_; }
  const std::vector<ProcessId>& incoming() const { return incoming_; }
  const std::vector<ProcessId>& outgoing() const { return outgoing_; }

  // This process starts snapshot `id`: records `current` and returns the markers to send.
  std::vector<MarkerSend> initiate(SnapshotId id, const State& current) {
    if (running_.count(id) || done_.count(id)) {
      throw std::logic_error("snapshot " + std::to_string(id) + " already known at " + self_);
    }
    return record(id, current, std::nullopt);
  }

  // Snapshot `id`'s marker arrived on the channel from `from`. `current` is the process's
  // state right now (only read when this is the first marker of `id` here). Returns the
  // markers to send (none unless this was the first marker).
  std::vector<MarkerSend> on_marker(SnapshotId id, const ProcessId& from, const State& current) {
    require_incoming(from);
    auto it = running_.find(id);
    if (it == running_.end()) {
      if (done_.count(id)) throw std::logic_error("second marker of snapshot " + std::to_string(id) + " from " + from);
      // First marker: the channel it came on is empty in this snapshot, because FIFO put
      // everything the sender sent before recording ahead of the marker.
      return record(id, current, from);
    }
    Recording& recording = it->second;
    if (!recording.open.erase(from)) {
      throw std::logic_error("second marker of snapshot " + std::to_string(id) + " from " + from);
    }
    finish_if_complete(id);
    return {};
  }

  // An application message from `from` is about to be handled: every snapshot still
  // recording that channel keeps a copy, since it was in flight at that snapshot's cut.
  void on_message(const ProcessId& from, const Payload& payload) {
    require_incoming(from);
    for (auto& [id, recording] : running_) {
      if (recording.open.count(from)) recording.local.channels[from].push_back(payload);
    }
  }

  bool recorded(SnapshotId id) const { return running_.count(id) || done_.count(id); }
  bool complete(SnapshotId id) const { return done_.count(id) != 0; }
  // Snapshots recorded here whose channels are still open.
  std::vector<SnapshotId> in_progress() const {
    std::vector<SnapshotId> ids;
    for (const auto& [id, recording] : running_) ids.push_back(id);
    return ids;
  }
  // The finished local part, or nullopt while it is still recording (or never started).
  std::optional<Local> local(SnapshotId id) const {
    auto it = done_.find(id);
    if (it == done_.end()) return std::nullopt;
    return it->second;
  }
  // Drop a finished local part once it has been shipped, so memory stays bounded.
  void forget(SnapshotId id) { done_.erase(id); }

 private:
  struct Recording {
    Local local;
    std::set<ProcessId> open;  // incoming channels whose marker has not arrived
  };

  static std::vector<ProcessId> sorted(std::vector<ProcessId> ids) {
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) throw std::invalid_argument("duplicate channel");
    return ids;
  }

  void require_incoming(const ProcessId& from) const {
    if (!std::binary_search(incoming_.begin(), incoming_.end(), from)) {
      throw std::logic_error(self_ + " has no incoming channel from " + from);
    }
  }

  std::vector<MarkerSend> record(SnapshotId id, const State& current, const std::optional<ProcessId>& marker_from) {
    Recording recording;
    recording.local.id = id;
    recording.local.process = self_;
    recording.local.state = current;
    for (const auto& in : incoming_) {
      recording.local.channels[in];  // every channel appears, empty or not
      if (!marker_from || in != *marker_from) recording.open.insert(in);
    }
    running_.emplace(id, std::move(recording));
    std::vector<MarkerSend> markers;
    for (const auto& out : outgoing_) markers.push_back(MarkerSend{id, out});
    finish_if_complete(id);
    return markers;
  }

  void finish_if_complete(SnapshotId id) {
    auto it = running_.find(id);
    if (it == running_.end() || !it->second.open.empty()) return;
    done_.emplace(id, std::move(it->second.local));
    running_.erase(it);
  }

  ProcessId self_;
  std::vector<ProcessId> incoming_;
  std::vector<ProcessId> outgoing_;
  std::map<SnapshotId, Recording> running_;
  std::map<SnapshotId, Local> done_;
};

// The global state of one snapshot: every process's recorded state and, per directed
// channel (from, to), the messages in flight across the cut.
template <class State, class Payload>
struct GlobalSnapshot {
  SnapshotId id = 0;
  std::map<ProcessId, State> states;
  std::map<std::pair<ProcessId, ProcessId>, std::vector<Payload>> channels;
};

// Gathers the local parts of one snapshot; complete once every listed process has reported.
template <class State, class Payload>
class SnapshotAssembler {
 public:
  SnapshotAssembler(SnapshotId id, std::vector<ProcessId> processes)
      : pending_(processes.begin(), processes.end()) {
    global_.id = id;
  }

  void add(const LocalSnapshot<State, Payload>& local) {
    if (local.id != global_.id) throw std::logic_error("local part of another snapshot");
    if (!pending_.erase(local.process)) throw std::logic_error("unexpected or repeated part from " + local.process);
    global_.states[local.process] = local.state;
    for (const auto& [from, messages] : local.channels) global_.channels[{from, local.process}] = messages;
  }
  bool complete() const { return pending_.empty(); }
  const std::set<ProcessId>& pending() const { return pending_; }
  const GlobalSnapshot<State, Payload>& result() const { return global_; }

 private:
  std::set<ProcessId> pending_;
  GlobalSnapshot<State, Payload> global_;
};

}  // namespace homestead::snapshot
