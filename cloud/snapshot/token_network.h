// The token network behind snapshot-sim: nodes holding tokens, directed FIFO links, and a
// SnapshotParticipant per node, advanced by the exact tick contract of issue 10:
//
//  * Time starts at 0. A message (tokens or a marker) sent at time t with delay d is due at
//    t + 1 + d. Delays come from a DelaySource, one per message in send order.
//  * tick(): time += 1; then visit the nodes in ascending id order (ids compared as strings);
//    for each node, its outgoing links in ascending destination id; the first link whose
//    head message is due (due <= now) delivers that one message and the visit moves on to
//    the next node. So at most one delivery per sending node per tick, and a link delivers
//    only its head (FIFO), even if a later message on it is already due.
//  * An initiator, and a node receiving its first marker of a snapshot, records its tokens
//    and sends that snapshot's markers to its destinations in ascending id order at once.
//    A marker sent during a tick is due at least one tick later, so it never moves in the
//    tick that sent it.
//
// Besides running snapshots it keeps a per-node history of application events and, per
// snapshot, where in that history each node recorded: what tests need to check a recorded
// state against the run (consistent cut, reachability).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cloud/snapshot/chandy_lamport.h"
#include "cloud/snapshot/sim_input.h"
#include "common/sim/rng.h"

namespace homestead::snapshot {

// An application message: `tokens` moving between nodes; `id` is unique in the run (for tests).
struct TokenTransfer {
  std::uint64_t id = 0;
  std::int64_t tokens = 0;
  bool operator==(const TokenTransfer&) const = default;
};

using TokenSnapshot = GlobalSnapshot<std::int64_t, TokenTransfer>;
using TokenParticipant = SnapshotParticipant<std::int64_t, TokenTransfer>;

class DelaySource {
 public:
  virtual ~DelaySource() = default;
  virtual std::uint64_t next() = 0;
};

// Delays drawn uniformly from [0, max_delay] by the simulator's portable seeded generator.
class SeededDelays : public DelaySource {
 public:
  explicit SeededDelays(std::uint64_t seed, std::uint64_t max_delay = kDefaultMaxDelay);
  std::uint64_t next() override;
  static constexpr std::uint64_t kDefaultMaxDelay = 4;

 private:
  sim::Rng rng_;
  std::uint64_t max_delay_;
};

// Delays from a list, one per message sent; running out is an error naming the file.
class ListedDelays : public DelaySource {
 public:
  ListedDelays(std::vector<std::uint64_t> delays, std::string file_name = "delays");
  std::uint64_t next() override;

 private:
  std::vector<std::uint64_t> delays_;
  std::size_t used_ = 0;
  std::string file_name_;
};

// One application event in a node's history.
struct AppEvent {
  enum class Kind { send, receive } kind = Kind::send;
  ProcessId peer;  // destination of a send, source of a receive
  TokenTransfer message;
};

class TokenNetwork {
 public:
  TokenNetwork(const Topology& topology, std::unique_ptr<DelaySource> delays);

  std::int64_t now() const { return now_; }
  const Topology& topology() const { return topology_; }
  std::int64_t tokens(const ProcessId& node) const { return nodes_.at(node).tokens; }
  // Tokens held by nodes plus tokens in flight on links.
  std::int64_t total_tokens() const;
  // Token messages (not markers) queued on every link, head first.
  std::map<std::pair<ProcessId, ProcessId>, std::vector<TokenTransfer>> tokens_in_flight() const;

  // `from` puts `amount` of its tokens on the link to `to`. Throws std::runtime_error if it
  // holds fewer, std::logic_error if the link does not exist.
  void send_tokens(const ProcessId& from, const ProcessId& to, std::int64_t amount);
  // Starts a snapshot at `initiator`; ids are 0, 1, 2, ... in call order.
  SnapshotId start_snapshot(const ProcessId& initiator);
  void tick();
  // Called after every change of the actual global state (a send or a delivery), so a test
  // can evaluate a property on every state the run really passed through.
  void set_observer(std::function<void(const TokenNetwork&)> observer) { observer_ = std::move(observer); }
  // Ticks until every started snapshot is complete; throws std::logic_error if that cannot
  // happen (nothing left in flight that could finish one).
  void run_until_snapshots_complete();

  std::size_t snapshot_count() const { return next_snapshot_; }
  bool snapshot_complete(SnapshotId id) const;
  bool all_snapshots_complete() const;
  // The assembled global state; throws if it is not complete.
  TokenSnapshot snapshot(SnapshotId id) const;
  // Messages on all links (markers included), for "is the network quiet".
  std::size_t messages_in_flight() const;

  // For tests: each node's application events in order, and per snapshot how many of them
  // each node had done when it recorded its state (its position in the cut).
  const std::vector<AppEvent>& history(const ProcessId& node) const { return nodes_.at(node).history; }
  std::map<ProcessId, std::size_t> cut(SnapshotId id) const { return cuts_.at(id); }

 private:
  struct Message {
    bool marker = false;
    SnapshotId snapshot = 0;  // marker only
    TokenTransfer transfer;   // tokens only
    std::int64_t due = 0;
  };
  struct Node {
    std::int64_t tokens = 0;
    std::map<ProcessId, std::deque<Message>> links;  // by destination, ascending
    std::unique_ptr<TokenParticipant> participant;
    std::vector<AppEvent> history;
  };

  void enqueue(const ProcessId& from, const ProcessId& to, Message message);
  void send_markers(const ProcessId& from, const std::vector<MarkerSend>& markers);
  void deliver(const ProcessId& from, const ProcessId& to, const Message& message);

  Topology topology_;
  std::unique_ptr<DelaySource> delays_;
  std::map<ProcessId, Node> nodes_;  // ascending id as strings: the visiting order
  std::int64_t now_ = 0;
  std::uint64_t next_transfer_id_ = 1;
  SnapshotId next_snapshot_ = 0;
  std::map<SnapshotId, std::map<ProcessId, std::size_t>> cuts_;
  std::function<void(const TokenNetwork&)> observer_;
};

}  // namespace homestead::snapshot
