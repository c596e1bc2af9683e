// The replicated KV state machine on its own: operations, revisions, prefix ranges,
// exactly-once sessions (dedup, acknowledgement, expiry) and snapshot round trips.
#include <gtest/gtest.h>

#include "replication/kv/kv_state_machine.h"
#include "replication/raft/codec.h"

namespace homestead::kv {
namespace {

Command put(std::string key, std::string value) {
  Command c;
  c.type = OpType::put;
  c.key = std::move(key);
  c.value = std::move(value);
  return c;
}

Command get(std::string key) {
  Command c;
  c.type = OpType::get;
  c.key = std::move(key);
  return c;
}

Command del(std::string key) {
  Command c;
  c.type = OpType::del;
  c.key = std::move(key);
  return c;
}

Command cas_value(std::string key, std::optional<std::string> expected, std::string value) {
  Command c = put(std::move(key), std::move(value));
  c.type = OpType::cas;
  if (expected) {
    c.expected_value = std::move(expected);
  } else {
    c.expect_absent = true;
  }
  return c;
}

Command in_session(Command c, std::uint64_t client, std::uint64_t sequence, std::int64_t now_ms = 0,
                   std::uint64_t acked_below = 0) {
  c.client_id = client;
  c.sequence = sequence;
  c.timestamp_ms = now_ms;
  c.acked_below = acked_below;
  return c;
}

TEST(KvStateMachine, PutGetDeleteWithRevisions) {
  KvStateMachine kv;
  Result r = kv.apply(put("a", "1"));
  EXPECT_EQ(r.revision, 1u);
  r = kv.apply(put("b", "2"));
  EXPECT_EQ(r.revision, 2u);
  r = kv.apply(put("a", "3"));
  ASSERT_TRUE(r.kv);
  EXPECT_EQ(r.kv->create_revision, 1u);
  EXPECT_EQ(r.kv->mod_revision, 3u);
  EXPECT_EQ(r.kv->version, 2u);
  r = kv.read(get("a"));
  ASSERT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.kv->value, "3");
  EXPECT_EQ(r.revision, 3u);
  EXPECT_EQ(kv.apply(del("a")).status, Status::ok);
  EXPECT_EQ(kv.revision(), 4u);
  EXPECT_EQ(kv.read(get("a")).status, Status::not_found);
  EXPECT_EQ(kv.apply(del("a")).status, Status::not_found);
  EXPECT_EQ(kv.revision(), 4u) << "deleting a missing key is not a write";
  r = kv.apply(put("a", "again"));
  EXPECT_EQ(r.kv->create_revision, 5u) << "a recreated key starts a new life";
  EXPECT_EQ(r.kv->version, 1u);
}

TEST(KvStateMachine, CompareAndSwapOnValueAbsenceAndRevision) {
  KvStateMachine kv;
  EXPECT_EQ(kv.apply(cas_value("k", std::nullopt, "v1")).status, Status::ok);
  EXPECT_EQ(kv.apply(cas_value("k", std::nullopt, "v2")).status, Status::compare_failed);
  EXPECT_EQ(kv.apply(cas_value("k", "wrong", "v2")).status, Status::compare_failed);
  EXPECT_EQ(kv.read(get("k")).kv->value, "v1");
  EXPECT_EQ(kv.apply(cas_value("k", "v1", "v2")).status, Status::ok);
  Command by_revision = put("k", "v3");
  by_revision.type = OpType::cas;
  by_revision.expected_revision = 1;  // stale: the key was modified at revision 2
  Result r = kv.apply(by_revision);
  EXPECT_EQ(r.status, Status::compare_failed);
  ASSERT_TRUE(r.kv);
  EXPECT_EQ(r.kv->mod_revision, 2u);
  by_revision.expected_revision = 2;
  EXPECT_EQ(kv.apply(by_revision).status, Status::ok);
  EXPECT_EQ(kv.read(get("k")).kv->value, "v3");
}

TEST(KvStateMachine, RangeByPrefixIsOrderedAndLimited) {
  KvStateMachine kv;
  for (const char* key : {"homes/2", "homes/1", "homes/10", "homesX", "devices/1"}) kv.apply(put(key, key));
  Command range;
  range.type = OpType::range;
  range.key = "homes/";
  Result r = kv.read(range);
  ASSERT_EQ(r.range.size(), 3u);
  EXPECT_EQ(r.range[0].key, "homes/1");
  EXPECT_EQ(r.range[1].key, "homes/10");
  EXPECT_EQ(r.range[2].key, "homes/2");
  range.limit = 2;
  EXPECT_EQ(kv.read(range).range.size(), 2u);
}

TEST(KvStateMachine, SessionAnswersRetriedCommandFromCache) {
  KvStateMachine kv;
  // CAS absent->x commits twice in the log (a retry after a leader change): executed once.
  const Command c = in_session(cas_value("k", std::nullopt, "x"), 7, 1);
  const Result first = kv.apply(c);
  EXPECT_EQ(first.status, Status::ok);
  kv.apply(put("k", "other"));  // someone else writes in between
  const Result retry = kv.apply(c);
  EXPECT_EQ(retry, first) << "the duplicate gets the original answer, not compare_failed";
  EXPECT_EQ(kv.read(get("k")).kv->value, "other");
  EXPECT_EQ(kv.executed_session_commands(), 1u);
}

TEST(KvStateMachine, AcknowledgedAnswersAreDroppedAndSessionsExpire) {
  SessionLimits limits;
  limits.session_ttl_ms = 1000;
  KvStateMachine kv(limits);
  kv.apply(in_session(put("a", "1"), 1, 1, 0));
  kv.apply(in_session(put("a", "2"), 1, 2, 10, /*acked_below=*/2));
  // Sequence 1 was acknowledged: a stale duplicate of it is refused, not re-executed.
  EXPECT_EQ(kv.apply(in_session(put("a", "1"), 1, 1, 20, 2)).status, Status::session_expired);
  EXPECT_EQ(kv.read(get("a")).kv->value, "2");
  // Another client's command 2 s later expires session 1.
  kv.apply(in_session(put("b", "x"), 2, 1, 2000));
  EXPECT_EQ(kv.session_count(), 1u);
  EXPECT_EQ(kv.apply(in_session(put("a", "3"), 1, 3, 2001, 3)).status, Status::session_expired)
      << "an expired client must not have commands silently re-executed";
  EXPECT_EQ(kv.read(get("a")).kv->value, "2");
}

TEST(KvStateMachine, SessionCountIsCapped) {
  SessionLimits limits;
  limits.max_sessions = 3;
  KvStateMachine kv(limits);
  for (std::uint64_t client = 1; client <= 5; ++client) {
    kv.apply(in_session(put("k", std::to_string(client)), client, 1, static_cast<std::int64_t>(client)));
  }
  EXPECT_EQ(kv.session_count(), 3u);
}

TEST(KvStateMachine, SnapshotRoundTripKeepsDataRevisionsAndSessions) {
  KvStateMachine kv;
  kv.apply(put("a", "1"));
  kv.apply(in_session(cas_value("b", std::nullopt, "2"), 9, 1, 5));
  const std::string bytes = kv.snapshot();
  KvStateMachine copy;
  copy.restore(bytes);
  EXPECT_TRUE(copy == kv);
  EXPECT_EQ(copy.snapshot(), bytes);
  EXPECT_EQ(copy.session_count(), 1u);
  // The restored session still deduplicates.
  EXPECT_EQ(copy.apply(in_session(cas_value("b", std::nullopt, "2"), 9, 1, 6)).status, Status::ok);
  EXPECT_EQ(copy.revision(), kv.revision());
}

TEST(KvStateMachine, CommandCodecRoundTripAndCorruptionError) {
  Command c = in_session(cas_value("key/with/slash", "old", "new"), 3, 4, 99, 2);
  const Command back = decode_command(encode_command(c));
  EXPECT_EQ(back.key, c.key);
  EXPECT_EQ(back.expected_value, c.expected_value);
  EXPECT_EQ(back.client_id, 3u);
  EXPECT_EQ(back.timestamp_ms, 99);
  std::string bad = encode_command(c);
  bad[0] = 42;
  EXPECT_THROW(decode_command(bad), raft::CodecError);
}

}  // namespace
}  // namespace homestead::kv
