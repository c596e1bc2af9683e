// A simulated home for the transactuation runtime on common/sim: node 0 is the gateway
// (Runtime + Driver over the node's simulated disk), nodes 1..N are devices that are both a
// sensor (attribute "level") and an actuator, with the firmware contract of model.h: a
// bounded memory of recent cmd_ids, per-device seq fencing and status queries. Faults are
// switched on per device by the test; every actuation a device really performs is recorded
// in the shared History, which the checker compares against the gateway's durable log.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/sim/simulator.h"
#include "transactuation/driver.h"
#include "transactuation/runtime.h"

namespace homestead::transactuation::simhome {

struct ApiTrigger {
  std::string app;
};

struct Message {
  std::variant<Command, Ack, StatusQuery, StatusReply, Reading, ApiTrigger> body;
};
std::string to_string(const Message& message);

struct DeviceFaults {
  bool offline = false;        // ignores everything, reports nothing
  double fail = 0.0;           // probability a fresh command is refused (ack error "jammed")
  sim::Time stale_by = 0;      // readings carry a device timestamp this much in the past
  bool failing_sensor = false; // readings carry a null value (sensor failure)
  std::size_t cmd_memory = 16; // how many recent cmd_ids the firmware remembers
};

struct Execution {
  std::string device;
  std::string cmd_id;
  std::uint64_t seq = 0;
  TxnId txn = 0;
  sim::Time at = 0;
};

// What a logic function was given, recorded by the workload's logic itself.
struct LogicObservation {
  TxnId txn = 0;
  std::string app;
  Time at = 0;
  std::vector<Reading> readings;
  std::map<std::string, Json> state;
  SensingPolicy sensing;
};

struct History {
  std::vector<Execution> executions;  // in the order devices performed them
  std::map<TxnId, LogicObservation> logic;
  std::vector<TransactuationRecord> finished;  // as reported (including ones later lost)
  std::uint64_t gateway_boots = 0;
};

// Shared between the test and the processes; outlives every incarnation.
struct World {
  std::vector<std::string> devices;  // device i runs on node i + 1
  std::vector<DeviceFaults> faults;
  std::vector<AppDefinition> apps;   // installed on every gateway boot
  History history;
  sim::Time reading_period = 100 * sim::kMillisecond;
  bool readings_on = true;  // devices report readings (the test silences them at the end)
  sim::Time tick_period = 5 * sim::kMillisecond;
  sim::Time flush_interval = 2 * sim::kMillisecond;
  // Intent-log compaction every this many gateway ticks (0 = never).
  int compact_every_ticks = 0;
  std::uint64_t bytes_reclaimed = 0;
  sim::NodeId node_of(const std::string& device) const;
};

// The simulated disk as an intent log: one key per record, durable at Disk::sync().
class DiskIntentLog : public IntentLog {
 public:
  // The disk is looked up on each use: the simulator may move node state around.
  explicit DiskIntentLog(std::function<sim::Disk&()> disk);
  void append(const std::vector<LogRecord>& records) override;
  void sync() override { disk_().sync(); }
  std::vector<LogRecord> load() override;
  static std::vector<LogRecord> load_from(const sim::Disk& disk);
  // Checkpoint synced first, then one record dropped and synced at a time, so a crash can
  // leave any prefix of the drops; `after_step` (tests) runs after each durable step. Every
  // dropped record is kept under "archive/" for the history checker, which needs to see
  // everything that was ever durable; recovery never reads it.
  std::uint64_t compact(const LogRecord& checkpoint, const std::set<TxnId>& open) override;
  // Archived and live records, in append order: the whole durable history.
  static std::vector<LogRecord> load_with_archive(const sim::Disk& disk);
  std::function<void()> after_step;

 private:
  std::function<sim::Disk&()> disk_;
  std::uint64_t next_index_ = 0;
};

class GatewayProcess : public sim::Process<Message>, public DeviceBus {
 public:
  explicit GatewayProcess(World& world) : world_(world) {}
  void start(sim::Context<Message>& ctx) override;
  void receive(sim::Context<Message>& ctx, sim::NodeId from, const Message& message) override;
  void timer(sim::Context<Message>& ctx, sim::TimerId, std::uint64_t tag) override;
  void send(const Command& command) override;
  void query(const StatusQuery& query) override;
  Runtime& runtime() { return *runtime_; }

 private:
  World& world_;
  sim::Context<Message>* ctx_ = nullptr;
  std::unique_ptr<DiskIntentLog> log_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<Driver> driver_;
  std::uint64_t ticks_ = 0;
};

class DeviceProcess : public sim::Process<Message> {
 public:
  DeviceProcess(World& world, std::size_t index) : world_(world), index_(index) {}
  void start(sim::Context<Message>& ctx) override;
  void receive(sim::Context<Message>& ctx, sim::NodeId from, const Message& message) override;
  void timer(sim::Context<Message>& ctx, sim::TimerId, std::uint64_t tag) override;

 private:
  struct Remembered {
    std::string cmd_id;
    bool ok;
    std::string reason;
  };
  const DeviceFaults& faults() const { return world_.faults.at(index_); }
  const Remembered* recall(const std::string& cmd_id) const;
  void remember(Remembered entry);

  World& world_;
  std::size_t index_;
  std::uint64_t last_seq_ = 0;
  std::deque<Remembered> memory_;
};

// Builds the simulator with a gateway and one node per device of the world.
void populate(sim::Simulator<Message>& sim, World& world);

}  // namespace homestead::transactuation::simhome
