// The sync outbox against real SQLite files (order, seq assignment without gaps, durability
// across reopen, the bounded policy, delete-through) and the pure sync rules (reported
// changes, the conflict detector, desired -> catalog commands).
#include <gtest/gtest.h>

#include "devices/catalog.h"
#include "gateway/outbox.h"
#include "gateway/store.h"
#include "gateway/sync_rules.h"
#include "tests/support/process.h"

namespace hg = homestead::gateway;
using homestead::testing::TempDir;
using nlohmann::json;

namespace {

hg::OutboxEntry reported(int n) { return {hg::kItemReported, 1000 + n, json{{"n", n}}.dump(), {}}; }
hg::OutboxEntry txn(int n) { return {hg::kItemTransactuation, 2000 + n, json{{"txn", n}}.dump(), "txn:" + std::to_string(n)}; }

std::vector<int> numbers(const std::vector<hg::OutboxRow>& rows, const char* field) {
  std::vector<int> out;
  for (const auto& r : rows) out.push_back(json::parse(r.body)[field].get<int>());
  return out;
}

}  // namespace

TEST(Outbox, AssignsContiguousSeqsInAppendOrderAndDeletesThroughApplied) {
  TempDir dir("outbox");
  hg::Outbox box(dir / "g.db", 100);
  box.append({reported(1), reported(2), txn(3), reported(4)});
  auto batch = box.next_batch(3);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].seq, 1u);
  EXPECT_EQ(batch[1].seq, 2u);
  EXPECT_EQ(batch[2].seq, 3u);
  EXPECT_EQ(batch[2].kind, "transactuation");
  EXPECT_EQ(batch[2].at_ms, 2003);
  // Nothing applied yet: the same rows come again with the same seqs, then the next one.
  batch = box.next_batch(10);
  ASSERT_EQ(batch.size(), 4u);
  EXPECT_EQ(batch[0].seq, 1u);
  EXPECT_EQ(batch[3].seq, 4u);
  EXPECT_EQ(numbers({batch[3]}, "n"), std::vector<int>{4});
  EXPECT_EQ(box.acknowledge(2), 2u);
  auto st = box.stats();
  EXPECT_EQ(st.depth, 2);
  EXPECT_EQ(st.applied_through, 2u);
  EXPECT_EQ(st.next_seq, 5u);
  EXPECT_EQ(st.oldest_at_ms, 2003);
  batch = box.next_batch(10);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].seq, 3u);
  // A stale acknowledgement does not move the position back.
  EXPECT_EQ(box.acknowledge(1), 0u);
  EXPECT_EQ(box.stats().applied_through, 2u);
  EXPECT_EQ(box.acknowledge(4), 2u);
  st = box.stats();
  EXPECT_EQ(st.depth, 0);
  EXPECT_EQ(st.bytes, 0);
  EXPECT_EQ(st.oldest_at_ms, 0);
  EXPECT_TRUE(box.next_batch(10).empty());
}

TEST(Outbox, RowsSeqsAndPositionsSurviveReopen) {
  TempDir dir("outbox");
  {
    hg::Outbox box(dir / "g.db", 100);
    for (int i = 1; i <= 5; ++i) box.append({reported(i)});
    ASSERT_EQ(box.next_batch(2).size(), 2u);  // seqs 1, 2 given
    box.acknowledge(1);
    box.finish_desired(7, true, {}, 5000);
  }
  hg::Outbox again(dir / "g.db", 100);
  const auto st = again.stats();
  EXPECT_EQ(st.depth, 4);
  EXPECT_EQ(st.applied_through, 1u);
  EXPECT_EQ(st.desired_cursor, 7u);
  EXPECT_EQ(st.desired_applied, 1);
  const auto batch = again.next_batch(10);
  ASSERT_EQ(batch.size(), 4u);
  EXPECT_EQ(numbers(batch, "n"), (std::vector<int>{2, 3, 4, 5}));
  for (std::size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(batch[i].seq, 2 + i);
}

TEST(Outbox, FullDropsOldestUnsentReportedNeverRecordsAndLeavesNoSeqGap) {
  TempDir dir("outbox");
  hg::Outbox box(dir / "g.db", 4);
  box.append({reported(1), reported(2)});
  ASSERT_EQ(box.next_batch(1).size(), 1u);  // reported 1 has seq 1: may be applied, never dropped
  box.append({txn(3), reported(4)});        // full now: 1, 2, t3, 4
  auto r = box.append({reported(5)});       // drops reported 2 (oldest unsent)
  EXPECT_EQ(r.appended, 1u);
  EXPECT_EQ(r.dropped, 1u);
  r = box.append({txn(6)});  // drops reported 4; the record itself is always kept
  EXPECT_EQ(r.appended, 1u);
  EXPECT_EQ(r.dropped, 1u);
  r = box.append({txn(7)});  // drops reported 5
  EXPECT_EQ(r.dropped, 1u);
  // Only the sent reported row and records left: a new record goes past the bound, a new
  // report is dropped.
  r = box.append({txn(8)});
  EXPECT_EQ(r.appended, 1u);
  EXPECT_EQ(r.dropped, 0u);
  r = box.append({reported(9)});
  EXPECT_EQ(r.appended, 0u);
  EXPECT_EQ(r.dropped, 1u);
  const auto st = box.stats();
  EXPECT_EQ(st.depth, 5);
  EXPECT_EQ(st.dropped, 4);
  const auto batch = box.next_batch(10);
  ASSERT_EQ(batch.size(), 5u);
  EXPECT_EQ(batch[0].kind, "reported");
  for (std::size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(batch[i].seq, 1 + i) << i;
  for (std::size_t i = 1; i < batch.size(); ++i) EXPECT_EQ(batch[i].kind, "transactuation");
  EXPECT_EQ(numbers({batch.begin() + 1, batch.end()}, "txn"), (std::vector<int>{3, 6, 7, 8}));
}

TEST(Outbox, RefIsAppendedOnceEvenAfterItsRowIsDeleted) {
  TempDir dir("outbox");
  hg::Outbox box(dir / "g.db", 100);
  EXPECT_EQ(box.append({txn(1)}).appended, 1u);
  box.next_batch(10);
  box.acknowledge(1);
  const auto r = box.append({txn(1), txn(2)});
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.appended, 1u);
  EXPECT_TRUE(box.has_ref("txn:1"));
  EXPECT_EQ(box.stats().depth, 1);
}

TEST(Outbox, ReportedRowsCommitInTheReadingsTransaction) {
  TempDir dir("outbox");
  hg::Store store(dir / "g.db");
  hg::Outbox box(dir / "g.db", 100);
  store.insert_readings({{"lamp", 1, 1, 1, R"({"on":true})"}}, [&](sqlite3* db) {
    hg::Outbox::append_in(db, {reported(1)}, box.max_items());
  });
  EXPECT_EQ(box.stats().depth, 1);
  // A failure inside the transaction loses both the reading and the outbox row.
  EXPECT_THROW(store.insert_readings({{"lamp", 2, 2, 2, "{}"}},
                                     [&](sqlite3* db) {
                                       hg::Outbox::append_in(db, {reported(2)}, box.max_items());
                                       throw hg::StoreError("injected");
                                     }),
               hg::StoreError);
  EXPECT_EQ(box.stats().depth, 1);
  EXPECT_EQ(store.reading_count(), 1);
}

TEST(Outbox, FinishDesiredRecordsConflictsLocallyAndAsItems) {
  TempDir dir("outbox");
  hg::Outbox box(dir / "g.db", 100);
  hg::ConflictRecord c{10, "thermo", "setpoint", 23.5, 19.0, 4, "desired_applied", "committed"};
  box.finish_desired(3, true, {c}, 11);
  box.finish_desired(4, false, {}, 12);
  const auto st = box.stats();
  EXPECT_EQ(st.desired_cursor, 4u);
  EXPECT_EQ(st.conflicts_resolved, 1);
  EXPECT_EQ(st.desired_applied, 1);
  EXPECT_EQ(st.desired_failed, 1);
  const auto local = box.conflicts(10);
  ASSERT_EQ(local.size(), 1u);
  EXPECT_EQ(local[0].local_value, 23.5);
  EXPECT_EQ(local[0].resolution, "desired_applied");
  const auto batch = box.next_batch(10);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].kind, "conflict");
  const auto body = json::parse(batch[0].body);
  EXPECT_EQ(body["device"], "thermo");
  EXPECT_EQ(body["attribute"], "setpoint");
  EXPECT_EQ(body["desired_value"], 19.0);
  EXPECT_EQ(body["desired_version"], 4);
}

TEST(SyncRules, ReportedChangesCarryOnlyChangedAttributes) {
  hg::ReportedChanges changes;
  EXPECT_EQ(*changes.changed("lamp", {{"on", true}, {"brightness", 10}}), (json{{"on", true}, {"brightness", 10}}));
  EXPECT_FALSE(changes.changed("lamp", {{"on", true}, {"brightness", 10}}));
  EXPECT_EQ(*changes.changed("lamp", {{"on", true}, {"brightness", 99}}), (json{{"brightness", 99}}));
  EXPECT_EQ(*changes.changed("door", {{"lock", "locked"}}), (json{{"lock", "locked"}}));
}

TEST(SyncRules, ConflictOnlyForADifferentLocalValueTheCloudHadNotSeen) {
  hg::ConflictDetector d;
  d.note_local("thermo", {{"setpoint", 23.5}, {"mode", "heat"}}, 100);
  // Same value as desired: no conflict; different and never pushed: conflict with both values.
  auto c = d.check("thermo", {{"setpoint", 19.0}, {"mode", "heat"}}, 500);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].attribute, "setpoint");
  EXPECT_EQ(c[0].local_value, 23.5);
  EXPECT_EQ(c[0].desired_value, 19.0);
  EXPECT_EQ(c[0].local_at_ms, 100);
  EXPECT_TRUE(d.check("lamp", {{"setpoint", 19.0}}, 500).empty());
  EXPECT_EQ(d.unseen(), 2u);
  // A push started at 150 drained the outbox at 160: the cloud has the change since 160.
  d.note_local("thermo", {{"mode", "cool"}}, 170);  // noted after the push started: not in it
  d.cloud_caught_up(150, 160);
  EXPECT_EQ(d.unseen(), 1u);
  EXPECT_TRUE(d.check("thermo", {{"setpoint", 19.0}}, 500).empty());  // desired made after 160
  EXPECT_EQ(d.check("thermo", {{"setpoint", 19.0}}, 155).size(), 1u);  // made before the cloud saw it
  EXPECT_EQ(d.check("thermo", {{"mode", "off"}}, 500).size(), 1u);
  // The device reaching a value the cloud asked for is not a local change.
  d.cloud_asked("thermo", {{"setpoint", 21.0}});
  d.note_local("thermo", {{"setpoint", 21.0}}, 600);
  EXPECT_TRUE(d.check("thermo", {{"setpoint", 22.0}}, 601).empty());
  d.note_local("thermo", {{"setpoint", 25.0}}, 700);
  EXPECT_EQ(d.check("thermo", {{"setpoint", 22.0}}, 701).size(), 1u);
}

TEST(SyncRules, DesiredValuesMapToCatalogCommands) {
  namespace dv = homestead::devices;
  const auto& thermostat = dv::kind_info(dv::Kind::thermostat);
  auto cmds = hg::desired_commands(thermostat, {{"setpoint", 19.5}, {"mode", "heat"}});
  ASSERT_EQ(cmds.size(), 2u);  // attribute order (sorted keys): mode, setpoint
  EXPECT_EQ(cmds[0].command, "set_mode");
  EXPECT_EQ(cmds[0].args, (json{{"mode", "heat"}}));
  EXPECT_EQ(cmds[1].command, "set_setpoint");
  EXPECT_EQ(cmds[1].args, (json{{"setpoint", 19.5}}));
  cmds = hg::desired_commands(dv::kind_info(dv::Kind::light), {{"on", false}});
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].command, "turn_off");
  cmds = hg::desired_commands(dv::kind_info(dv::Kind::lock), {{"lock", "unlocked"}});
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].command, "unlock");
  cmds = hg::desired_commands(dv::kind_info(dv::Kind::water_valve), {{"open", true}});
  EXPECT_EQ(cmds.at(0).command, "open");
  try {
    hg::desired_commands(thermostat, {{"colour", "red"}});
    FAIL() << "expected DesiredError";
  } catch (const hg::DesiredError& e) {
    EXPECT_NE(std::string(e.what()).find("'colour'"), std::string::npos) << e.what();
  }
  // "jammed" is a reported-only lock value: no command produces it.
  EXPECT_THROW(hg::desired_commands(dv::kind_info(dv::Kind::lock), {{"lock", "jammed"}}), hg::DesiredError);
  EXPECT_THROW(hg::desired_commands(dv::kind_info(dv::Kind::motion), {{"motion", true}}), hg::DesiredError);
}
