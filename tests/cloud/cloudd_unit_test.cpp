// Unit tests for cloudd's pieces that need no processes: the fsynced WAL store (round trip,
// torn tail, corruption), the KV command codec, the KV state machine (revisions, CAS,
// sessions, snapshots) and config errors that name the field.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>

#include "cloud/cloudd/cloudd_config.h"
#include "cloud/cloudd/file_log_store.h"
#include "cloud/cloudd/kv_command.h"
#include "cloud/cloudd/kv_state_machine.h"
#include "cloud/cloudd/peer_transport.h"
#include "cloud/cloudd/snapshot_channels.h"
#include "cloud/rpc/frame.h"
#include "cloud/rpc/socket.h"
#include "replication/raft/codec.h"
#include "tests/support/process.h"

namespace homestead::cloudd {
namespace {

raft::Entry entry(raft::Index index, raft::Term term, std::string data) {
  return raft::Entry{term, index, raft::EntryType::normal, std::move(data)};
}

TEST(FileLogStore, RoundTripsEntriesHardStateAndOverwrites) {
  testing::TempDir dir("cloudd-store");
  {
    FileLogStore store(dir.path());
    EXPECT_TRUE(store.load().entries.empty());
    store.save(raft::HardState{1, 2, 0}, {entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")}, std::nullopt, true);
    // A new leader's entries replace the log from index 2 on.
    store.save(raft::HardState{2, 3, 1}, {entry(2, 2, "B")}, std::nullopt, true);
  }
  FileLogStore again(dir.path());
  const StoredState s = again.load();
  EXPECT_EQ(s.hard_state, (raft::HardState{2, 3, 1}));
  ASSERT_EQ(s.entries.size(), 2u);
  EXPECT_EQ(s.entries[0], entry(1, 1, "a"));
  EXPECT_EQ(s.entries[1], entry(2, 2, "B"));
}

TEST(FileLogStore, SnapshotCompactsAndRestartsFromSnapshotPlusTail) {
  testing::TempDir dir("cloudd-store");
  {
    FileLogStore store(dir.path());
    store.load();
    std::vector<raft::Entry> entries;
    for (raft::Index i = 1; i <= 10; ++i) {
      std::string data = "e";  // appended: g++ 12 -O3 reports a false -Wrestrict on "e" + std::string
      data += std::to_string(i);
      entries.push_back(entry(i, 1, data));
    }
    store.save(raft::HardState{1, 1, 10}, entries, std::nullopt, true);
    store.save_snapshot(raft::Snapshot{raft::SnapshotMeta{7, 1, raft::ConfState{{1, 2, 3}, {}}}, "state@7"});
    store.save(std::nullopt, {entry(11, 1, "e11")}, std::nullopt, true);
  }
  FileLogStore again(dir.path());
  const StoredState s = again.load();
  ASSERT_TRUE(s.snapshot.has_value());
  EXPECT_EQ(s.snapshot->meta.index, 7u);
  EXPECT_EQ(s.snapshot->data, "state@7");
  EXPECT_EQ(s.snapshot->meta.conf.voters, (std::vector<raft::NodeId>{1, 2, 3}));
  ASSERT_EQ(s.entries.size(), 4u);
  EXPECT_EQ(s.entries.front().index, 8u);
  EXPECT_EQ(s.entries.back(), entry(11, 1, "e11"));
}

std::uint64_t end_of_records(const std::filesystem::path& wal) {
  std::ifstream in(wal, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes.find_last_not_of('\0') + 1;
}

void flip_byte(const std::filesystem::path& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

TEST(FileLogStore, TornLastRecordIsCutOffAndWritingContinues) {
  testing::TempDir dir("cloudd-store");
  {
    FileLogStore store(dir.path());
    store.load();
    store.save(std::nullopt, {entry(1, 1, "kept")}, std::nullopt, true);
    store.save(std::nullopt, {entry(2, 1, "torn")}, std::nullopt, true);
  }
  const auto wal = dir.path() / "raft.wal";
  flip_byte(wal, end_of_records(wal) - 1);  // damage the last record only
  {
    FileLogStore store(dir.path());
    const StoredState s = store.load();
    ASSERT_EQ(s.entries.size(), 1u);
    EXPECT_EQ(s.entries[0].data, "kept");
    store.save(std::nullopt, {entry(2, 2, "rewritten")}, std::nullopt, true);
  }
  FileLogStore again(dir.path());
  const StoredState s = again.load();
  ASSERT_EQ(s.entries.size(), 2u);
  EXPECT_EQ(s.entries[1].data, "rewritten");
}

TEST(FileLogStore, CorruptRecordBeforeOthersIsRefusedWithItsOffset) {
  testing::TempDir dir("cloudd-store");
  {
    FileLogStore store(dir.path());
    store.load();
    store.save(std::nullopt, {entry(1, 1, "first-record-payload")}, std::nullopt, true);
    store.save(std::nullopt, {entry(2, 1, "second")}, std::nullopt, true);
  }
  flip_byte(dir.path() / "raft.wal", 12);  // inside the first record's payload
  FileLogStore store(dir.path());
  try {
    store.load();
    FAIL() << "a corrupt record followed by others must not load";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt record at offset 0"), std::string::npos) << e.what();
  }
}

TEST(KvCommand, RoundTripsEveryKind) {
  Command txn;
  txn.kind = CommandKind::txn;
  txn.client_id = 9;
  txn.seq = 4;
  txn.ack = 3;
  txn.time_us = 123456;
  txn.compares = {Compare{"a", Compare::Target::value, "x", 0}, Compare{"b", Compare::Target::mod_revision, "", 7}};
  txn.success = {TxnOp{TxnOp::Kind::put, "a", "y"}};
  txn.failure = {TxnOp{TxnOp::Kind::remove, "b", ""}};
  EXPECT_EQ(decode_command(encode_command(txn)), txn);
  Command member;
  member.kind = CommandKind::set_member;
  member.member_id = 4;
  member.peer_address = "127.0.0.1:1";
  member.http_address = "127.0.0.1:2";
  EXPECT_EQ(decode_command(encode_command(member)), member);
  EXPECT_THROW(decode_command(std::string("\x09", 1)), raft::CodecError);
}

Command put(std::string key, std::string value, std::uint64_t client = 0, std::uint64_t seq = 0) {
  Command c;
  c.kind = CommandKind::put;
  c.key = std::move(key);
  c.value = std::move(value);
  c.client_id = client;
  c.seq = seq;
  c.time_us = 1000;
  return c;
}

TEST(KvStateMachine, RevisionsCasAndRange) {
  KvStateMachine kv;
  EXPECT_EQ(kv.apply(put("a/1", "x")), R"({"revision":1})");
  EXPECT_EQ(kv.apply(put("a/2", "y")), R"({"revision":2})");
  EXPECT_EQ(kv.apply(put("a/1", "z")), R"({"revision":3})");
  EXPECT_EQ(kv.get("a/1")->create_revision, 1u);
  EXPECT_EQ(kv.get("a/1")->mod_revision, 3u);
  Command cas;
  cas.kind = CommandKind::txn;
  cas.compares = {Compare{"a/1", Compare::Target::mod_revision, "", 3}};
  cas.success = {TxnOp{TxnOp::Kind::put, "a/1", "swapped"}, TxnOp{TxnOp::Kind::remove, "a/2", ""}};
  EXPECT_EQ(kv.apply(cas), R"({"revision":4,"succeeded":true})");
  EXPECT_EQ(kv.apply(cas), R"({"revision":4,"succeeded":false})");  // mod_revision is 4 now
  EXPECT_EQ(kv.get("a/1")->value, "swapped");
  EXPECT_FALSE(kv.get("a/2"));
  kv.apply(put("b", "other"));
  const auto range = kv.range("a/", 0);
  ASSERT_EQ(range.size(), 1u);
  EXPECT_EQ(range[0].first, "a/1");
}

TEST(KvStateMachine, SessionRepeatIsAnsweredWithoutReapplying) {
  KvStateMachine kv;
  EXPECT_EQ(kv.apply(put("k", "first", 77, 1)), R"({"revision":1})");
  kv.apply(put("other", "v"));
  // The same (client, seq) committed again, e.g. retried after a leader change.
  EXPECT_EQ(kv.apply(put("k", "first", 77, 1)), R"({"revision":1})");
  EXPECT_EQ(kv.revision(), 2u);
  EXPECT_EQ(kv.get("k")->mod_revision, 1u);
}

TEST(KvStateMachine, SnapshotRestoresIdenticalState) {
  KvStateMachine kv;
  kv.apply(put("a", "1", 5, 1));
  kv.apply(put("b", std::string("\0\xff", 2)));
  Command member;
  member.kind = CommandKind::set_member;
  member.member_id = 2;
  member.peer_address = "127.0.0.1:7002";
  member.http_address = "127.0.0.1:8002";
  kv.apply(member);
  KvStateMachine copy;
  copy.restore(kv.snapshot());
  EXPECT_EQ(copy.state_hash(), kv.state_hash());
  EXPECT_EQ(copy.get("b")->value, std::string("\0\xff", 2));
  EXPECT_EQ(copy.members().at(2).http_address, "127.0.0.1:8002");
  // The restored session still recognises the repeat.
  EXPECT_EQ(copy.apply(put("a", "1", 5, 1)), R"({"revision":1})");
  EXPECT_EQ(copy.revision(), 2u);
}

enum class RandomWrites { with_sessions, with_fresh_keys };

// A random write over the keys k0..k<keys-1>: a put, a session put or a put of a key never
// seen before, a delete, or a transaction that puts one key and deletes another.
Command random_write(std::mt19937_64& rng, int step, std::uint64_t keys, RandomWrites kind) {
  const std::string key = "k" + std::to_string(rng() % keys);
  Command c;
  switch (rng() % 4) {
    case 0: c = put(key, "v" + std::to_string(rng() % 5)); break;
    case 1:
      c = kind == RandomWrites::with_sessions
              ? put(key, "s" + std::to_string(step), 1 + rng() % 3, static_cast<std::uint64_t>(step) + 1)
              : put("new-" + std::to_string(step), "n");  // keys before, at and after a snapshot cursor
      break;
    case 2:
      c.kind = CommandKind::remove;
      c.key = key;
      break;
    default:
      c.kind = CommandKind::txn;
      c.compares = {Compare{key, Compare::Target::mod_revision, "", 0}};
      c.success = {TxnOp{TxnOp::Kind::put, key, "t"}, TxnOp{TxnOp::Kind::remove, "k" + std::to_string(rng() % keys), ""}};
      c.failure = {TxnOp{TxnOp::Kind::remove, key, ""}};
      break;
  }
  return c;
}

// The key-value part of state_hash is a digest kept up to date on every write (not a walk
// over every key): after any mix of puts, overwrites, deletes, transactions and session
// commands it must equal the digest a restore recomputes from scratch, and every change
// must move it.
TEST(KvStateMachine, IncrementalDigestMatchesARecomputationAfterEveryWrite) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    std::mt19937_64 rng(seed);
    KvStateMachine kv;
    std::uint64_t previous = kv.state_hash();
    for (int step = 0; step < 200; ++step) {
      const Command c = random_write(rng, step, 12, RandomWrites::with_sessions);
      const std::uint64_t revision = kv.revision();
      kv.apply(c);
      KvStateMachine copy;
      copy.restore(kv.snapshot());
      ASSERT_EQ(copy.state_hash(), kv.state_hash()) << "seed " << seed << " step " << step;
      if (kv.revision() != revision) {
        EXPECT_NE(kv.state_hash(), previous) << "seed " << seed << " step " << step;
      }
      previous = kv.state_hash();
    }
  }
  // Same keys and revisions, one value differs: different hashes.
  KvStateMachine a, b;
  a.apply(put("x", "1"));
  b.apply(put("x", "2"));
  EXPECT_NE(a.state_hash(), b.state_hash());
}

// Snapshots are encoded off the Raft loop while writes go on (issue 7: encoding on the loop
// stalled every member 50-200 ms): the frozen encoding, interleaved at random with puts,
// overwrites, deletes, re-adds and transactions, must be byte for byte the snapshot() of
// the state at freeze time.
TEST(KvStateMachine, FrozenSnapshotIsTheStateAtFreezeWhileWritesContinue) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    KvStateMachine kv;
    auto random_write_now = [&](int step) { kv.apply(random_write(rng, step, 40, RandomWrites::with_fresh_keys)); };
    for (int step = 0; step < 60; ++step) random_write_now(step);
    const std::string expected = kv.snapshot();
    KvStateMachine::FrozenSnapshot job = kv.freeze();
    int step = 1000;
    while (!job.finished) {
      for (int n = static_cast<int>(rng() % 4); n > 0; --n) random_write_now(step++);
      ASSERT_TRUE(kv.encode_frozen(job, 1 + rng() % 5)) << "seed " << seed;
    }
    for (int n = 0; n < 5; ++n) random_write_now(step++);  // after the walk, before thaw
    EXPECT_GT(kv.frozen_preimages(), 0u) << "seed " << seed;
    kv.thaw();
    EXPECT_EQ(kv.frozen_preimages(), 0u);
    ASSERT_EQ(job.take(), expected) << "seed " << seed;
    // And it restores to a state with the hash the state had at freeze time.
    KvStateMachine at_freeze, restored;
    at_freeze.restore(expected);
    restored.restore(expected);
    EXPECT_EQ(restored.state_hash(), at_freeze.state_hash());
  }
}

TEST(KvStateMachine, RestoreCancelsAFrozenSnapshot) {
  KvStateMachine kv;
  kv.apply(put("a", "1"));
  kv.apply(put("b", "2"));
  KvStateMachine::FrozenSnapshot job = kv.freeze();
  ASSERT_TRUE(kv.encode_frozen(job, 1));
  KvStateMachine other;
  other.apply(put("z", "9"));
  kv.restore(other.snapshot());
  EXPECT_FALSE(kv.encode_frozen(job, 10));
  EXPECT_FALSE(job.finished);
  EXPECT_THROW(job.take(), std::logic_error);
  EXPECT_EQ(kv.frozen_preimages(), 0u);
}

// The background snapshot path: the snapshot file is written while the loop appends more
// entries, compaction comes later, and the WAL is not rewritten for it.
TEST(FileLogStore, SnapshotWrittenAsideThenCompactedRestartsFromSnapshotPlusTail) {
  testing::TempDir dir("cloudd-store");
  {
    FileLogStore store(dir.path());
    store.load();
    std::vector<raft::Entry> entries;
    for (raft::Index i = 1; i <= 10; ++i) entries.push_back(entry(i, 1, "e" + std::to_string(i * 11)));
    store.save(raft::HardState{1, 1, 10}, entries, std::nullopt, true);
    const raft::Snapshot at7{raft::SnapshotMeta{7, 1, raft::ConfState{{1, 2, 3}, {}}}, "state@7"};
    EXPECT_TRUE(store.write_snapshot(at7));
    store.save(std::nullopt, {entry(11, 1, "e11"), entry(12, 1, "e12")}, std::nullopt, true);
    // An older or equal snapshot never replaces the one on disk.
    EXPECT_FALSE(store.write_snapshot(raft::Snapshot{raft::SnapshotMeta{5, 1, raft::ConfState{{1}, {}}}, "state@5"}));
    EXPECT_FALSE(store.write_snapshot(at7));
    const auto wal_size = std::filesystem::file_size(store.wal_path());
    store.compacted(7);
    store.save(std::nullopt, {entry(13, 1, "e13")}, std::nullopt, true);
    EXPECT_EQ(std::filesystem::file_size(store.wal_path()), wal_size) << "compaction must not rewrite the WAL";
  }
  FileLogStore again(dir.path());
  const StoredState s = again.load();
  ASSERT_TRUE(s.snapshot.has_value());
  EXPECT_EQ(s.snapshot->meta.index, 7u);
  EXPECT_EQ(s.snapshot->data, "state@7");
  ASSERT_EQ(s.entries.size(), 6u);
  EXPECT_EQ(s.entries.front(), entry(8, 1, "e88"));
  EXPECT_EQ(s.entries.back(), entry(13, 1, "e13"));
  // A second compaction after the restart keeps working on the same file.
  again.save(std::nullopt, {entry(14, 1, "e14")}, std::nullopt, true);
  EXPECT_TRUE(again.write_snapshot(raft::Snapshot{raft::SnapshotMeta{12, 1, raft::ConfState{{1, 2, 3}, {}}}, "state@12"}));
  again.compacted(12);
  again.save(std::nullopt, {entry(15, 1, "e15")}, std::nullopt, true);
  FileLogStore third(dir.path());
  const StoredState t = third.load();
  EXPECT_EQ(t.snapshot->data, "state@12");
  ASSERT_EQ(t.entries.size(), 3u);
  EXPECT_EQ(t.entries.front().index, 13u);
  EXPECT_EQ(t.entries.back(), entry(15, 1, "e15"));
}

TEST(PeerTransport, MessageBatchRoundTrips) {
  raft::Message m;
  m.type = raft::MessageType::append;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.entries = {entry(4, 3, "x")};
  const auto batch = decode_message_batch(encode_message_batch({m, m}));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[1].entries, m.entries);
  EXPECT_EQ(batch[1].term, 3u);
}

TEST(FileLogStore, Crc32cMatchesTheStandardCheckValueAndTheTableVersion) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(crc32c_table("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  std::mt19937_64 rng(7);
  std::string bytes(1000, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng());
  // Every length and start offset around the 8-byte steps of the hardware loop.
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t length = 0; length + start <= 300; length += 1 + length / 16) {
      const std::string_view part(bytes.data() + start, length);
      ASSERT_EQ(crc32c(part), crc32c_table(part)) << "start " << start << " length " << length;
    }
  }
}

TEST(RpcFrame, OneWayFlagRoundTripsAndDefaultsToReplyWanted) {
  rpc::frame::Frame call;
  call.type = rpc::frame::Type::request;
  call.request_id = 7;
  call.method = "Raft/Step";
  call.payload = "body";
  rpc::frame::Reader reader(1 << 20);
  reader.feed(rpc::frame::encode(call));
  call.one_way = true;
  reader.feed(rpc::frame::encode(call));
  auto first = reader.next();
  auto second = reader.next();
  ASSERT_TRUE(first && second);
  const auto& plain = std::get<rpc::frame::Frame>(*first);
  const auto& one_way = std::get<rpc::frame::Frame>(*second);
  EXPECT_FALSE(plain.one_way);
  EXPECT_TRUE(one_way.one_way);
  EXPECT_EQ(one_way.method, "Raft/Step");
  EXPECT_EQ(one_way.payload, "body");
  EXPECT_EQ(one_way.request_id, 7u);
}

// The Raft loop writes peer frames itself only when that cannot block: a full socket must
// give would_block with nothing written, so the frame can be queued for the sender thread.
TEST(RpcSocket, TrySendGivesUpOnAFullSocketWithoutWritingAnything) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const std::string chunk(4096, 'x');
  while (::send(fds[0], chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
  }
  EXPECT_EQ(rpc::net::try_send_frame(fds[0], "head", "body", std::chrono::milliseconds(100)),
            rpc::net::TrySend::would_block);
  // Drain everything: the bytes read are exactly the filler, no "head" crept in.
  std::string received;
  char buffer[65536];
  ssize_t got;
  while ((got = ::recv(fds[1], buffer, sizeof buffer, MSG_DONTWAIT)) > 0) received.append(buffer, static_cast<std::size_t>(got));
  EXPECT_EQ(received.find("head"), std::string::npos);
  EXPECT_EQ(received.find_first_not_of('x'), std::string::npos);
  EXPECT_EQ(rpc::net::try_send_frame(fds[0], "head", "body", std::chrono::milliseconds(100)), rpc::net::TrySend::sent);
  got = ::recv(fds[1], buffer, sizeof buffer, 0);
  EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(got)), "headbody");
  ::close(fds[0]);
  ::close(fds[1]);
}

// Two transports on loopback: Raft messages arrive in the order sent (written inline by the
// caller or queued for the sender thread, one-way frames, handled on the reader thread), and
// a forwarded proposal reaches the leader with the follower's id and its answer comes back.
TEST(PeerTransport, DeliversInOrderAndCarriesForwardedProposalsAndAnswers) {
  const std::string secret = "unit-test-secret";
  std::mutex mutex;
  std::vector<raft::Index> received;  // message indexes, in arrival order, at member 2
  std::vector<std::pair<raft::NodeId, ForwardedProposal>> proposals;  // at member 2
  std::vector<ForwardAnswer> answers;  // at member 1
  PeerTransport follower({"127.0.0.1", 0}, secret, [](std::vector<raft::Message>) {});
  PeerTransport leader({"127.0.0.1", 0}, secret, [&](std::vector<raft::Message> messages) {
    std::lock_guard lock(mutex);
    for (const auto& m : messages) received.push_back(m.index);
  });
  follower.set_forwarding(1, [](raft::NodeId, std::vector<ForwardedProposal>) {},
                          [&](std::vector<ForwardAnswer> got) {
                            std::lock_guard lock(mutex);
                            answers.insert(answers.end(), got.begin(), got.end());
                          });
  leader.set_forwarding(2, [&](raft::NodeId from, std::vector<ForwardedProposal> got) {
    std::lock_guard lock(mutex);
    for (auto& p : got) proposals.emplace_back(from, std::move(p));
  }, [](std::vector<ForwardAnswer>) {});
  follower.start();
  leader.start();
  follower.set_peer(2, {"127.0.0.1", leader.port()});
  leader.set_peer(1, {"127.0.0.1", follower.port()});

  constexpr int kMessages = 2000;
  for (int i = 1; i <= kMessages; ++i) {
    raft::Message m;
    m.type = raft::MessageType::append_resp;
    m.from = 1;
    m.to = 2;
    m.term = 1;
    m.index = static_cast<raft::Index>(i);
    follower.send({m});
  }
  ASSERT_TRUE(testing::wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return received.size() == kMessages;
      },
      std::chrono::seconds(20)));
  // Connected now (the Raft frames went over the link); an unknown peer is refused at once.
  EXPECT_FALSE(follower.forward_proposal(9, {41, "lost"}));
  ASSERT_TRUE(follower.forward_proposal(2, {42, "put k v"}));
  ASSERT_TRUE(testing::wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return proposals.size() == 1;
      },
      std::chrono::seconds(20)));
  {
    std::lock_guard lock(mutex);
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(received[static_cast<std::size_t>(i)], static_cast<raft::Index>(i + 1));
    EXPECT_EQ(proposals[0].first, 1u);
    EXPECT_EQ(proposals[0].second.id, 42u);
    EXPECT_EQ(proposals[0].second.data, "put k v");
  }
  leader.answer_proposals(1, {ForwardAnswer{42, 0, 17, 3, 2}});
  ASSERT_TRUE(testing::wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return answers.size() == 1;
      },
      std::chrono::seconds(20)));
  std::lock_guard lock(mutex);
  EXPECT_EQ(answers[0].id, 42u);
  EXPECT_EQ(answers[0].index, 17u);
  EXPECT_EQ(answers[0].term, 3u);
  EXPECT_EQ(answers[0].leader, 2u);
  EXPECT_EQ(follower.dropped(), 0u);
}

// Two members' peer transports linked to each other, each with its SnapshotChannels; member
// 1's Raft loop is the test (turns requested are counted, send_owed_markers is its turn end).
struct TwoLinkedMembers {
  static constexpr const char* kSecret = "unit-test-secret";
  static std::string state() { return "{}"; }
  std::shared_ptr<SnapshotChannels> channels1 = installed("cloud-1");
  PeerTransport member1{{"127.0.0.1", 0}, kSecret, [](std::vector<raft::Message>) {}};
  std::atomic<int> turns_requested{0};
  std::shared_ptr<SnapshotChannels> channels2 = installed("cloud-2");
  std::atomic<int> delivered{0};
  PeerTransport member2{{"127.0.0.1", 0}, kSecret, [this](std::vector<raft::Message> m) { delivered += static_cast<int>(m.size()); }};

  // Each transport takes the SnapshotChannels installed when it is built.
  static std::shared_ptr<SnapshotChannels> installed(const std::string& name) {
    auto channels = std::make_shared<SnapshotChannels>(name, state);
    install_snapshot_channels(channels);
    return channels;
  }

  explicit TwoLinkedMembers(std::chrono::milliseconds linger) {
    install_snapshot_channels(nullptr);
    member1.set_turn_requester([this] { ++turns_requested; });
    member1.set_marker_linger(linger);
    member1.start();
    member2.start();
    member1.set_peer(2, {"127.0.0.1", member2.port()});
    member2.set_peer(1, {"127.0.0.1", member1.port()});
  }
  ~TwoLinkedMembers() {
    member1.stop();
    member2.stop();
  }

  // A Raft turn at member 1 with a message for member 2 (its Step frame carries any marks).
  bool a_turn_sends_a_message() {
    raft::Message m;
    m.type = raft::MessageType::append_resp;
    m.from = 1;
    m.to = 2;
    m.term = 1;
    const int before = delivered;
    member1.send({m});
    return testing::wait_until([&] { return delivered == before + 1; }, std::chrono::seconds(20));
  }
  bool recorded_at_member2(snapshot::SnapshotId id) {
    return testing::wait_until([&] { return channels2->local(id).has_value(); }, std::chrono::seconds(20));
  }
};

// Deferred snapshot markers (PeerTransport::set_turn_requester): a record asks the Raft loop
// for one turn instead of writing marker frames; the turn's Step frame carries the marks, and
// only a link no Step frame went out on gets an explicit marker frame at the turn's end.
TEST(PeerTransport, ARecordedSnapshotsMarksRideOnTheNextTurnsFrameOrGoAloneAtItsEnd) {
  TwoLinkedMembers members(std::chrono::milliseconds(0));
  auto& member1 = members.member1;
  ASSERT_TRUE(members.a_turn_sends_a_message());  // connected

  // A turn that sends Raft messages to the peer: its frame carries the marks.
  const auto carried = members.channels1->initiate();
  EXPECT_EQ(members.turns_requested, 1);
  EXPECT_EQ(member1.marker_frames(), 0u);
  ASSERT_TRUE(members.a_turn_sends_a_message());
  member1.send_owed_markers();  // the turn's end
  EXPECT_EQ(member1.marker_frames(), 0u);
  ASSERT_TRUE(members.recorded_at_member2(carried));

  // Two records before a turn: one turn request. A turn with nothing for the peer: one
  // explicit marker frame at its end, carrying both.
  const auto alone1 = members.channels1->initiate();
  const auto alone2 = members.channels1->initiate();
  EXPECT_EQ(members.turns_requested, 2);
  member1.send_owed_markers();
  EXPECT_EQ(member1.marker_frames(), 1u);
  ASSERT_TRUE(members.recorded_at_member2(alone1));
  ASSERT_TRUE(members.recorded_at_member2(alone2));
  member1.send_owed_markers();  // nothing owed any more
  EXPECT_EQ(member1.marker_frames(), 1u);
  // Both snapshots complete at member 2 once member 1's cut is known on its one channel.
  EXPECT_TRUE(testing::wait_until([&] { return members.channels2->local(alone2)->complete; }, std::chrono::seconds(20)));
}

// Marker linger (PeerTransport::set_marker_linger): a record asks no turn; an owed marker is
// written alone only by a turn end at least the linger after the record, unless a Step frame
// carried the marks first.
TEST(PeerTransport, WithALingerAnOwedMarkerWaitsThatLongForAFrameToRideOn) {
  const auto linger = std::chrono::milliseconds(30);
  TwoLinkedMembers members(linger);
  auto& member1 = members.member1;
  ASSERT_TRUE(members.a_turn_sends_a_message());  // connected

  // Nothing for the peer: turn ends before the linger write nothing, the first one after it
  // writes one explicit frame.
  const auto before_record = std::chrono::steady_clock::now();
  const auto alone = members.channels1->initiate();
  const auto after_record = std::chrono::steady_clock::now();
  EXPECT_EQ(members.turns_requested, 0);
  member1.send_owed_markers(after_record);
  member1.send_owed_markers(before_record + linger - std::chrono::milliseconds(1));
  EXPECT_EQ(member1.marker_frames(), 0u);
  EXPECT_FALSE(members.channels2->local(alone).has_value());
  member1.send_owed_markers(after_record + linger);
  EXPECT_EQ(member1.marker_frames(), 1u);
  ASSERT_TRUE(members.recorded_at_member2(alone));
  member1.send_owed_markers(after_record + 10 * linger);  // nothing owed any more
  EXPECT_EQ(member1.marker_frames(), 1u);

  // A Step frame within the linger carries the marks: no explicit frame after it.
  const auto carried = members.channels1->initiate();
  ASSERT_TRUE(members.a_turn_sends_a_message());
  member1.send_owed_markers(std::chrono::steady_clock::now() + 10 * linger);
  EXPECT_EQ(member1.marker_frames(), 1u);
  ASSERT_TRUE(members.recorded_at_member2(carried));
  EXPECT_EQ(members.turns_requested, 0);
}

TEST(CloudConfig, ErrorsNameTheField) {
  auto error_field = [](const std::string& text) {
    try {
      parse_cloud_config(config::Config::parse(text, "c.json"));
    } catch (const config::ConfigError& e) {
      return e.field();
    }
    return std::string("<no error>");
  };
  const std::string base = R"("data_dir": "/tmp/x", "http_listen": "127.0.0.1:1", "peer_listen": "127.0.0.1:2")";
  EXPECT_EQ(error_field("{" + base + R"(, "id": 1})"), "members");
  EXPECT_EQ(error_field("{" + base + R"(, "id": 1, "members": [{"id": 1, "peer": "nope", "http": "127.0.0.1:3"}]})"),
            "members[0].peer");
  EXPECT_EQ(error_field("{" + base + R"(, "id": 1, "tick_ms": "x", "members": [{"id": 1, "peer": "h:1", "http": "h:2"}]})"),
            "tick_ms");
  EXPECT_EQ(error_field("{" + base + R"(, "id": 1, "colour": 1, "members": [])"
                        R"(})"),
            "colour");
  const auto ok = parse_cloud_config(config::Config::parse(
      "{" + base + R"(, "id": 2, "members": [{"id": 2, "peer": "127.0.0.1:5", "http": "127.0.0.1:6"}]})"));
  EXPECT_EQ(ok.member(2)->peer.port, 5);
  EXPECT_TRUE(ok.dht.enabled);  // every member joins the ring unless told otherwise
  EXPECT_EQ(ok.dht.bits, 32u);
}

TEST(CloudConfig, DhtSectionIsReadAndItsErrorsNameTheField) {
  const std::string base = R"({"data_dir": "/tmp/x", "http_listen": "127.0.0.1:1", "peer_listen": "127.0.0.1:2",)"
                           R"( "id": 1, "members": [{"id": 1, "peer": "h:1", "http": "h:2"}])";
  auto error_field = [&](const std::string& dht) {
    try {
      parse_cloud_config(config::Config::parse(base + R"(, "dht": )" + dht + "}", "c.json"));
    } catch (const config::ConfigError& e) {
      return e.field();
    }
    return std::string("<no error>");
  };
  EXPECT_EQ(error_field(R"({"bits": 64})"), "dht.bits");
  EXPECT_EQ(error_field(R"({"stabilize_ms": 0})"), "dht.stabilize_ms");
  EXPECT_EQ(error_field(R"({"stabilise_ms": 10})"), "dht.stabilise_ms");
  EXPECT_EQ(error_field(R"({"enabled": "yes"})"), "dht.enabled");
  EXPECT_EQ(error_field("7"), "dht");
  EXPECT_EQ(error_field(R"({"virtual_nodes": 0})"), "dht.virtual_nodes");
  EXPECT_EQ(error_field(R"({"virtual_nodes": 65})"), "dht.virtual_nodes");
  const auto c = parse_cloud_config(config::Config::parse(
      base + R"(, "dht": {"enabled": false, "bits": 16, "stabilize_ms": 25, "request_timeout_ticks": 5,)"
             R"( "successor_list_length": 6, "group": 9, "virtual_nodes": 20}})"));
  EXPECT_FALSE(c.dht.enabled);
  EXPECT_EQ(c.dht.bits, 16u);
  EXPECT_EQ(c.dht.stabilize_ms, 25);
  EXPECT_EQ(c.dht.request_timeout_ticks, 5u);
  EXPECT_EQ(c.dht.successor_list_length, 6u);
  EXPECT_EQ(c.dht.group, 9u);
  EXPECT_EQ(c.dht.virtual_nodes, 20u);
  EXPECT_EQ(parse_cloud_config(config::Config::parse(base + "}")).dht.virtual_nodes, 1u);  // the documented default
}

TEST(CloudConfig, SnapshotMarkerLingerDefaultsToOneHeartbeatInterval) {
  const std::string base = R"({"data_dir": "/tmp/x", "http_listen": "127.0.0.1:1", "peer_listen": "127.0.0.1:2",)"
                           R"( "id": 1, "members": [{"id": 1, "peer": "h:1", "http": "h:2"}])";
  auto parse = [&](const std::string& extra) { return parse_cloud_config(config::Config::parse(base + extra + "}", "c.json")); };
  EXPECT_EQ(parse("").snapshot_marker_linger_ms, 30);  // 10 ms ticks x 3
  EXPECT_EQ(parse(R"(, "tick_ms": 20, "heartbeat_ticks": 5)").snapshot_marker_linger_ms, 100);
  EXPECT_EQ(parse(R"(, "snapshot_marker_linger_ms": 0)").snapshot_marker_linger_ms, 0);
  try {
    parse(R"(, "snapshot_marker_linger_ms": -1)");
    ADD_FAILURE() << "a negative linger accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.field(), "snapshot_marker_linger_ms");
  }
}

}  // namespace
TEST(CloudConfig, HttpFrontendIsEpollOrHttplibAndOtherNamesAreRefused) {
  const std::string base = R"({"data_dir": "/tmp/x", "http_listen": "127.0.0.1:1", "peer_listen": "127.0.0.1:2",)"
                           R"( "id": 1, "members": [{"id": 1, "peer": "h:1", "http": "h:2"}])";
  const char* saved = std::getenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND");
  const std::string saved_value = saved ? saved : "";
  ::unsetenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND");
  auto parse = [&](const std::string& extra) { return parse_cloud_config(config::Config::parse(base + extra + "}", "c.json")); };
  EXPECT_EQ(parse("").http_frontend, CloudConfig::HttpFrontend::epoll);  // the documented default
  EXPECT_EQ(parse(R"(, "http_frontend": "httplib")").http_frontend, CloudConfig::HttpFrontend::httplib);
  EXPECT_EQ(parse(R"(, "http_frontend": "epoll")").http_frontend, CloudConfig::HttpFrontend::epoll);
  try {
    parse(R"(, "http_frontend": "io_uring")");
    ADD_FAILURE() << "io_uring accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.field(), "http_frontend");
    EXPECT_NE(std::string(e.what()).find("\"io_uring\""), std::string::npos) << e.what();
  }
  // The environment picks only when the config does not say.
  ::setenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND", "httplib", 1);
  EXPECT_EQ(parse("").http_frontend, CloudConfig::HttpFrontend::httplib);
  EXPECT_EQ(parse(R"(, "http_frontend": "epoll")").http_frontend, CloudConfig::HttpFrontend::epoll);
  ::setenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND", "bogus", 1);
  try {
    parse("");
    ADD_FAILURE() << "bogus accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("HOMESTEAD_CLOUDD_HTTP_FRONTEND"), std::string::npos) << e.what();
  }
  if (saved) {
    ::setenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND", saved_value.c_str(), 1);
  } else {
    ::unsetenv("HOMESTEAD_CLOUDD_HTTP_FRONTEND");
  }
}

}  // namespace homestead::cloudd
