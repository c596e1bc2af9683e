// Runs ChordNode cores on the deterministic simulator (common/sim): each simulated host
// runs one or more ring positions (virtual nodes) and ticks them every tick_interval.
// Also the oracle: the ideal Chord state computed from the live membership, which tests
// compare against and large static experiments install directly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "cloud/dht/chord_node.h"
#include "common/sim/simulator.h"

namespace homestead::dht {

// A request from the test harness to one ring position, delivered through the simulator
// so that whatever the core sends in response goes out through a proper Context.
struct HarnessCommand {
  Id target = 0;
  std::uint64_t ticket = 0;  // 0: not a request whose result is awaited
  std::function<RequestId(ChordNode&)> apply;
};
using SimMessage = std::variant<Envelope, HarnessCommand>;

struct SimRingOptions {
  ChordConfig chord;
  sim::Time tick_interval = 100 * sim::kMillisecond;
  sim::LinkConfig link{0.0, 0.0, 1 * sim::kMillisecond, 5 * sim::kMillisecond, false};
  std::uint64_t seed = 1;
};

class SimRing {
 public:
  explicit SimRing(SimRingOptions options);
  ~SimRing();
  SimRing(const SimRing&) = delete;
  SimRing& operator=(const SimRing&) = delete;

  const IdSpace& space() const { return space_; }
  sim::Simulator<SimMessage>& simulator() { return *sim_; }
  sim::Time now() const { return sim_->now(); }

  // A new host running these ring positions; they are not ring members yet.
  HostId add_host(const std::vector<Id>& positions);
  // Builds a ring through the protocol: the first position creates it, every other one
  // joins through it; then runs until stabilization converges (false if not by deadline).
  bool build_by_joining(const std::vector<Id>& positions, sim::Time budget);
  // Gives every position of the listed hosts the converged state at once (large experiments).
  void install_converged(const std::vector<std::vector<Id>>& hosts);

  // Adds a host with one position and joins it through `via`.
  HostId join(Id position, Id via);
  void leave(Id position);    // graceful
  void fail_host(HostId host);  // crash: all its positions vanish at once
  HostId host_of(Id position) const { return host_of_.at(position); }
  bool knows(Id position) const { return host_of_.count(position) != 0; }

  // Stops stabilize/fix_fingers/check_predecessor (request timeouts still run).
  void set_maintenance(bool on) { maintenance_ = on; }
  void run_for(sim::Time duration) { sim_->run_for(duration); }
  bool run_until_converged(sim::Time budget);
  bool converged() const;

  // Starts a request at a position; its result shows up in result() once finished.
  using Ticket = std::uint64_t;
  Ticket start_lookup(Id from, Id key);
  Ticket start_get(Id from, Id key);
  Ticket start_put(Id from, Id key, std::string value);
  const OperationResult* result(const Ticket& ticket) const;
  // Runs until every ticket has a result or the budget of virtual time is spent.
  bool wait_all(const std::vector<Ticket>& tickets, sim::Time budget);
  // Synchronous helpers (throw std::runtime_error if no result within the budget).
  OperationResult lookup(Id from, Id key, sim::Time budget = 60 * sim::kSecond);

  // ---- membership and the oracle ----
  bool is_live(Id position) const;
  std::vector<NodeRef> live_positions() const;  // sorted by id, joined and host up
  const ChordNode& node(Id position) const;
  NodeRef ideal_successor(Id key) const;
  std::optional<NodeRef> ideal_predecessor(Id position) const;
  std::vector<NodeRef> ideal_successor_list(Id position) const;
  std::vector<NodeRef> ideal_fingers(Id position) const;

 private:
  class Host;
  friend class Host;
  Ticket start(Id from, std::function<RequestId(ChordNode&)> request);
  ChordNode* find_node(Id position) const;
  void command(Id position, std::function<RequestId(ChordNode&)> apply, Ticket ticket = 0);
  void record(Id position, OperationResult result);

  std::map<std::pair<Id, RequestId>, Ticket> ticket_of_;
  Ticket ticket_seq_ = 0;
  SimRingOptions options_;
  IdSpace space_;
  std::unique_ptr<sim::Simulator<SimMessage>> sim_;
  std::map<Id, HostId> host_of_;
  std::map<Ticket, OperationResult> results_;
  std::vector<Host*> hosts_;  // by HostId; nullptr while crashed
  bool maintenance_ = true;
};

// Oracle over a sorted list of live positions: the first position at or after key
// (clockwise), the one before a position, and the r positions after it.
NodeRef successor_in(const std::vector<NodeRef>& sorted, Id key);
std::optional<NodeRef> ideal_predecessor_in(const std::vector<NodeRef>& sorted, Id position);
std::vector<NodeRef> ideal_successor_list_in(const std::vector<NodeRef>& sorted, Id position, std::size_t length);

}  // namespace homestead::dht
