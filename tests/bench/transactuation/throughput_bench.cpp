// Throughput of the runtime core + Driver + the real SQLite intent log (WAL,
// synchronous=FULL) with in-process devices that ack at once, so the numbers are the
// runtime's own cost: transactuations per second, fsyncs per transactuation and trigger ->
// commit latency. "per-input" pumps (and so may fsync) after every input; "batched" pumps
// once per batch of inputs (group commit of the intent records), as gatewayd's loop does
// when several messages are queued. 0% or 50% of the transactuations contend for one device.
// (Moved here from tests/transactuation/throughput.cpp.)
#include "tests/bench/transactuation/throughput_bench.h"

#include <algorithm>
#include <deque>
#include <map>
#include <string>

#include "tests/bench/transactuation/sim_devices.h"
#include "transactuation/sqlite_intent_log.h"

namespace homestead::transactuation::bench {

void remove_database(const std::filesystem::path& db) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(db.string() + suffix);
}

namespace {

Time wall_now() { return steady_us(); }

class InstantBus : public DeviceBus {
 public:
  void send(const Command& command) override { acks.push_back(Ack{command.device, command.cmd_id, true, ""}); }
  void query(const StatusQuery&) override {}
  std::deque<Ack> acks;
};

}  // namespace

ThroughputResult run_throughput(const std::filesystem::path& db, int total, int concurrency, int conflict_percent,
                                bool batched) {
  remove_database(db);
  SqliteIntentLog log(db);
  Runtime runtime;
  const int apps = 64;
  std::vector<std::string> names;
  for (int i = 0; i < apps; ++i) {
    const std::string suffix = std::to_string(i);
    const std::string device = "dev" + suffix, key = "k" + suffix;
    names.push_back("a" + suffix);
    runtime.install(AppBuilder(names.back()).actuates({device}).writes_state({key}).lock_timeout(3600 * kSecond)
                        .logic([device, key](const LogicInput& in) {
                          return LogicResult{{Actuation{device, "on"}}, {{key, in.txn}}, ""};
                        }).build());
  }
  runtime.install(AppBuilder("hot").actuates({"shared"}).writes_state({"hot"}).lock_timeout(3600 * kSecond)
                      .logic([](const LogicInput& in) {
                        return LogicResult{{Actuation{"shared", "on"}}, {{"hot", in.txn}}, ""};
                      }).build());
  std::vector<Time> latencies;
  std::map<TxnId, Time> started;
  InstantBus bus;
  Driver driver(runtime, log, bus, 2 * kMillisecond, [&](const TransactuationRecord& r) {
    latencies.push_back(wall_now() - started[r.id]);
  });
  const std::string hot_name = "hot";
  int triggered = 0;
  std::uint64_t pick = 12345;
  const Time begin = wall_now();
  while (static_cast<int>(latencies.size()) < total) {
    while (triggered < total && static_cast<int>(runtime.active()) < concurrency) {
      pick = pick * 6364136223846793005ULL + 1442695040888963407ULL;
      const bool hot = static_cast<int>((pick >> 33) % 100) < conflict_percent;
      const std::string& app = hot ? hot_name : names[static_cast<std::size_t>(triggered % apps)];
      const Time now = wall_now();
      started[runtime.next_txn_id()] = now;
      runtime.trigger(app, Json::object(), now);
      ++triggered;
      if (!batched) driver.pump(now);
    }
    driver.pump(wall_now());
    // Acks arrive "from the network": in batched mode the gateway handles all that are queued,
    // then pumps once; per-input mode pumps after each.
    while (!bus.acks.empty()) {
      std::deque<Ack> acks;
      acks.swap(bus.acks);
      for (const auto& ack : acks) {
        runtime.on_ack(ack, wall_now());
        if (!batched) driver.pump(wall_now());
      }
      driver.pump(wall_now());
    }
    runtime.tick(wall_now());
    driver.flush_if_due(wall_now());
  }
  const double seconds = static_cast<double>(wall_now() - begin) / 1e6;
  std::sort(latencies.begin(), latencies.end());
  ThroughputResult result;
  result.per_second = total / seconds;
  result.syncs_per_txn = static_cast<double>(driver.stats().syncs) / total;
  result.p50 = latencies[latencies.size() / 2];
  result.p99 = latencies[latencies.size() * 99 / 100];
  return result;
}

FlushCost durable_flush_cost(const std::filesystem::path& db, int rounds) {
  remove_database(db);
  SqliteIntentLog log(db);
  std::vector<Time> samples;
  // Sized like a real intent followed by the previous outcome: what one real sync carries.
  TransactuationRecord record;
  record.app = "bare";
  ActuationRun run;
  run.actuation = Actuation{"dev1", "on"};
  run.cmd_id = "1.0";
  record.actuations.push_back(run);
  record.state_writes["k1"] = 1;
  record.locks.push_back(LockRequest{"device:dev1", LockMode::exclusive});
  for (int i = 0; i < rounds; ++i) {
    record.id = static_cast<TxnId>(i + 1);
    const Time start = wall_now();
    log.append({LogRecord{LogKind::outcome, record.id, to_json(record)}, LogRecord{LogKind::intent, record.id, to_json(record)}});
    log.sync();
    samples.push_back(wall_now() - start);
  }
  std::sort(samples.begin(), samples.end());
  return FlushCost{samples[samples.size() / 2], samples[samples.size() * 99 / 100]};
}


}  // namespace homestead::transactuation::bench
