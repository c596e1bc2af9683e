// The SQLite store against real files: migrations, registry, batched readings, retention,
// command log, tokens.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "gateway/store.h"
#include "tests/support/process.h"

namespace hg = homestead::gateway;
using homestead::testing::TempDir;
using namespace std::chrono_literals;

TEST(Store, MigratesAndReopens) {
  TempDir dir("gwstore");
  {
    hg::Store s(dir / "g.db");
    EXPECT_EQ(s.schema_version(), 3);
    s.upsert_device({"lamp", "light", "Lamp", "hall", "lamp", "home_file", "", 1, 1});
  }
  hg::Store again(dir / "g.db");
  EXPECT_EQ(again.schema_version(), 3);
  ASSERT_TRUE(again.device("lamp"));
  EXPECT_EQ(again.device("lamp")->room, "hall");
  EXPECT_EQ(again.integrity_check(), "ok");
}

TEST(Store, ReadingsQueryAndRetention) {
  TempDir dir("gwstore");
  hg::Store s(dir / "g.db");
  std::vector<hg::Reading> batch;
  for (int i = 0; i < 100; ++i) batch.push_back({i % 2 ? "a" : "b", 1000 + i, i, static_cast<std::uint64_t>(i), "{}"});
  s.insert_readings(batch);
  EXPECT_EQ(s.reading_count(), 100);
  auto newest = s.readings({"a", 0, INT64_MAX, 3});
  ASSERT_EQ(newest.size(), 3u);
  EXPECT_EQ(newest[0].seq, 99u);
  EXPECT_EQ(newest[2].seq, 95u);
  auto window = s.readings({"b", 1010, 1019, 100});
  EXPECT_EQ(window.size(), 5u);  // 1010, 1012, ..., 1018
  // By age: drop received_ms < 1050 (50 rows); by size: keep the newest 30.
  EXPECT_EQ(s.apply_retention(1050, 30), 70);
  EXPECT_EQ(s.reading_count(), 30);
  EXPECT_EQ(s.readings({"a", 0, INT64_MAX, 1})[0].seq, 99u);
}

TEST(Store, CommandLogAndTokens) {
  TempDir dir("gwstore");
  hg::Store s(dir / "g.db");
  hg::CommandRecord c;
  c.id = "c1";
  c.device = "lamp";
  c.command = "set_brightness";
  c.args = {{"brightness", 9}};
  c.expires_ms = 99;
  s.put_command(c);
  EXPECT_EQ(s.open_commands().size(), 1u);
  c.status = hg::CommandStatus::failed;
  c.reason = "jammed";
  s.put_command(c);
  EXPECT_TRUE(s.open_commands().empty());
  auto back = s.command("c1");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, hg::CommandStatus::failed);
  EXPECT_EQ(back->reason, "jammed");
  EXPECT_EQ(back->args["brightness"], 9);
  s.put_token({"admin", "abc", hg::Scope::admin, 5});
  ASSERT_EQ(s.tokens().size(), 1u);
  EXPECT_EQ(s.tokens()[0].scope, hg::Scope::admin);
  s.put_app_state("lights", "mode", "night", 1);
  EXPECT_EQ(s.app_state("lights", "mode"), "night");
}

TEST(Store, FencingTokensOfSharedDeviceCommands) {
  TempDir dir("gwstore");
  hg::Store s(dir / "g.db");
  hg::CommandRecord c;
  c.id = "c2";
  c.device = "living_light";
  c.command = "set_brightness";
  c.fencing_token = 42;
  s.put_command(c);
  EXPECT_EQ(s.command("c2")->fencing_token, 42u);
  EXPECT_FALSE(s.fenced_actuation("7.1"));
  s.put_fenced_actuation("7.1", "living_light", 43, 1000);
  EXPECT_EQ(s.fenced_actuation("7.1"), std::optional<std::uint64_t>(43));
}

TEST(Store, MigratesAVersionOneCommandLog) {
  TempDir dir("gwstore");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "g.db").c_str(), &db), SQLITE_OK);
  // The version-1 command log as shipped, with one row.
  const char* v1 = R"sql(
CREATE TABLE commands(
  id TEXT PRIMARY KEY, device TEXT NOT NULL, command TEXT NOT NULL, args TEXT NOT NULL,
  status TEXT NOT NULL, reason TEXT NOT NULL, origin TEXT NOT NULL,
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
  sent_ms INTEGER NOT NULL, acked_ms INTEGER NOT NULL);
INSERT INTO commands VALUES('c1','lamp','turn_on','{}','acked','','api',1,2,3,4,5);
PRAGMA user_version=1;)sql";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  hg::Store s(dir / "g.db");
  EXPECT_EQ(s.schema_version(), 3);
  const auto c = s.command("c1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, hg::CommandStatus::acked);
  EXPECT_EQ(c->acked_ms, 5);
  EXPECT_EQ(c->fencing_token, 0u);
}

namespace {

hg::CommandRecord numbered_command(int i) {
  hg::CommandRecord c;
  c.id = "c" + std::to_string(i);
  c.device = "lamp";
  c.command = "turn_on";
  c.expires_ms = 1000 + i;
  return c;
}

std::uintmax_t wal_size(const std::filesystem::path& db) { return std::filesystem::file_size(db.string() + "-wal"); }

constexpr std::uintmax_t kPreallocatedWalBytes = 32 + hg::Store::kPreallocatedWalFrames * (24 + 4096);

}  // namespace

TEST(Store, PreallocatesTheWalWithoutLosingTheFramesOfACrashedRun) {
  TempDir dir("gwstore");
  TempDir crashed("gwstore-crash");
  {
    hg::Store s(dir / "g.db");
    EXPECT_EQ(wal_size(dir / "g.db"), kPreallocatedWalBytes);
    for (int i = 0; i < 50; ++i) s.put_command(numbered_command(i));
    // What a kill -9 now leaves on disk (every commit was fsynced): the database file and a
    // WAL whose frames are not checkpointed yet.
    for (const auto* name : {"g.db", "g.db-wal"}) std::filesystem::copy_file(dir / name, crashed / name);
  }
  hg::Store recovered(crashed / "g.db");
  EXPECT_EQ(recovered.integrity_check(), "ok");
  for (int i = 0; i < 50; ++i) {
    const auto c = recovered.command("c" + std::to_string(i));
    ASSERT_TRUE(c) << "command c" << i << " lost";
    EXPECT_EQ(c->expires_ms, 1000 + i);
  }
  EXPECT_GE(wal_size(crashed / "g.db"), kPreallocatedWalBytes);
}

TEST(Store, TheWalStartsOverUnderASteadyStreamOfCommits) {
  // Passive checkpoints alone never catch up while commits keep landing inside them, and
  // the WAL then grows without end (every commit an append). checkpoint_when_due() finishes
  // with commits held back, so the next commit starts the WAL over within its preallocation.
  TempDir dir("gwstore");
  hg::Store s(dir / "g.db");
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      s.put_command(numbered_command(i));
      committed = i + 1;
    }
  });
  for (int cycle = 0; cycle < 3; ++cycle) {
    ASSERT_TRUE(homestead::testing::wait_until([&] { return s.wal_frames() >= hg::Store::kCheckpointFrames; }, 60s))
        << "cycle " << cycle << ": the WAL never reached the checkpoint threshold";
    EXPECT_EQ(s.checkpoint_when_due(), 0) << "cycle " << cycle;
    // The next commit starts the WAL over.
    const int before = committed;
    ASSERT_TRUE(homestead::testing::wait_until([&] { return committed > before + 1; }, 30s));
    EXPECT_LT(s.wal_frames(), hg::Store::kCheckpointFrames) << "cycle " << cycle << ": the WAL did not start over";
  }
  stop = true;
  writer.join();
  EXPECT_EQ(wal_size(dir / "g.db"), kPreallocatedWalBytes) << "the WAL grew past its preallocation";
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST(Store, ACommandsCommitWritesOnePage) {
  // A command's two commits (logged before it is published, final before it is reported)
  // sit on a REST command's round trip; each writes one WAL frame since schema version 3.
  TempDir dir("gwstore");
  hg::Store s(dir / "g.db");
  for (int i = 0; i < 200; ++i) s.put_command(numbered_command(i));  // a few leaf pages deep
  auto c = numbered_command(7);
  const int before = s.wal_frames();
  c.status = hg::CommandStatus::sent;
  s.put_command(c);
  EXPECT_EQ(s.wal_frames(), before + 1);
  c.status = hg::CommandStatus::acked;
  s.put_command(c);
  EXPECT_EQ(s.wal_frames(), before + 2);
  auto fresh = numbered_command(9999);
  s.put_command(fresh);
  EXPECT_EQ(s.wal_frames(), before + 3);
}
