// Unit tests of the pure runtime core, driven by hand with an explicit clock: each policy
// path, the order of records and commands in a Ready, locking, and recovery.
#include <gtest/gtest.h>

#include "transactuation/runtime.h"

namespace homestead::transactuation {
namespace {

constexpr Time kStart = 1000 * kSecond;

// Collects what the runtime produced, in order.
struct Outbox {
  std::vector<LogRecord> records;
  std::vector<Command> commands;
  std::vector<StatusQuery> queries;
  std::vector<TransactuationRecord> finished;
  int syncs = 0;
  std::size_t durable = 0;  // records[0, durable) were synced
  // Fails the test if a command leaves before a synced intent announced it.
  void take(Runtime& runtime) {
    Ready ready = runtime.take_ready();
    ready.serialise_outcomes();
    for (auto& record : ready.records) {
      EXPECT_FALSE(record.text.empty()) << "a record of txn " << record.txn << " left unserialised";
      record.body = Json::parse(record.text);
    }
    records.insert(records.end(), ready.records.begin(), ready.records.end());
    if (ready.sync) {
      ++syncs;
      durable = records.size();
    }
    for (const auto& command : ready.commands) {
      bool announced = false;
      for (std::size_t i = 0; i < durable; ++i) {
        const LogRecord& record = records[i];
        if (record.kind == LogKind::outcome) continue;
        for (const char* list : {"actuations", "compensations"}) {
          for (const auto& run : record.body.at(list)) announced = announced || run.at("cmd_id") == command.cmd_id;
        }
      }
      EXPECT_TRUE(announced) << "command " << command.cmd_id << " not announced by a synced record";
    }
    commands.insert(commands.end(), ready.commands.begin(), ready.commands.end());
    queries.insert(queries.end(), ready.queries.begin(), ready.queries.end());
    finished.insert(finished.end(), ready.finished.begin(), ready.finished.end());
  }
};

Reading reading(const std::string& device, Json value, Time at) { return Reading{device, "v", std::move(value), at, at}; }

AppBuilder two_lights(const std::string& name) {
  return AppBuilder(name)
      .actuates({"lamp1", "lamp2"})
      .writes_state({"lightsOn", "lamp1Claim"})
      .logic([](const LogicInput&) {
        LogicResult result;
        result.actuations.push_back(Actuation{"lamp1", "on", Json::object(), Compensation{"off"}, {{"lamp1Claim", true}}});
        result.actuations.push_back(Actuation{"lamp2", "on", Json::object(), Compensation{"off"}, {}});
        result.state_writes["lightsOn"] = true;
        return result;
      })
      .actuation_timeout(1 * kSecond, 1);
}

TEST(Runtime, SensingPolicyNotMetAbortsWithSensingAndSendsNothing) {
  Runtime runtime;
  bool logic_ran = false;
  runtime.install(AppBuilder("a").sense({{"temp", "v"}}).fresh_within(5 * kSecond).wait_for_sensing(2 * kSecond)
                      .actuates({"fan"}).logic([&](const LogicInput&) {
                        logic_ran = true;
                        return LogicResult{{Actuation{"fan", "on"}}, {}, ""};
                      }).build());
  Outbox out;
  runtime.on_reading(reading("temp", 21, kStart - 10 * kSecond), kStart);  // already stale
  runtime.trigger("a", {}, kStart);
  out.take(runtime);
  EXPECT_TRUE(out.finished.empty());  // waiting for a fresh reading
  ASSERT_EQ(runtime.next_deadline(), kStart + 2 * kSecond);
  runtime.tick(kStart + 2 * kSecond);
  out.take(runtime);
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].status, Status::aborted);
  EXPECT_EQ(out.finished[0].reason, Reason::sensing);
  EXPECT_EQ(out.finished[0].detail, "sensing policy ALL not met: temp.v: stale (age 12000 ms > 5000 ms)");
  EXPECT_FALSE(logic_ran);
  EXPECT_TRUE(out.commands.empty());
  EXPECT_EQ(out.syncs, 0);
}

TEST(Runtime, FreshReadingWithinTheWaitLetsLogicRunOnOnlyFreshValues) {
  Runtime runtime;
  std::map<SensorRef, Reading> seen;
  runtime.install(AppBuilder("a").sense({{"t1", "v"}, {"t2", "v"}}).fresh_within(5 * kSecond).require(Quorum::any())
                      .wait_for_sensing(2 * kSecond).actuates({"fan"}).logic([&](const LogicInput& in) {
                        seen = in.readings;
                        return LogicResult{{Actuation{"fan", "on"}}, {}, ""};
                      }).build());
  Outbox out;
  runtime.on_reading(reading("t2", 30, kStart - 60 * kSecond), kStart);
  runtime.trigger("a", {}, kStart);
  runtime.on_reading(reading("t1", 25, kStart + kSecond), kStart + kSecond);
  out.take(runtime);
  ASSERT_EQ(seen.size(), 1u);  // t2 is stale and hidden from the logic
  EXPECT_EQ(seen.begin()->second.value, 25);
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].kind, LogKind::intent);
  ASSERT_EQ(out.commands.size(), 1u);
  EXPECT_EQ(out.commands[0].device, "fan");
  EXPECT_EQ(out.commands[0].seq, 1u);
}

TEST(Runtime, AllPolicyWritesStateOnlyAfterEveryAck) {
  Runtime runtime;
  runtime.install(two_lights("lights").build());
  Outbox out;
  runtime.trigger("lights", {}, kStart);
  out.take(runtime);
  ASSERT_EQ(out.commands.size(), 2u);
  runtime.on_ack(Ack{"lamp1", out.commands[0].cmd_id, true, ""}, kStart + 10);
  out.take(runtime);
  EXPECT_TRUE(runtime.state().empty());  // not before the policy holds
  runtime.on_ack(Ack{"lamp2", out.commands[1].cmd_id, true, ""}, kStart + 20);
  out.take(runtime);
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].status, Status::committed);
  EXPECT_EQ(runtime.state().at("lightsOn"), true);
  EXPECT_EQ(runtime.state().at("lamp1Claim"), true);
  EXPECT_EQ(out.records.back().kind, LogKind::outcome);
}

TEST(Runtime, RetriesWithTheSameCmdIdThenAbortsAndCompensates) {
  Runtime runtime;
  runtime.install(two_lights("lights").build());
  Outbox out;
  runtime.trigger("lights", {}, kStart);
  out.take(runtime);
  const std::string lamp1 = out.commands[0].cmd_id, lamp2 = out.commands[1].cmd_id;
  runtime.on_ack(Ack{"lamp1", lamp1, true, ""}, kStart + 10);
  runtime.tick(kStart + kSecond);  // lamp2 timed out once: retry
  out.take(runtime);
  ASSERT_EQ(out.commands.size(), 3u);
  EXPECT_EQ(out.commands[2].cmd_id, lamp2);
  EXPECT_EQ(out.commands[2].seq, out.commands[1].seq);
  runtime.tick(kStart + 2 * kSecond);  // and again: retries exhausted
  out.take(runtime);
  ASSERT_EQ(out.commands.size(), 4u);
  EXPECT_EQ(out.commands[3].device, "lamp1");
  EXPECT_EQ(out.commands[3].command, "off");  // compensation for the one that succeeded
  EXPECT_NE(out.commands[3].cmd_id, lamp1);
  EXPECT_GT(out.commands[3].seq, out.commands[0].seq);
  EXPECT_EQ(out.records[1].kind, LogKind::compensate);
  EXPECT_TRUE(out.finished.empty());  // waits for the compensation
  runtime.on_ack(Ack{"lamp1", out.commands[3].cmd_id, true, ""}, kStart + 2 * kSecond + 5);
  out.take(runtime);
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].status, Status::aborted);
  EXPECT_EQ(out.finished[0].reason, Reason::timeout);
  EXPECT_TRUE(runtime.state().empty());  // no claim of lamp1 or lightsOn
  EXPECT_EQ(out.finished[0].actuations[1].attempts, 2);
}

TEST(Runtime, CommitPartialWritesOnlyClaimsOfAckedActuations) {
  Runtime runtime;
  runtime.install(two_lights("lights").on_failure(OnFailure::commit_partial).build());
  Outbox out;
  runtime.trigger("lights", {}, kStart);
  out.take(runtime);
  runtime.on_ack(Ack{"lamp1", out.commands[0].cmd_id, false, "jammed"}, kStart + 10);
  runtime.on_ack(Ack{"lamp2", out.commands[1].cmd_id, true, ""}, kStart + 10);
  out.take(runtime);
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].status, Status::committed_partial);
  EXPECT_EQ(out.finished[0].reason, Reason::actuating);
  EXPECT_EQ(runtime.state().at("lightsOn"), true);
  EXPECT_EQ(runtime.state().count("lamp1Claim"), 0u);
  EXPECT_EQ(out.finished[0].detail, "lamp1/on: device: jammed");
}

TEST(Runtime, ConflictingTransactuationsSerializeAndNonConflictingOverlap) {
  Runtime runtime;
  runtime.install(two_lights("first").build());
  runtime.install(two_lights("second").lock_timeout(5 * kSecond).build());
  runtime.install(AppBuilder("other").actuates({"fan"}).logic([](const LogicInput&) {
    return LogicResult{{Actuation{"fan", "on"}}, {}, ""};
  }).build());
  Outbox out;
  runtime.trigger("first", {}, kStart);
  runtime.trigger("second", {}, kStart);
  runtime.trigger("other", {}, kStart);
  out.take(runtime);
  ASSERT_EQ(out.commands.size(), 3u);  // first's two and other's; second waits for the lamps
  EXPECT_EQ(out.commands[2].device, "fan");
  for (int i = 0; i < 2; ++i) runtime.on_ack(Ack{out.commands[i].device, out.commands[i].cmd_id, true, ""}, kStart + 5);
  out.take(runtime);
  ASSERT_EQ(out.commands.size(), 5u);
  EXPECT_EQ(out.commands[3].txn, out.commands[0].txn + 1);
  EXPECT_GT(out.commands[3].seq, out.commands[0].seq);  // per-device order follows the serial order
}

TEST(Runtime, LockWaitTimeoutAbortsWithConflict) {
  Runtime runtime;
  runtime.install(two_lights("first").build());
  runtime.install(two_lights("second").lock_timeout(500 * kMillisecond).build());
  Outbox out;
  runtime.trigger("first", {}, kStart);
  const TxnId second = runtime.trigger("second", {}, kStart);
  runtime.tick(kStart + 500 * kMillisecond);
  out.take(runtime);
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].id, second);
  EXPECT_EQ(out.finished[0].reason, Reason::conflict);
  EXPECT_EQ(out.finished[0].detail, "lock wait timed out behind transactuation(s) 1");
}

TEST(Runtime, SequentialStopsAfterAFailedStep) {
  Runtime runtime;
  runtime.install(AppBuilder("cool").actuates({"window", "hvac"}).sequential().logic([](const LogicInput&) {
    return LogicResult{{Actuation{"window", "close"}, Actuation{"hvac", "cool"}}, {}, ""};
  }).build());
  Outbox out;
  runtime.trigger("cool", {}, kStart);
  out.take(runtime);
  ASSERT_EQ(out.commands.size(), 1u);  // hvac waits for the window
  runtime.on_ack(Ack{"window", out.commands[0].cmd_id, false, "obstructed"}, kStart + 5);
  out.take(runtime);
  ASSERT_EQ(out.commands.size(), 1u);
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].actuations[1].state, ActuationState::skipped);
  EXPECT_EQ(out.finished[0].reason, Reason::actuating);
}

TEST(Runtime, LogicTouchingUndeclaredDeviceAbortsBeforeSending) {
  Runtime runtime;
  runtime.install(AppBuilder("sneaky").actuates({"fan"}).logic([](const LogicInput&) {
    return LogicResult{{Actuation{"front-door", "unlock"}}, {}, ""};
  }).build());
  Outbox out;
  runtime.trigger("sneaky", {}, kStart);
  out.take(runtime);
  EXPECT_TRUE(out.commands.empty());
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].reason, Reason::logic);
  EXPECT_EQ(out.finished[0].detail, "commands undeclared device \"front-door\"");
}

TEST(Runtime, OutsideTimeWindowAbortsWithSensing) {
  Runtime runtime;
  runtime.install(AppBuilder("night").during(TimeWindow{22 * 3600, 6 * 3600}).actuates({"lock"}).logic([](const LogicInput&) {
    return LogicResult{{Actuation{"lock", "lock"}}, {}, ""};
  }).build());
  Outbox out;
  runtime.trigger("night", {}, 12 * 3600 * kSecond);
  runtime.trigger("night", {}, 23 * 3600 * kSecond);
  out.take(runtime);
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].reason, Reason::sensing);
  EXPECT_EQ(out.finished[0].detail, "outside the time window 22:00-06:00");
  EXPECT_EQ(out.commands.size(), 1u);
}

TEST(Runtime, SensorAndScheduleTriggersAndDisabledApps) {
  Runtime runtime;
  int runs = 0;
  auto logic = [&](const LogicInput&) {
    ++runs;
    return LogicResult::nothing();
  };
  runtime.install(AppBuilder("motion").on_sensor({"pir", "v"}, [](const Reading& r) { return r.value == true; })
                      .logic(logic).build());
  runtime.install(AppBuilder("periodic").every(10 * kSecond).logic(logic).build());
  runtime.on_reading(reading("pir", false, kStart), kStart);
  EXPECT_EQ(runs, 0);
  runtime.on_reading(reading("pir", true, kStart), kStart);
  EXPECT_EQ(runs, 1);
  runtime.tick(kStart);  // arms the schedule
  runtime.tick(kStart + 10 * kSecond);
  EXPECT_EQ(runs, 2);
  ASSERT_TRUE(runtime.set_enabled("motion", false));
  runtime.on_reading(reading("pir", true, kStart + 11 * kSecond), kStart + 11 * kSecond);
  EXPECT_EQ(runs, 2);
  EXPECT_THROW(runtime.trigger("motion", {}, kStart), AppError);
  EXPECT_THROW(runtime.install(AppBuilder("periodic").every(kSecond).logic(logic).build()), AppError);
}

TEST(Runtime, RecoveryQueriesStatusNeverResendsAndDecides) {
  Outbox before;
  {
    Runtime crashed;
    crashed.install(two_lights("lights").build());
    crashed.trigger("lights", {}, kStart);
    crashed.trigger("lights", {}, kStart);  // queued behind the first: never gets an intent
    before.take(crashed);
  }  // the gateway dies with both lamps commanded and no acks
  ASSERT_EQ(before.records.size(), 1u);
  Runtime recovered(RuntimeOptions{100, 0, kSecond, 1});
  recovered.install(two_lights("lights").build());
  Outbox out;
  recovered.recover(before.records, kStart + 5 * kSecond);
  out.take(recovered);
  EXPECT_TRUE(out.commands.empty());
  ASSERT_EQ(out.queries.size(), 2u);
  EXPECT_EQ(out.queries[0].cmd_id, before.commands[0].cmd_id);
  EXPECT_EQ(out.queries[1].seq, before.commands[1].seq);
  // A new transactuation on the same lamps waits for recovery.
  recovered.trigger("lights", {}, kStart + 5 * kSecond);
  out.take(recovered);
  EXPECT_TRUE(out.commands.empty());
  recovered.on_status(StatusReply{"lamp1", before.commands[0].cmd_id, CommandStatus::ok, ""}, kStart + 6 * kSecond);
  recovered.on_status(StatusReply{"lamp2", before.commands[1].cmd_id, CommandStatus::unknown, ""}, kStart + 6 * kSecond);
  out.take(recovered);
  EXPECT_TRUE(out.finished.empty());  // compensating first
  // lamp2 never acted, so ALL fails: abort for `recovery`, compensating lamp1 (new cmd_id).
  ASSERT_EQ(out.commands.size(), 1u);
  EXPECT_EQ(out.commands[0].device, "lamp1");
  EXPECT_EQ(out.commands[0].command, "off");
  EXPECT_GT(out.commands[0].seq, before.commands[0].seq);
  recovered.on_ack(Ack{"lamp1", out.commands[0].cmd_id, true, ""}, kStart + 7 * kSecond);
  out.take(recovered);
  ASSERT_GE(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].id, 1u);
  EXPECT_TRUE(out.finished[0].recovered);
  EXPECT_EQ(out.finished[0].status, Status::aborted);
  EXPECT_EQ(out.finished[0].reason, Reason::recovery);
  EXPECT_TRUE(recovered.state().empty());
  // Then the new one runs, with ids and seqs above everything in the log.
  ASSERT_EQ(out.commands.size(), 3u);
  EXPECT_EQ(out.commands[1].txn, 100u);
  EXPECT_GT(out.commands[2].seq, before.commands[1].seq);
}

TEST(Runtime, RecoveryCommitsWhenDevicesConfirm) {
  Outbox before;
  {
    Runtime crashed;
    crashed.install(two_lights("lights").build());
    crashed.trigger("lights", {}, kStart);
    before.take(crashed);
  }
  Runtime recovered;
  Outbox out;
  recovered.recover(before.records, kStart + kSecond);
  out.take(recovered);
  // One answer comes as a late ack of the original command, the other as a status reply.
  recovered.on_ack(Ack{"lamp1", before.commands[0].cmd_id, true, ""}, kStart + kSecond);
  recovered.on_status(StatusReply{"lamp2", before.commands[1].cmd_id, CommandStatus::ok, ""}, kStart + kSecond);
  out.take(recovered);
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].status, Status::committed);
  EXPECT_TRUE(out.finished[0].recovered);
  EXPECT_EQ(recovered.state().at("lightsOn"), true);
  EXPECT_TRUE(out.commands.empty());
}

TEST(Runtime, RecoveryReplaysCommittedStateAndRecordsRoundTrip) {
  Outbox before;
  {
    Runtime first;
    first.install(two_lights("lights").build());
    first.trigger("lights", {}, kStart);
    before.take(first);
    for (const auto& c : before.commands) first.on_ack(Ack{c.device, c.cmd_id, true, ""}, kStart + 1);
    before.take(first);
  }
  std::vector<LogRecord> decoded;
  for (const auto& record : before.records) decoded.push_back(decode_log_record(encode_log_record(record)));
  EXPECT_EQ(to_json(record_from_json(decoded.back().body)), decoded.back().body);
  Runtime second;
  Outbox out;
  second.recover(decoded, kStart + kSecond);
  out.take(second);
  EXPECT_TRUE(out.queries.empty());
  EXPECT_EQ(second.state().at("lightsOn"), true);
  EXPECT_EQ(second.next_txn_id(), 2u);
}

}  // namespace
}  // namespace homestead::transactuation
