// The transactuation runtime core: a pure state machine (no sockets, threads, clocks or
// files). Inputs: app installs, triggers, sensor readings, acks, status replies and ticks,
// each with the current time. Output: a Ready, like etcd raft's, which the adapter must
// handle IN THIS ORDER:
//   1. append `records` to the intent log, in order;
//   2. if `sync`, make everything appended so far durable (fsync) - this is what puts every
//      intent record on disk before any of its commands leaves;
//   3. send `commands` and `queries` to the devices;
//   4. hand `finished` records to whoever waits for outcomes (on-commit / on-abort).
// Outcome records are appended without `sync`: they become durable with the next sync or the
// adapter's periodic group flush. A Ready without `sync` holds no intent, so its outcome
// records may be appended after step 4 (the Driver does: the commit is reported first). That keeps only the intent record on the critical path and
// is safe: a lost outcome is re-decided by recovery from its durable intent, and any later
// transactuation that saw its state writes appends its own intent after it, so syncing that
// intent also makes the earlier outcome durable.
//
// Life of a transactuation: locking (ordered 2PL, see lock_table.h) -> sensing (wait up to
// the policy's timeout for it to hold) -> logic -> intent record -> actuating (per-actuation
// timeout and retries, same cmd_id) -> commit, or abort with optional compensations (their own
// durable record first) -> outcome record, locks released.
// Recovery (recover()) re-opens every transactuation whose intent has no outcome, asks each
// device for the status of its cmd_ids (never re-sends a command) and then commits or aborts.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "transactuation/app.h"
#include "transactuation/lock_table.h"
#include "transactuation/record.h"

namespace homestead::transactuation {

struct RuntimeOptions {
  TxnId first_txn_id = 1;  // ids must not repeat across restarts: the adapter picks a base
  Time utc_offset = 0;     // local time = UTC + offset, for time-of-day windows
  Time status_query_timeout = 1 * kSecond;
  int status_query_retries = 3;
};

struct Ready {
  // Intent and compensate records come serialised (`text`). An outcome record comes empty:
  // its record is the `finished` entry of the same txn, and serialise_outcomes() fills it
  // in. That lets the adapter report a commit before it spends time serialising it (the
  // outcome is not synced before the report anyway, see above).
  std::vector<LogRecord> records;
  bool sync = false;
  std::vector<Command> commands;
  std::vector<StatusQuery> queries;
  std::vector<TransactuationRecord> finished;
  bool empty() const {
    return records.empty() && commands.empty() && queries.empty() && finished.empty();
  }
  void serialise_outcomes();
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});

  // Validates and installs; throws AppError (nothing installed) on a bad or duplicate app.
  void install(AppDefinition app);
  bool remove(const std::string& name);
  // A disabled app is not triggered; running transactuations of it finish normally.
  bool set_enabled(const std::string& name, bool enabled);
  std::vector<std::string> app_names() const;
  const AppDefinition* app(const std::string& name) const;

  // Call once, before any other input, with the whole intent log in order.
  void recover(const std::vector<LogRecord>& log, Time now);
  // A checkpoint record (LogKind::checkpoint) of the state now: app state, last seq per
  // device, ids of the open transactuations. Take it between inputs, after the Driver pumped,
  // so every outcome so far was appended before it; then records before it that
  // droppable_before_checkpoint() allows may be dropped: recovery yields the same state.
  LogRecord checkpoint() const;

  // An explicit (API) trigger; throws AppError for an unknown or disabled app.
  TxnId trigger(const std::string& app, Json payload, Time now);
  void on_reading(const Reading& reading, Time now);
  void on_ack(const Ack& ack, Time now);
  void on_status(const StatusReply& reply, Time now);
  void tick(Time now);

  Ready take_ready();
  // The earliest time at which tick() has something to do.
  std::optional<Time> next_deadline() const;

  // ---- direct device commands (sent outside any transactuation, e.g. REST) ----
  // A direct command takes its device's exclusive lock in the SAME FIFO queue as
  // transactuations, like a one-actuation transactuation with no sensing and no state writes:
  // it may be sent only once every transactuation admitted before it on that device has
  // finished (so all of their commands there are resolved), and transactuations admitted
  // after it wait until release_device(). That keeps guarantee 3's per-device order for
  // commands that bypass the runtime. Holds are not durable: after a restart the adapter
  // re-tracks its open commands itself.
  using HoldId = std::uint64_t;
  HoldId hold_device(const std::string& device, Time now);
  // Ends a hold, granted or still waiting (the command is final); unknown ids are ignored.
  void release_device(HoldId hold, Time now);
  // Holds granted since the last call, in grant order: their commands may be sent now.
  std::vector<HoldId> take_granted_holds();
  bool hold_granted(HoldId hold) const { return holds_.count(hold) > 0 && locks_.granted(hold); }
  static bool is_hold(std::uint64_t id) { return (id & kHoldBit) != 0; }

  const std::map<std::string, Json>& state() const { return state_; }
  std::size_t active() const { return txns_.size(); }
  const TransactuationRecord* find_active(TxnId id) const;
  const Reading* latest(const SensorRef& ref) const;
  TxnId next_txn_id() const { return next_id_; }

 private:
  enum class Phase { locking, sensing, actuating, compensating, recovering };
  struct InstalledApp {
    std::shared_ptr<const AppDefinition> definition;
    std::vector<LockRequest> locks;  // derived once at install: every run of it needs them
    bool enabled = true;
    std::optional<Time> next_fire;
  };
  struct Txn {
    TransactuationRecord rec;
    std::shared_ptr<const AppDefinition> app;  // null for transactuations under recovery
    Phase phase = Phase::locking;
    Time lock_deadline = 0;
    Time sensing_deadline = 0;
    bool recovering_compensations = false;
  };

  TxnId start(const InstalledApp& app, Json trigger, Time now);
  void advance(Time now);
  bool step(Txn& txn, Time now);
  bool step_sensing(Txn& txn, Time now);
  void run_logic(Txn& txn, std::map<SensorRef, Reading> usable, Time now);
  bool drive_actuations(Txn& txn, std::vector<ActuationRun>& runs, bool is_compensation, Time now);
  bool drive_recovery(Txn& txn, Time now);
  void decide(Txn& txn, Time now);
  void finish(Txn& txn, Status status, Reason reason, std::string detail, std::map<std::string, Json> writes,
              Time now);
  void send(Txn& txn, ActuationRun& run, Time now);
  void query(ActuationRun& run, Time now);
  ActuationRun* find_run(TxnId txn, const std::string& cmd_id);
  void append(LogKind kind, const Txn& txn, bool sync);

  // Hold ids share the lock table with transactuation ids; the top bit keeps them apart.
  static constexpr std::uint64_t kHoldBit = std::uint64_t{1} << 63;
  void grant_holds();

  RuntimeOptions options_;
  std::map<std::string, InstalledApp> apps_;
  std::map<HoldId, bool> holds_;  // open holds -> already reported as granted
  std::vector<HoldId> granted_holds_;
  std::uint64_t next_hold_ = 1;
  std::map<TxnId, Txn> txns_;
  std::map<std::string, TxnId> inflight_;  // cmd_id -> txn awaiting its ack or status
  std::map<std::string, std::uint64_t> last_seq_;  // per device, the last seq handed out
  std::map<SensorRef, Reading> latest_;
  std::map<std::string, Json> state_;
  LockTable locks_;
  TxnId next_id_;
  Ready ready_;
};

}  // namespace homestead::transactuation
