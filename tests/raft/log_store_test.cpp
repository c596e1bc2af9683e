// The durable segment log store on real files: round trips, overwrites, group commit (one
// fsync per Ready), torn final writes cut with a warning, corruption and lost committed
// entries refused with a clear error, snapshots compacting segments, and a Raft node
// restarting from the store.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "replication/raft/node.h"
#include "replication/storage/segment_log_store.h"
#include "tests/support/process.h"

namespace homestead::storage {
namespace {

namespace fs = std::filesystem;
using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::Ready;

std::vector<Entry> entries(raft::Index from, raft::Index to, raft::Term term, const std::string& tag = "e") {
  std::vector<Entry> out;
  for (raft::Index i = from; i <= to; ++i) out.push_back({term, i, EntryType::normal, tag + std::to_string(i)});
  return out;
}

Ready ready(std::vector<Entry> es, std::optional<HardState> hs = std::nullopt) {
  Ready rd;
  rd.entries = std::move(es);
  rd.hard_state = hs;
  rd.must_sync = true;
  return rd;
}

LogStoreOptions options(const fs::path& dir, std::uint64_t segment_bytes = 64ull << 20) {
  LogStoreOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  return o;
}

std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& item : fs::directory_iterator(dir)) {
    if (item.path().extension() == ".seg") out.push_back(item.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void flip_byte(const fs::path& file, std::uintmax_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5a));
}

TEST(SegmentLogStore, RoundTripAndOverwrite) {
  testing::TempDir dir("logstore");
  {
    SegmentLogStore store(options(dir.path()));
    EXPECT_TRUE(store.load().entries.empty());
    store.persist(ready(entries(1, 5, 1), HardState{1, 2, 3}));
    // A follower's conflict: the leader's term-2 entries replace 4..5.
    store.persist(ready(entries(4, 6, 2, "new"), HardState{2, 0, 3}));
  }
  SegmentLogStore store(options(dir.path()));
  const LoadedLog log = store.load();
  EXPECT_EQ(log.hard_state, (HardState{2, 0, 3}));
  ASSERT_EQ(log.entries.size(), 6u);
  EXPECT_EQ(log.entries[2].data, "e3");
  EXPECT_EQ(log.entries[3].data, "new4");
  EXPECT_EQ(log.entries[5].term, 2u);
  EXPECT_TRUE(log.warnings.empty());
}

TEST(SegmentLogStore, GroupCommitIsOneFsyncPerReady) {
  testing::TempDir dir("logstore");
  SegmentLogStore store(options(dir.path()));
  store.load();
  store.persist(ready(entries(1, 500, 1), HardState{1, 1, 0}));
  store.persist(ready(entries(501, 1000, 1)));
  EXPECT_EQ(store.stats().syncs, 2u);
  EXPECT_EQ(store.stats().entries_written, 1000u);
  Ready commit_only;
  commit_only.hard_state = HardState{1, 1, 900};  // a commit index alone needs no fsync
  store.persist(commit_only);
  EXPECT_EQ(store.stats().syncs, 2u);
}

TEST(SegmentLogStore, TornFinalRecordIsCutWithAWarning) {
  testing::TempDir dir("logstore");
  {
    SegmentLogStore store(options(dir.path()));
    store.load();
    store.persist(ready(entries(1, 3, 1), HardState{1, 1, 1}));
    store.persist(ready(entries(4, 4, 1)));  // the write a crash tore
  }
  const fs::path segment = segments(dir.path()).back();
  fs::resize_file(segment, fs::file_size(segment) - 3);
  SegmentLogStore store(options(dir.path()));
  const LoadedLog log = store.load();
  ASSERT_EQ(log.entries.size(), 3u);
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_NE(log.warnings[0].find("torn final record"), std::string::npos) << log.warnings[0];
  // The store keeps working after the cut.
  store.persist(ready(entries(4, 4, 2)));
  SegmentLogStore again(options(dir.path()));
  EXPECT_EQ(again.load().entries.size(), 4u);
}

TEST(SegmentLogStore, CorruptRecordInTheMiddleIsRefusedWithFileAndOffset) {
  testing::TempDir dir("logstore");
  {
    SegmentLogStore store(options(dir.path()));
    store.load();
    store.persist(ready(entries(1, 10, 1), HardState{1, 1, 10}));
  }
  const fs::path segment = segments(dir.path()).back();
  flip_byte(segment, fs::file_size(segment) / 2);
  SegmentLogStore store(options(dir.path()));
  try {
    store.load();
    FAIL() << "a corrupt committed record must stop the node";
  } catch (const LogStoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(segment.filename().string()), std::string::npos) << what;
    EXPECT_NE(what.find("at byte"), std::string::npos) << what;
    EXPECT_NE(what.find("not a torn final write"), std::string::npos) << what;
  }
}

TEST(SegmentLogStore, EverySingleByteCorruptionIsDetected) {
  // Flip each byte of a small log in turn: loading must either refuse with an error, or
  // (only for the final record) cut it with a warning. It never returns altered data.
  testing::TempDir dir("logstore");
  {
    SegmentLogStore store(options(dir.path()));
    store.load();
    store.persist(ready(entries(1, 4, 1), HardState{1, 1, 2}));
  }
  const fs::path segment = segments(dir.path()).back();
  const std::string original = [&] {
    std::ifstream in(segment, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  const auto expected = entries(1, 4, 1);
  for (std::size_t offset = 0; offset < original.size(); ++offset) {
    {
      std::ofstream out(segment, std::ios::binary | std::ios::trunc);
      out << original;
    }
    flip_byte(segment, offset);
    SegmentLogStore store(options(dir.path()));
    try {
      const LoadedLog log = store.load();
      ASSERT_FALSE(log.warnings.empty()) << "byte " << offset << ": corruption went unnoticed";
      ASSERT_LE(log.entries.size(), expected.size());
      for (std::size_t i = 0; i < log.entries.size(); ++i) ASSERT_EQ(log.entries[i], expected[i]) << "byte " << offset;
    } catch (const LogStoreError&) {
      // refused: fine
    }
  }
}

TEST(SegmentLogStore, MissingCommittedEntriesAreRefused) {
  testing::TempDir dir("logstore");
  {
    SegmentLogStore store(options(dir.path(), /*segment_bytes=*/1));  // a segment per write
    store.load();
    store.persist(ready(entries(1, 3, 1)));
    store.persist(ready({}, HardState{1, 1, 3}));
  }
  auto files = segments(dir.path());
  ASSERT_GE(files.size(), 2u);
  fs::remove(files[files.size() - 2]);  // the segment holding entries 1..3 is gone
  SegmentLogStore store(options(dir.path(), 1));
  try {
    store.load();
    FAIL() << "losing committed entries must stop the node";
  } catch (const LogStoreError& e) {
    EXPECT_NE(std::string(e.what()).find("committed entries are missing"), std::string::npos) << e.what();
  }
}

TEST(SegmentLogStore, SnapshotCompactsSegmentsAndRestartsFromSnapshotPlusTail) {
  testing::TempDir dir("logstore");
  raft::Snapshot snapshot;
  snapshot.meta.index = 15;
  snapshot.meta.term = 1;
  snapshot.meta.conf.voters = {1, 2, 3};
  snapshot.data = "state@15";
  {
    SegmentLogStore store(options(dir.path(), 1));
    store.load();
    for (raft::Index i = 1; i <= 20; ++i) store.persist(ready(entries(i, i, 1), HardState{1, 1, i}));
    const std::size_t before = store.segment_count();
    store.save_snapshot(snapshot);
    EXPECT_LT(store.segment_count(), before - 10) << "segments below the snapshot are deleted";
  }
  SegmentLogStore store(options(dir.path(), 1));
  const LoadedLog log = store.load();
  ASSERT_TRUE(log.snapshot);
  EXPECT_EQ(log.snapshot->data, "state@15");
  EXPECT_EQ(log.snapshot->meta, snapshot.meta);
  ASSERT_EQ(log.entries.size(), 5u);
  EXPECT_EQ(log.entries.front().index, 16u);
  EXPECT_EQ(log.hard_state.commit, 20u);
}

TEST(SegmentLogStore, SnapshotFromLeaderReplacesTheLog) {
  testing::TempDir dir("logstore");
  {
    SegmentLogStore store(options(dir.path()));
    store.load();
    store.persist(ready(entries(1, 5, 1), HardState{1, 0, 2}));
    Ready install;
    install.snapshot = raft::Snapshot{{40, 3, {{1, 2, 3}, {}}}, "state@40"};
    install.hard_state = HardState{3, 0, 40};
    install.must_sync = true;
    store.persist(install);
    store.persist(ready(entries(41, 42, 3)));
  }
  SegmentLogStore store(options(dir.path()));
  const LoadedLog log = store.load();
  ASSERT_TRUE(log.snapshot);
  EXPECT_EQ(log.snapshot->meta.index, 40u);
  ASSERT_EQ(log.entries.size(), 2u);
  EXPECT_EQ(log.entries[0].index, 41u);
}

TEST(SegmentLogStore, CorruptSnapshotFileIsRefused) {
  testing::TempDir dir("logstore");
  {
    SegmentLogStore store(options(dir.path()));
    store.load();
    store.persist(ready(entries(1, 3, 1), HardState{1, 1, 3}));
    store.save_snapshot(raft::Snapshot{{3, 1, {{1}, {}}}, "abc"});
  }
  flip_byte(dir.path() / "snapshot", 6);
  SegmentLogStore store(options(dir.path()));
  EXPECT_THROW(store.load(), LogStoreError);
}

TEST(SegmentLogStore, RaftNodeRestartsFromTheStore) {
  testing::TempDir dir("logstore");
  raft::ConfState conf{{1}, {}};
  raft::Config config;
  config.id = 1;
  raft::Index committed = 0;
  {
    SegmentLogStore store(options(dir.path()));
    raft::Node node(config, store.load().bootstrap(conf));
    node.campaign();  // a single voter elects itself
    for (int i = 0; i < 10; ++i) node.propose("cmd" + std::to_string(i));
    while (node.has_ready()) {
      Ready rd = node.ready();
      store.persist(rd);
      node.advance(rd);
    }
    committed = node.commit_index();
    EXPECT_EQ(committed, 11u) << "no-op + 10 commands";
  }
  SegmentLogStore store(options(dir.path()));
  const LoadedLog log = store.load();
  raft::Node node(config, log.bootstrap(conf));
  EXPECT_EQ(node.commit_index(), committed);
  EXPECT_EQ(node.term(), 1u);
  Ready rd = node.ready();
  ASSERT_EQ(rd.committed.size(), 11u) << "everything is re-applied from the log";
  EXPECT_EQ(rd.committed.back().data, "cmd9");
}

}  // namespace
}  // namespace homestead::storage
