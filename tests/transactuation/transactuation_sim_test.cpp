// Deterministic simulation of the transactuation runtime: random apps over shared devices
// and state keys, random concurrent triggers, device faults (drops, delays with reordering,
// refused commands, offline devices, stale and failing sensors, forgetful firmware) and
// gateway crashes at random moments with recovery from the simulated disk. After each run
// the gateway crashes once more (so only fsynced records survive), restarts, recovers, and
// the checker verifies guarantees 1-5 on the whole history.
#include <gtest/gtest.h>

#include "tests/support/seeds.h"
#include "tests/transactuation/history_checker.h"
#include "tests/transactuation/sim_home.h"

namespace homestead::transactuation::simhome {
namespace {

Quorum random_quorum(sim::Rng& rng, std::size_t n, bool allow_none) {
  switch (rng.uniform(0, allow_none ? 3 : 2)) {
    case 0: return Quorum::all();
    case 1: return Quorum::any();
    case 2: return Quorum::at_least(static_cast<std::size_t>(rng.uniform(1, static_cast<std::int64_t>(std::max<std::size_t>(n, 1)))));
    default: return Quorum::none();
  }
}

std::vector<std::string> pick(sim::Rng& rng, const std::vector<std::string>& from, std::int64_t lo, std::int64_t hi) {
  std::vector<std::string> out;
  const auto count = rng.uniform(lo, hi);
  for (std::int64_t i = 0; i < count; ++i) {
    const auto& candidate = from[static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(from.size()) - 1))];
    if (std::find(out.begin(), out.end(), candidate) == out.end()) out.push_back(candidate);
  }
  return out;
}

// A random app whose logic records exactly what it was shown and writes values naming its
// transactuation, so the checker can rebuild reads-from and claim relations.
AppDefinition random_app(sim::Rng& rng, World& world, int index) {
  const std::vector<std::string> keys = {"k0", "k1", "k2", "k3"};
  std::vector<SensorRef> sensors;
  for (const auto& device : pick(rng, world.devices, 0, 2)) sensors.push_back(SensorRef{device, "level"});
  const auto actuators = pick(rng, world.devices, 1, 3);
  const auto reads = pick(rng, keys, 0, 2);
  const auto writes = pick(rng, keys, 0, 2);
  const bool use_compensation = rng.chance(0.5);
  const bool claim_first = rng.chance(0.7);

  AppBuilder builder("app" + std::to_string(index));
  builder.sense(sensors)
      .fresh_within(rng.uniform(150, 1500) * kMillisecond)
      .require(sensors.empty() ? Quorum::all() : random_quorum(rng, sensors.size(), false))
      .wait_for_sensing(rng.uniform(0, 400) * kMillisecond)
      .actuates(actuators)
      .reads_state(reads)
      .writes_state(writes)
      .actuating(random_quorum(rng, actuators.size(), true))
      .actuation_timeout(rng.uniform(60, 300) * kMillisecond, static_cast<int>(rng.uniform(0, 2)))
      .on_failure(rng.chance(0.3) ? OnFailure::commit_partial : OnFailure::abort, rng.chance(0.7))
      .lock_timeout(rng.uniform(500, 3000) * kMillisecond);
  if (claim_first) builder.writes_state({claim_key(actuators.front())});
  if (rng.chance(0.2)) builder.sequential();
  if (rng.chance(0.2)) {
    // Also triggered by high readings of one device, concurrently with the API triggers.
    builder.on_sensor(SensorRef{world.devices[static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(world.devices.size()) - 1))], "level"},
                      [](const Reading& r) { return r.value.is_number() && r.value.get<double>() > 95; });
  }
  if (rng.chance(0.2)) builder.during(TimeWindow{0, static_cast<int>(rng.uniform(1, 4))});  // first seconds of the day
  const double skip_chance = rng.chance(0.3) ? 0.2 : 0.0;
  const std::uint64_t logic_seed = rng.next();
  builder.logic([&world, actuators, writes, use_compensation, claim_first, skip_chance, logic_seed,
                 name = "app" + std::to_string(index)](const LogicInput& in) {
    LogicObservation seen;
    seen.txn = in.txn;
    seen.app = name;
    seen.at = in.now;
    for (const auto& [ref, reading] : in.readings) seen.readings.push_back(reading);
    seen.state = in.state;
    seen.sensing = world.apps.empty() ? SensingPolicy{} : SensingPolicy{};
    for (const auto& app : world.apps) {
      if (app.name == name) seen.sensing = app.sensing;
    }
    world.history.logic[in.txn] = seen;
    sim::Rng decide(logic_seed ^ in.txn);
    if (decide.chance(skip_chance)) return LogicResult::nothing("random skip");
    LogicResult result;
    for (const auto& key : writes) result.state_writes[key] = written_by(in.txn);
    for (std::size_t i = 0; i < actuators.size(); ++i) {
      Actuation actuation{actuators[i], "set", Json{{"v", in.txn}}, std::nullopt, {}};
      if (use_compensation) actuation.compensation = Compensation{"reset", Json::object()};
      if (i == 0 && claim_first) actuation.writes_on_success[claim_key(actuators[i])] = written_by(in.txn);
      result.actuations.push_back(std::move(actuation));
    }
    return result;
  });
  return builder.build();
}

struct Scenario {
  std::size_t devices = 6;
  std::size_t apps = 6;
  std::size_t triggers = 40;
  sim::Time active_until = 3 * sim::kSecond;
  bool device_faults = true;
  bool gateway_crashes = true;
  int compact_every_ticks = 0;  // intent-log compaction (crashes may land between its steps)
};

std::vector<std::string> run_scenario(std::uint64_t seed, const Scenario& scenario, CheckSummary& summary) {
  World world;
  world.compact_every_ticks = scenario.compact_every_ticks;
  for (std::size_t i = 0; i < scenario.devices; ++i) {
    std::string name = "d";
    name += std::to_string(i);
    world.devices.push_back(name);
  }
  sim::Simulator<Message> sim(seed);
  sim.keep_trace(sim::trace_requested());
  sim::Rng& rng = sim.rng();
  for (std::size_t i = 0; i < scenario.apps; ++i) world.apps.push_back(random_app(rng, world, static_cast<int>(i)));
  populate(sim, world);

  if (scenario.device_faults) {
    // Lossy, reordering links with delays up to a quarter second.
    sim.set_default_link(sim::LinkConfig{0.08, 0.03, 1 * sim::kMillisecond, 250 * sim::kMillisecond, false});
    for (auto& faults : world.faults) {
      faults.fail = rng.chance(0.4) ? 0.2 : 0.0;
      faults.cmd_memory = static_cast<std::size_t>(rng.uniform(1, 16));
      if (rng.chance(0.2)) faults.stale_by = 2 * sim::kSecond;
      if (rng.chance(0.1)) faults.failing_sensor = true;
    }
    for (std::size_t i = 0; i < scenario.devices; ++i) {
      if (!rng.chance(0.3)) continue;
      const sim::Time from = rng.uniform(0, scenario.active_until);
      const sim::Time to = from + rng.uniform(100, 1500) * sim::kMillisecond;
      sim.at(from, [&world, i] { world.faults[i].offline = true; });
      sim.at(to, [&world, i] { world.faults[i].offline = false; });
    }
  } else {
    sim.set_default_link(sim::LinkConfig{0.0, 0.0, 1 * sim::kMillisecond, 5 * sim::kMillisecond, true});
  }
  for (std::size_t i = 0; i < scenario.triggers; ++i) {
    const auto& app = world.apps[static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(world.apps.size()) - 1))];
    sim.inject(0, Message{ApiTrigger{app.name}}, rng.uniform(0, scenario.active_until));
  }
  if (scenario.gateway_crashes) {
    const auto crashes = rng.uniform(1, 3);
    for (std::int64_t c = 0; c < crashes; ++c) {
      const sim::Time when = rng.uniform(50 * sim::kMillisecond, scenario.active_until);
      const sim::Time down_for = rng.uniform(1, 400) * sim::kMillisecond;
      sim.at(when, [&sim] { sim.crash(0); });
      sim.at(when + down_for, [&sim] { sim.restart(0); });
    }
  }
  // Calm down: everything online and lossless so every transactuation can finish, and no
  // more readings, so sensor triggers stop and the final crash finds the runtime idle.
  const sim::Time calm = scenario.active_until + 2 * sim::kSecond;
  sim.at(calm, [&] {
    world.readings_on = false;
    for (auto& faults : world.faults) faults.offline = false;
    const sim::LinkConfig lossless{0.0, 0.0, 1 * sim::kMillisecond, 5 * sim::kMillisecond, true};
    sim.set_default_link(lossless);
    for (sim::NodeId a : sim.node_ids()) {
      for (sim::NodeId b : sim.node_ids()) sim.set_link(a, b, lossless);  // links already in use too
    }
  });
  // Let readings still in flight arrive (and trigger) before the last crash.
  sim.run_until(calm + sim::kSecond);
  // A last crash at an arbitrary moment, then recovery must close everything.
  sim.crash(0);
  sim.restart(0);
  const bool quiet = sim.run_until(
      [&] { return sim.is_up(0) && sim.process_as<GatewayProcess>(0).runtime().active() == 0; },
      calm + 61 * sim::kSecond);
  std::vector<std::string> violations;
  if (!quiet) violations.push_back("runtime still has open transactuations 60 s after the faults stopped");
  sim.run_for(50 * sim::kMillisecond);  // group flush of the last outcome records
  sim.crash(0);                         // keep only what is durable
  // The checker sees every record that was ever durable, compacted away or not.
  const auto durable = DiskIntentLog::load_with_archive(sim.disk(0));
  auto found = check_history(durable, world.history, &summary);
  if (scenario.compact_every_ticks > 0) {
    // Recovery from the compacted log must rebuild exactly what the whole history gives.
    Runtime compacted, whole;
    compacted.recover(DiskIntentLog::load_from(sim.disk(0)), 0);
    whole.recover(durable, 0);
    if (compacted.state() != whole.state()) {
      found.push_back("state recovered from the compacted log differs from the whole log's: " +
                      Json(compacted.state()).dump() + " vs " + Json(whole.state()).dump());
    }
    if (compacted.active() != whole.active()) found.push_back("open transactuations differ after compaction");
    if (compacted.checkpoint().body.at("last_seq") != whole.checkpoint().body.at("last_seq")) {
      found.push_back("last seq per device differs after compaction");
    }
    if (DiskIntentLog::load_from(sim.disk(0)).size() >= durable.size()) found.push_back("compaction dropped nothing");
  }
  violations.insert(violations.end(), found.begin(), found.end());
  if (!violations.empty() && sim::trace_requested()) std::cerr << sim.trace_text();
  return violations;
}

void expect_no_violations(const std::vector<std::string>& violations) {
  EXPECT_TRUE(violations.empty()) << violations.size() << " violation(s), first: " << violations.front();
  for (std::size_t i = 0; i < violations.size() && i < 10; ++i) ADD_FAILURE() << violations[i];
}

TEST(TransactuationSim, GuaranteesHoldUnderFaultsAndCrashes) {
  CheckSummary total;
  homestead::testing::for_each_seed(30, [&](std::uint64_t seed) {
    CheckSummary summary;
    const auto violations = run_scenario(seed, Scenario{}, summary);
    if (!violations.empty()) expect_no_violations(violations);
    total.committed += summary.committed;
    total.committed_partial += summary.committed_partial;
    total.aborted += summary.aborted;
    total.recovered += summary.recovered;
    total.executions += summary.executions;
    for (const auto& [reason, n] : summary.aborted_by_reason) total.aborted_by_reason[reason] += n;
  });
  std::cout << "committed " << total.committed << ", partial " << total.committed_partial << ", aborted "
            << total.aborted << ", recovered " << total.recovered << ", device executions " << total.executions
            << "\n";
  for (const auto& [reason, n] : total.aborted_by_reason) std::cout << "  aborted " << reason << ": " << n << "\n";
  // The scenario must really exercise every path, or the checks above prove little.
  EXPECT_GT(total.committed, 50u);
  EXPECT_GT(total.recovered, 0u);
  EXPECT_GT(total.aborted_by_reason["sensing"], 0u);
  EXPECT_GT(total.aborted_by_reason["actuating"] + total.aborted_by_reason["timeout"], 0u);
  EXPECT_GT(total.aborted_by_reason["recovery"], 0u);
}

TEST(TransactuationSim, FaultFreeRunsCommitEverythingThatCanCommit) {
  homestead::testing::for_each_seed(15, [&](std::uint64_t seed) {
    CheckSummary summary;
    Scenario scenario;
    scenario.device_faults = false;
    scenario.gateway_crashes = false;
    const auto violations = run_scenario(seed, scenario, summary);
    if (!violations.empty()) expect_no_violations(violations);
    // Without faults the only aborts are sensing (an empty window) and lock-wait conflicts.
    EXPECT_EQ(summary.aborted_by_reason["actuating"], 0u) << "seed " << seed;
    EXPECT_EQ(summary.aborted_by_reason["timeout"], 0u) << "seed " << seed;
    EXPECT_EQ(summary.aborted_by_reason["recovery"], 0u) << "seed " << seed;
    EXPECT_EQ(summary.committed_partial, 0u) << "seed " << seed;
    EXPECT_GT(summary.committed, 0u) << "seed " << seed;
  });
}

// Issue 5, compaction: the gateway checkpoints and drops old records every 20 ticks while
// devices fail and the gateway crashes (a crash can land between any two durable steps of
// a compaction, which syncs after the checkpoint and after every dropped record).
TEST(TransactuationSim, CompactionUnderFaultsAndCrashesKeepsGuaranteesAndState) {
  std::uint64_t reclaimed_runs = 0;
  homestead::testing::for_each_seed(15, [&](std::uint64_t seed) {
    CheckSummary summary;
    Scenario scenario;
    scenario.compact_every_ticks = 20;
    const auto violations = run_scenario(seed, scenario, summary);
    if (!violations.empty()) expect_no_violations(violations);
    EXPECT_GT(summary.committed, 0u) << "seed " << seed;
    ++reclaimed_runs;
  });
  EXPECT_GT(reclaimed_runs, 0u);
}

// Kill -9 at every point of one compaction: after each of its durable steps, a fresh runtime
// recovering from the disk as it is then must rebuild the same state, open transactuations
// and per-device seqs as from the log before compaction.
TEST(TransactuationSim, CrashAtEveryStepOfACompactionRecoversTheSameState) {
  homestead::testing::for_each_seed(10, [&](std::uint64_t seed) {
    std::vector<LogRecord> log;
    {
      // A log made by the real runtime: transactuations commit or abort, the last stays open.
      Runtime runtime;
      for (const std::string device : {"d0", "d1"}) {
        runtime.install(AppBuilder("set_" + device).actuates({device}).writes_state({"k_" + device})
                            .logic([device](const LogicInput& in) {
                              LogicResult result;
                              result.actuations.push_back(Actuation{device, "on"});
                              result.state_writes["k_" + device] = static_cast<std::int64_t>(in.txn);
                              return result;
                            }).build());
      }
      sim::Rng rng(seed);
      Time now = kSecond;
      auto collect = [&](Ready ready) {
        ready.serialise_outcomes();
        log.insert(log.end(), ready.records.begin(), ready.records.end());
        return ready.commands;
      };
      for (int i = 0; i < 12; ++i) {
        runtime.trigger(rng.uniform(0, 1) == 0 ? "set_d0" : "set_d1", Json::object(), now += kMillisecond);
        auto commands = collect(runtime.take_ready());
        // The last one stays open (its ack never comes): compaction must keep its records.
        while (i < 11 && !commands.empty()) {
          const Command c = commands.front();
          commands.erase(commands.begin());
          runtime.on_ack(Ack{c.device, c.cmd_id, rng.uniform(0, 3) != 0, "jammed"}, now += kMillisecond);
          for (auto& more : collect(runtime.take_ready())) commands.push_back(more);
        }
      }
      const LogRecord checkpoint = runtime.checkpoint();
      std::set<TxnId> open;
      for (const auto& id : checkpoint.body.at("open")) open.insert(id.get<TxnId>());
      ASSERT_EQ(open.size(), 1u);
      sim::Disk disk;
      DiskIntentLog disk_log([&disk]() -> sim::Disk& { return disk; });
      disk_log.append(log);
      disk.sync();
      Runtime reference;
      reference.recover(DiskIntentLog::load_from(disk), now);
      const auto expected_state = reference.state();
      EXPECT_EQ(Json(expected_state), Json(runtime.state()));
      const auto expected_seq = reference.checkpoint().body.at("last_seq");
      ASSERT_EQ(reference.active(), 1u);
      int steps = 0;
      disk_log.after_step = [&] {
        ++steps;
        sim::Disk after_crash = disk;
        after_crash.lose_unsynced();
        Runtime recovered;
        recovered.recover(DiskIntentLog::load_from(after_crash), now);
        EXPECT_EQ(Json(recovered.state()), Json(expected_state)) << "seed " << seed << " step " << steps;
        EXPECT_EQ(recovered.active(), 1u) << "seed " << seed << " step " << steps;
        EXPECT_EQ(recovered.checkpoint().body.at("last_seq"), expected_seq) << "seed " << seed << " step " << steps;
      };
      const auto reclaimed = disk_log.compact(checkpoint, open);
      EXPECT_GT(reclaimed, 0u);
      EXPECT_GT(steps, 10);
      EXPECT_LT(DiskIntentLog::load_from(disk).size(), log.size());
      // Stronger than the drop order above: ANY subset of the droppable records may survive
      // (e.g. an outcome dropped while its intent stays) and recovery still agrees.
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<LogRecord> survivors;
        for (const auto& record : log) {
          if (!droppable_before_checkpoint(record, open) || rng.uniform(0, 1) == 0) survivors.push_back(record);
        }
        survivors.push_back(checkpoint);
        Runtime recovered;
        recovered.recover(survivors, now);
        EXPECT_EQ(Json(recovered.state()), Json(expected_state)) << "seed " << seed << " subset " << trial;
        EXPECT_EQ(recovered.active(), 1u) << "seed " << seed << " subset " << trial;
        EXPECT_EQ(recovered.checkpoint().body.at("last_seq"), expected_seq) << "seed " << seed << " subset " << trial;
      }
    }
  });
}

}  // namespace
}  // namespace homestead::transactuation::simhome
