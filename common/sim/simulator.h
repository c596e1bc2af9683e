// Deterministic simulator: many protocol nodes in one thread, on virtual time, with one
// seeded RNG deciding every drop, duplicate and delay. Same seed, same run, same trace.
//
// A protocol core is wrapped in a small Process adapter: the simulator calls start() on
// creation and after every restart, receive() for each delivered message and timer() when
// a timer it set fires. The adapter sends through the Context, keeps durable state on the
// Context's Disk (lost unless synced when the node crashes) and reads its local clock,
// which may be skewed and drift.
//
// Links are directed. Each has a drop probability, a duplicate probability, a delay drawn
// uniformly from [min_delay, max_delay], and FIFO on/off (FIFO links never reorder, even
// with duplicates). Partitions split nodes into groups; a message crossing groups is
// dropped at send time, and one in flight is dropped on arrival if a partition now lies
// between its ends. Messages to a crashed node are dropped; timers die with the node.
//
// See common/sim/README.md for the rerun-one-seed workflow.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/sim/disk.h"
#include "common/sim/rng.h"
#include "common/sim/seeds.h"

namespace homestead::sim {

using NodeId = std::uint32_t;
using Time = std::int64_t;  // virtual microseconds
using TimerId = std::uint64_t;

inline constexpr Time kMicrosecond = 1;
inline constexpr Time kMillisecond = 1000;
inline constexpr Time kSecond = 1000 * kMillisecond;
inline constexpr NodeId kExternal = UINT32_MAX;  // "sent by the test", not by a node

struct LinkConfig {
  double drop = 0.0;
  double duplicate = 0.0;
  Time min_delay = 1 * kMillisecond;
  Time max_delay = 1 * kMillisecond;
  bool fifo = true;
};

struct ClockConfig {
  Time skew = 0;          // local clock = true time + skew + drift
  double drift_ppm = 0;   // parts per million; +100 runs 0.01% fast
};

struct NetworkStats {
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;      // by link loss, partition or a crashed receiver
  std::uint64_t duplicated = 0;
  std::uint64_t bytes_sent = 0;   // only when a message size function is set
};

// Writes a trace to $TMPDIR/homestead-sim-trace-seed<seed>-<n>.txt and says where on stderr.
void write_trace_file(std::uint64_t seed, const std::string& text);

enum class TraceKind { send, deliver, drop, duplicate, timer, crash, restart, partition, heal, action };
const char* to_string(TraceKind kind);

struct TraceEvent {
  Time time = 0;
  TraceKind kind = TraceKind::send;
  NodeId from = kExternal;
  NodeId to = kExternal;
  std::uint64_t id = 0;  // message id or timer id
  std::string detail;
};

// FNV-1a over the numeric fields of each event; equal for equal runs without keeping the trace.
class TraceHash {
 public:
  void add(std::uint64_t value) {
    for (int i = 0; i < 8; ++i) {
      hash_ ^= (value >> (8 * i)) & 0xff;
      hash_ *= 1099511628211ULL;
    }
  }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 1469598103934665603ULL;
};

// Finds a to_string for a message type by ADL, or uses the string itself.
template <class Msg>
std::string describe_message(const Msg& message) {
  if constexpr (std::is_convertible_v<const Msg&, std::string>) {
    return std::string(message);
  } else if constexpr (requires { to_string(message); }) {
    return to_string(message);
  } else {
    return "<message>";
  }
}

template <class Msg>
class Simulator;

template <class Msg>
class Context {
 public:
  NodeId self() const { return self_; }
  // This node's local clock (skewed and drifting as configured).
  Time now() const { return sim_->local_time(self_); }
  void send(NodeId to, Msg message) { sim_->send_from(self_, to, std::move(message)); }
  // Fires after `delay` of this node's local time; tag is returned to timer().
  TimerId set_timer(Time delay, std::uint64_t tag = 0) { return sim_->set_timer(self_, delay, tag); }
  void cancel_timer(TimerId id) { sim_->cancel_timer(id); }
  Disk& disk() { return sim_->disk(self_); }
  // Per-node generator: the node's own draws do not disturb the network's.
  Rng& rng() { return sim_->node_rng(self_); }
  const std::vector<NodeId>& nodes() const { return sim_->node_ids(); }

 private:
  friend class Simulator<Msg>;
  Context(Simulator<Msg>* sim, NodeId self) : sim_(sim), self_(self) {}
  Simulator<Msg>* sim_;
  NodeId self_;
};

template <class Msg>
class Process {
 public:
  virtual ~Process() = default;
  virtual void start(Context<Msg>&) {}
  virtual void receive(Context<Msg>& ctx, NodeId from, const Msg& message) = 0;
  virtual void timer(Context<Msg>&, TimerId, std::uint64_t /*tag*/) {}
};

template <class Msg>
class Simulator {
 public:
  // Makes the node's process; called on add_node and again on every restart, when the
  // process must rebuild itself from ctx.disk().
  using Factory = std::function<std::unique_ptr<Process<Msg>>(NodeId)>;
  using SizeOf = std::function<std::size_t(const Msg&)>;

  // With HOMESTEAD_SIM_TRACE=1 the full trace is kept and written to a file when the
  // simulator is destroyed (path printed on stderr), so a failing seed can be replayed
  // and read event by event.
  explicit Simulator(std::uint64_t seed) : seed_(seed), rng_(seed), keep_trace_(trace_requested()) {}
  ~Simulator() {
    if (trace_requested() && !trace_.empty()) write_trace_file(seed_, trace_text());
  }
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  std::uint64_t seed() const { return seed_; }
  Time now() const { return now_; }

  NodeId add_node(Factory factory) {
    const NodeId id = static_cast<NodeId>(nodes_.size());
    nodes_.push_back(NodeState{std::move(factory), nullptr, Disk{}, rng_.fork(), ClockConfig{}, true, 0});
    ids_.push_back(id);
    boot(id);
    return id;
  }
  std::size_t size() const { return nodes_.size(); }
  const std::vector<NodeId>& node_ids() const { return ids_; }

  Process<Msg>& process(NodeId id) {
    auto& node = nodes_.at(id);
    if (!node.process) throw std::logic_error("sim: node " + std::to_string(id) + " is down");
    return *node.process;
  }
  template <class P>
  P& process_as(NodeId id) {
    return dynamic_cast<P&>(process(id));
  }

  // ---- network configuration ----
  void set_default_link(LinkConfig config) { default_link_ = config; }
  void set_link(NodeId from, NodeId to, LinkConfig config) { links_[{from, to}].config = config; }
  void set_message_size(SizeOf size_of) { size_of_ = std::move(size_of); }

  // Nodes in different groups cannot talk. Nodes not listed are each isolated alone.
  void partition(const std::vector<std::vector<NodeId>>& groups) {
    group_of_.assign(nodes_.size(), 0);
    std::uint32_t next_group = 1;
    for (const auto& group : groups) {
      for (NodeId id : group) group_of_.at(id) = next_group;
      ++next_group;
    }
    for (auto& group : group_of_) {
      if (group == 0) group = next_group++;
    }
    record(TraceKind::partition, kExternal, kExternal, 0, describe_groups(groups));
  }
  // Cut one node off from everyone else.
  void isolate(NodeId id) {
    std::vector<NodeId> rest;
    for (NodeId n : ids_) {
      if (n != id) rest.push_back(n);
    }
    partition({rest, {id}});
  }
  void heal() {
    group_of_.clear();
    record(TraceKind::heal, kExternal, kExternal, 0, "");
  }
  bool connected(NodeId a, NodeId b) const {
    if (group_of_.empty() || a == kExternal || b == kExternal) return true;
    return group_of_.at(a) == group_of_.at(b);
  }

  // ---- node faults ----
  void crash(NodeId id) {
    auto& node = nodes_.at(id);
    if (!node.up) return;
    node.up = false;
    node.process.reset();
    node.disk.lose_unsynced();
    ++node.incarnation;  // timers of the old incarnation never fire
    record(TraceKind::crash, id, id, 0, "");
  }
  void restart(NodeId id) {
    auto& node = nodes_.at(id);
    if (node.up) return;
    record(TraceKind::restart, id, id, 0, "");
    boot(id);
  }
  bool is_up(NodeId id) const { return nodes_.at(id).up; }
  void set_clock(NodeId id, ClockConfig clock) { nodes_.at(id).clock = clock; }
  Time local_time(NodeId id) const {
    const auto& clock = nodes_.at(id).clock;
    return now_ + clock.skew + static_cast<Time>(static_cast<double>(now_) * clock.drift_ppm / 1e6);
  }
  Disk& disk(NodeId id) { return nodes_.at(id).disk; }
  Rng& node_rng(NodeId id) { return nodes_.at(id).rng; }
  // The network's generator, for tests that randomise their own actions reproducibly.
  Rng& rng() { return rng_; }

  // ---- driving ----
  // A message from the test (e.g. a client request) to a node, through no link.
  void inject(NodeId to, Msg message, Time delay = 0) {
    const std::uint64_t id = ++message_seq_;
    schedule(Event{now_ + delay, 0, EventKind::deliver, kExternal, to, id, 0, 0, std::move(message), {}});
  }
  // Run an action at a virtual time (crash a node at t = 3 s, ...).
  void at(Time when, std::function<void()> action) {
    schedule(Event{when, 0, EventKind::action, kExternal, kExternal, 0, 0, 0, std::nullopt, std::move(action)});
  }

  // Processes the next event; false when nothing is left.
  bool step() {
    if (queue_.empty()) return false;
    // Moving out of the heap top is safe because it is popped before anything reads it.
    Event event = std::move(const_cast<Event&>(queue_.top()));
    queue_.pop();
    now_ = std::max(now_, event.time);
    dispatch(event);
    return true;
  }
  void run_until(Time deadline) {
    while (!queue_.empty() && queue_.top().time <= deadline) step();
    now_ = std::max(now_, deadline);
  }
  void run_for(Time duration) { run_until(now_ + duration); }
  // Runs until pred() holds (checked after every event) or the deadline; returns pred().
  bool run_until(const std::function<bool()>& pred, Time deadline) {
    if (pred()) return true;
    while (!queue_.empty() && queue_.top().time <= deadline) {
      step();
      if (pred()) return true;
    }
    now_ = std::max(now_, deadline);
    return pred();
  }

  // ---- observation ----
  const NetworkStats& stats() const { return stats_; }
  void reset_stats() { stats_ = NetworkStats{}; }
  std::uint64_t trace_hash() const { return hash_.value(); }
  // Keeping the full trace costs memory; hash-only by default.
  void keep_trace(bool keep) { keep_trace_ = keep; }
  const std::vector<TraceEvent>& trace() const { return trace_; }
  std::string trace_text() const {
    std::ostringstream out;
    for (const auto& e : trace_) {
      out << e.time << ' ' << to_string(e.kind) << ' ' << node_name(e.from) << "->" << node_name(e.to) << " #"
          << e.id;
      if (!e.detail.empty()) out << ' ' << e.detail;
      out << '\n';
    }
    return out.str();
  }

 private:
  enum class EventKind { deliver, timer, action };

  struct Event {
    Time time;
    std::uint64_t seq;  // total order among same-time events: scheduling order
    EventKind kind;
    NodeId from;
    NodeId to;
    std::uint64_t id;           // message or timer id
    std::uint64_t tag;          // timer tag
    std::uint64_t incarnation;  // timers: the incarnation that set it
    std::optional<Msg> message;
    std::function<void()> action;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.seq > b.seq;
    }
  };
  struct NodeState {
    Factory factory;
    std::unique_ptr<Process<Msg>> process;
    Disk disk;
    Rng rng;
    ClockConfig clock;
    bool up;
    std::uint64_t incarnation;
  };
  struct LinkState {
    LinkConfig config;
    Time last_delivery = 0;  // FIFO: no message may arrive before an earlier one
  };

  friend class Context<Msg>;

  static std::string node_name(NodeId id) { return id == kExternal ? "ext" : std::to_string(id); }
  static std::string describe_groups(const std::vector<std::vector<NodeId>>& groups) {
    std::string out;
    for (const auto& group : groups) {
      out += '{';
      for (std::size_t i = 0; i < group.size(); ++i) out += (i ? "," : "") + std::to_string(group[i]);
      out += '}';
    }
    return out;
  }

  void boot(NodeId id) {
    auto& node = nodes_.at(id);
    node.up = true;
    node.process = node.factory(id);
    Context<Msg> ctx(this, id);
    node.process->start(ctx);
  }

  LinkState& link(NodeId from, NodeId to) {
    auto [it, inserted] = links_.try_emplace({from, to});
    if (inserted) it->second.config = default_link_;
    return it->second;
  }

  void schedule(Event event) {
    event.seq = ++event_seq_;
    queue_.push(std::move(event));
  }

  void record(TraceKind kind, NodeId from, NodeId to, std::uint64_t id, std::string detail) {
    hash_.add(static_cast<std::uint64_t>(now_));
    hash_.add(static_cast<std::uint64_t>(kind));
    hash_.add(from);
    hash_.add(to);
    hash_.add(id);
    if (keep_trace_) trace_.push_back(TraceEvent{now_, kind, from, to, id, std::move(detail)});
  }
  std::string detail_of(const Msg& message) const { return keep_trace_ ? describe_message(message) : std::string(); }

  void send_from(NodeId from, NodeId to, Msg message) {
    if (to >= nodes_.size()) throw std::out_of_range("sim: send to unknown node " + std::to_string(to));
    const std::uint64_t id = ++message_seq_;
    ++stats_.sent;
    if (size_of_) stats_.bytes_sent += size_of_(message);
    record(TraceKind::send, from, to, id, detail_of(message));
    if (!connected(from, to)) {
      ++stats_.dropped;
      record(TraceKind::drop, from, to, id, "partition");
      return;
    }
    LinkState& state = link(from, to);
    if (rng_.chance(state.config.drop)) {
      ++stats_.dropped;
      record(TraceKind::drop, from, to, id, "loss");
      return;
    }
    const int copies = rng_.chance(state.config.duplicate) ? 2 : 1;
    for (int copy = 0; copy < copies; ++copy) {
      Time arrival = now_ + rng_.uniform(state.config.min_delay, state.config.max_delay);
      if (state.config.fifo) arrival = std::max(arrival, state.last_delivery);
      state.last_delivery = std::max(state.last_delivery, arrival);
      if (copy == 1) {
        ++stats_.duplicated;
        record(TraceKind::duplicate, from, to, id, "");
      }
      schedule(Event{arrival, 0, EventKind::deliver, from, to, id, 0, 0, message, {}});
    }
  }

  TimerId set_timer(NodeId id, Time local_delay, std::uint64_t tag) {
    const auto& node = nodes_.at(id);
    // A drifting clock measures durations wrongly: local_delay of its time is this much true time.
    Time delay = static_cast<Time>(static_cast<double>(local_delay) / (1.0 + node.clock.drift_ppm / 1e6));
    if (delay < 0) delay = 0;
    const TimerId timer = ++timer_seq_;
    schedule(Event{now_ + delay, 0, EventKind::timer, id, id, timer, tag, node.incarnation, std::nullopt, {}});
    return timer;
  }
  void cancel_timer(TimerId id) { cancelled_timers_.insert(id); }

  void dispatch(Event& event) {
    switch (event.kind) {
      case EventKind::action:
        record(TraceKind::action, kExternal, kExternal, 0, "");
        event.action();
        return;
      case EventKind::timer: {
        if (cancelled_timers_.erase(event.id)) return;
        auto& node = nodes_.at(event.to);
        if (!node.up || node.incarnation != event.incarnation) return;
        record(TraceKind::timer, event.to, event.to, event.id, "");
        Context<Msg> ctx(this, event.to);
        node.process->timer(ctx, event.id, event.tag);
        return;
      }
      case EventKind::deliver: {
        auto& node = nodes_.at(event.to);
        if (!node.up) {
          ++stats_.dropped;
          record(TraceKind::drop, event.from, event.to, event.id, "receiver down");
          return;
        }
        if (!connected(event.from, event.to)) {
          ++stats_.dropped;
          record(TraceKind::drop, event.from, event.to, event.id, "partition");
          return;
        }
        ++stats_.delivered;
        record(TraceKind::deliver, event.from, event.to, event.id, detail_of(*event.message));
        Context<Msg> ctx(this, event.to);
        node.process->receive(ctx, event.from, *event.message);
        return;
      }
    }
  }

  std::uint64_t seed_;
  Rng rng_;
  Time now_ = 0;
  std::vector<NodeState> nodes_;
  std::vector<NodeId> ids_;
  std::map<std::pair<NodeId, NodeId>, LinkState> links_;
  LinkConfig default_link_;
  std::vector<std::uint32_t> group_of_;  // empty = no partition
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::set<TimerId> cancelled_timers_;
  std::uint64_t event_seq_ = 0, message_seq_ = 0, timer_seq_ = 0;
  NetworkStats stats_;
  SizeOf size_of_;
  TraceHash hash_;
  bool keep_trace_ = false;
  std::vector<TraceEvent> trace_;
};

}  // namespace homestead::sim
