// The SQLite intent log with real files: durability only at sync(), WAL mode, the boot
// epoch, and a kill -9 of a process running transactuations: every command that left had a
// durable intent, and recovery over the real database finishes every open transactuation
// without sending any command again.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/process.h"
#include "transactuation/driver.h"
#include "transactuation/sqlite_intent_log.h"

namespace homestead::transactuation {
namespace {

using namespace std::chrono_literals;

// Counts rows through a second connection: what another process (or a restart) would see.
int committed_rows(const std::filesystem::path& db) {
  sqlite3* other = nullptr;
  EXPECT_EQ(sqlite3_open(db.c_str(), &other), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int rows = -1;
  if (sqlite3_prepare_v2(other, "SELECT count(*) FROM transactuation_log", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    rows = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(other);
  return rows;
}

std::string journal_mode(const std::filesystem::path& db) {
  sqlite3* other = nullptr;
  sqlite3_open(db.c_str(), &other);
  sqlite3_stmt* stmt = nullptr;
  std::string mode;
  if (sqlite3_prepare_v2(other, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(other);
  return mode;
}

LogRecord sample(TxnId id, LogKind kind) {
  TransactuationRecord record;
  record.id = id;
  record.app = "app";
  ActuationRun run;
  run.actuation = Actuation{"lamp", "on"};
  run.cmd_id = std::to_string(id) + ".0";
  run.seq = id;
  record.actuations.push_back(run);
  return LogRecord{kind, id, to_json(record)};
}

// Compaction: the checkpoint and the DELETE commit together; records of the open
// transactuation stay, everything else before the checkpoint goes, and a reopened log
// recovers the same state.
TEST(SqliteIntentLog, CompactionKeepsOpenTransactuationsAndRecoversTheSameState) {
  homestead::testing::TempDir dir("txlog");
  const auto db = dir / "gateway.db";
  Runtime runtime;
  runtime.install(AppBuilder("set").actuates({"lamp"}).writes_state({"k"}).logic([](const LogicInput& in) {
    LogicResult result;
    result.actuations.push_back(Actuation{"lamp", "on"});
    result.state_writes["k"] = static_cast<std::int64_t>(in.txn);
    return result;
  }).build());
  std::uint64_t reclaimed = 0;
  std::map<std::string, Json> expected;
  {
    SqliteIntentLog log(db);
    struct NoBus : DeviceBus {
      std::vector<Command> sent;
      void send(const Command& c) override { sent.push_back(c); }
      void query(const StatusQuery&) override {}
    } bus;
    Driver driver(runtime, log, bus, kMillisecond);
    Time now = kSecond;
    for (int i = 0; i < 20; ++i) {
      runtime.trigger("set", Json::object(), now += kMillisecond);
      driver.pump(now);
      if (i == 19) break;  // the last one stays open
      runtime.on_ack(Ack{"lamp", bus.sent.back().cmd_id, true, ""}, now += kMillisecond);
      driver.pump(now);
    }
    EXPECT_EQ(committed_rows(db), 39);  // 19 x (intent, outcome) + the open intent
    reclaimed = driver.compact(now);
    EXPECT_EQ(committed_rows(db), 2);  // the open intent + the checkpoint
    EXPECT_EQ(driver.stats().bytes_reclaimed, reclaimed);
    expected = runtime.state();
  }
  EXPECT_GT(reclaimed, 19u * 100u);
  SqliteIntentLog reopened(db);
  const auto records = reopened.load();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].kind, LogKind::intent);
  EXPECT_EQ(records[1].kind, LogKind::checkpoint);
  Runtime recovered;
  recovered.recover(records, 10 * kSecond);
  EXPECT_EQ(Json(recovered.state()), Json(expected));
  EXPECT_EQ(recovered.state().at("k"), Json(static_cast<std::int64_t>(runtime.next_txn_id() - 2)));
  EXPECT_EQ(recovered.active(), 1u);
}

TEST(SqliteIntentLog, RecordsBecomeVisibleOnlyAtSyncAndSurviveReopen) {
  homestead::testing::TempDir dir("txlog");
  const auto db = dir / "gateway.db";
  {
    SqliteIntentLog log(db);
    EXPECT_EQ(log.epoch(), 1u);
    EXPECT_EQ(journal_mode(db), "wal");
    log.append({sample(1, LogKind::intent), sample(1, LogKind::outcome)});
    EXPECT_EQ(committed_rows(db), 0);  // appended, not durable
    log.sync();
    EXPECT_EQ(committed_rows(db), 2);
    log.append({sample(2, LogKind::intent)});
    EXPECT_EQ(committed_rows(db), 2);
  }  // clean close syncs
  SqliteIntentLog reopened(db);
  EXPECT_EQ(reopened.epoch(), 2u);
  const auto records = reopened.load();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].kind, LogKind::intent);
  EXPECT_EQ(records[1].kind, LogKind::outcome);
  EXPECT_EQ(records[2].txn, 2u);
  EXPECT_EQ(records[2].body, sample(2, LogKind::intent).body);
}

TEST(SqliteIntentLog, PreparedTransactionCommitsOnlyWhatWasAppendedAndBlocksNoReader) {
  homestead::testing::TempDir dir("txprep");
  const auto db = dir / "gateway.db";
  SqliteIntentLog log(db);
  log.prepare_append();  // the write lock is held from here on, nothing appended yet
  log.sync();
  EXPECT_EQ(log.syncs(), 0u);  // nothing to make durable: no COMMIT, no fsync
  EXPECT_EQ(committed_rows(db), 0);  // a second connection still reads
  LogRecord intent = sample(1, LogKind::intent);
  intent.text = intent.body.dump();  // as the runtime hands it out: serialised, no body
  intent.body = Json();
  log.append({intent});
  EXPECT_EQ(committed_rows(db), 0);
  log.sync();
  EXPECT_EQ(log.syncs(), 1u);
  EXPECT_EQ(committed_rows(db), 1);
  log.prepare_append();
  log.prepare_append();  // idempotent
  log.append({sample(2, LogKind::outcome)});
  log.sync();
  EXPECT_EQ(committed_rows(db), 2);
  const auto records = log.load();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].body, sample(1, LogKind::intent).body);
  EXPECT_EQ(records[1].kind, LogKind::outcome);
}

TEST(SqliteIntentLog, BadFileGivesAClearError) {
  homestead::testing::TempDir dir("txlog");
  try {
    SqliteIntentLog log(dir / "missing-dir" / "gateway.db");
    FAIL() << "opened a database in a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing-dir/gateway.db: cannot open"), std::string::npos) << e.what();
  }
}

struct SentLog {
  std::map<std::string, std::pair<std::string, std::uint64_t>> sent;  // cmd_id -> device, seq
  std::set<std::string> executed;
  std::size_t lines = 0;
};

SentLog read_sent(const std::filesystem::path& path) {
  SentLog out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a last line without newline was cut by the kill
    ++out.lines;
    std::istringstream fields(line);
    std::string kind, cmd_id, device;
    std::uint64_t seq = 0;
    fields >> kind >> cmd_id;
    if (kind == "cmd") {
      fields >> device >> seq;
      out.sent[cmd_id] = {device, seq};
    } else if (kind == "exec") {
      out.executed.insert(cmd_id);
    }
  }
  return out;
}

class NoSendBus : public DeviceBus {
 public:
  void send(const Command& command) override { commands.push_back(command); }
  void query(const StatusQuery& query) override { queries.push_back(query); }
  std::vector<Command> commands;
  std::vector<StatusQuery> queries;
};

TEST(SqliteIntentLog, Kill9MidRunThenRecoveryNeverActuatesTwice) {
  homestead::testing::TempDir dir("txcrash");
  const auto db = dir / "gateway.db";
  const auto sent_path = dir / "sent.log";
  for (int round = 0; round < 3; ++round) {
    homestead::testing::ChildProcess writer(homestead::testing::ProcessOptions{
        homestead::testing::build_path("tests/transactuation/transactuation_crash_writer").string(),
        {"--db", db.string(), "--sent", sent_path.string()},
        {},
        dir / ("writer" + std::to_string(round) + ".log"),
        {}});
    const std::size_t before = read_sent(sent_path).lines;
    ASSERT_TRUE(homestead::testing::wait_until([&] { return read_sent(sent_path).lines >= before + 150; }, 30s, 20ms))
        << writer.log_tail();
    writer.kill9();  // mid-run: commands in flight, records not yet synced
  }
  const SentLog sent = read_sent(sent_path);
  ASSERT_GT(sent.sent.size(), 200u);

  SqliteIntentLog log(db);
  const auto records = log.load();
  // Guarantee 5: every command that left was announced by a durable record, same device and seq.
  std::map<std::string, std::pair<std::string, std::uint64_t>> announced;
  for (const auto& record : records) {
    if (record.kind == LogKind::outcome) continue;
    for (const char* list : {"actuations", "compensations"}) {
      for (const auto& run : record.body.at(list)) {
        announced[run.at("cmd_id").get<std::string>()] = {run.at("device").get<std::string>(), run.at("seq").get<std::uint64_t>()};
      }
    }
  }
  for (const auto& [cmd_id, where] : sent.sent) {
    auto it = announced.find(cmd_id);
    ASSERT_NE(it, announced.end()) << cmd_id << " was sent without a durable intent";
    EXPECT_EQ(it->second, where) << cmd_id;
  }

  // Recovery over the real database; the devices answer from what they really executed.
  Runtime runtime(RuntimeOptions{(log.epoch() << 32) | 1, 0, kSecond, 2});
  NoSendBus bus;
  std::size_t recovered = 0;
  Driver driver(runtime, log, bus, kMillisecond, [&](const TransactuationRecord& r) {
    EXPECT_TRUE(r.recovered);
    EXPECT_NE(r.status, Status::committed_partial);
    if (r.status == Status::committed) {
      for (const auto& run : r.actuations) EXPECT_TRUE(sent.executed.count(run.cmd_id)) << run.cmd_id;
    }
    ++recovered;
  });
  driver.recover(1);
  for (const auto& query : bus.queries) {
    const bool done = sent.executed.count(query.cmd_id) > 0;
    runtime.on_status(StatusReply{query.device, query.cmd_id, done ? CommandStatus::ok : CommandStatus::unknown, ""}, 2);
    driver.pump(2);
  }
  EXPECT_GT(bus.queries.size(), 0u);
  EXPECT_TRUE(bus.commands.empty()) << "recovery sent " << bus.commands.front().cmd_id;  // no compensations declared
  EXPECT_EQ(runtime.active(), 0u);
  EXPECT_GT(recovered, 0u);
  log.sync();
  // Every durable intent now has a durable outcome.
  std::set<TxnId> open;
  for (const auto& record : log.load()) {
    if (record.kind == LogKind::intent) open.insert(record.txn);
    if (record.kind == LogKind::outcome) open.erase(record.txn);
  }
  EXPECT_TRUE(open.empty()) << open.size() << " transactuations left open";
}

}  // namespace
}  // namespace homestead::transactuation
