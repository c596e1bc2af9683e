// The durable Raft log: append-only segment files of checksummed records plus an atomically
// replaced snapshot file, in one directory.
//
//   record  = length:u32le  crc32c(type + payload):u32le  type:u8  payload
//   types   = entry | hard state | reset (the log restarts after a snapshot index)
//   files   = log-<16 hex digits>.seg (in order), snapshot (tmp + fsync + rename + dir fsync)
//
// One persist() writes every record of a Ready with a single write() and a single
// fdatasync(): group commit, since a Ready carries all proposals made since the previous
// one. A later entry record with an index already in the log overwrites the log from there
// (the follower's conflict truncation), so the files are never rewritten in place.
//
// Startup validates every checksum. A damaged record at the very end of the last segment is
// a torn write that was never acknowledged (no fsync completed): it is cut off with a
// warning. Damage anywhere else, or a log that ends before the persisted commit index,
// throws LogStoreError naming the file and byte offset: committed data is never silently
// dropped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "replication/raft/types.h"

namespace homestead::storage {

class LogStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LogStoreOptions {
  std::filesystem::path dir;
  std::uint64_t segment_bytes = 64ull << 20;  // roll to a new segment beyond this size
  bool fsync = true;                          // false only for benchmarks of the write path
};

struct LoadedLog {
  raft::HardState hard_state;
  std::optional<raft::Snapshot> snapshot;
  std::vector<raft::Entry> entries;  // contiguous after the snapshot
  std::vector<std::string> warnings; // e.g. a torn final record that was cut off
  // Ready to hand to raft::Node (applied = snapshot index: the state machine restarts from it).
  raft::Bootstrap bootstrap(raft::ConfState initial_conf) const;
};

struct LogStoreStats {
  std::uint64_t syncs = 0;
  std::uint64_t entries_written = 0;
  std::uint64_t bytes_written = 0;
};

class SegmentLogStore {
 public:
  explicit SegmentLogStore(LogStoreOptions options);
  ~SegmentLogStore();
  SegmentLogStore(const SegmentLogStore&) = delete;
  SegmentLogStore& operator=(const SegmentLogStore&) = delete;

  // Reads and validates everything; must be called once before persist().
  LoadedLog load();
  // Step 1 of the Ready contract: snapshot (if any), entries and hard state, durable on
  // return when ready.must_sync.
  void persist(const raft::Ready& ready);
  // The state machine's own snapshot at snapshot.meta.index (<= applied): stored durably,
  // then segments holding only older entries are deleted.
  void save_snapshot(const raft::Snapshot& snapshot);

  const LogStoreStats& stats() const { return stats_; }
  std::size_t segment_count() const { return segments_.size(); }

 private:
  struct Segment {
    std::filesystem::path path;
    std::uint64_t number = 0;
    raft::Index max_index = 0;  // highest entry index written into it
  };
  void append_records(const std::string& records, raft::Index max_index, bool sync);
  void open_segment(std::uint64_t number);
  void write_snapshot_file(const raft::Snapshot& snapshot);
  void drop_segments_up_to(raft::Index index);
  void sync_dir();

  LogStoreOptions options_;
  std::vector<Segment> segments_;
  int fd_ = -1;
  std::uint64_t active_size_ = 0;
  raft::HardState hard_state_;
  raft::Index snapshot_index_ = 0;
  bool loaded_ = false;
  LogStoreStats stats_;
};

}  // namespace homestead::storage
