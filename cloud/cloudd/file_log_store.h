// cloudd's durable Raft storage: one write-ahead file of checksummed records plus one
// snapshot file, fsynced before the adapter sends or acknowledges anything.
//
// wal file: records [u32 length][u32 crc32c][payload], payload = kind byte + body:
//   entries (they replace the log from their first index), hard state, compacted-through.
// Compaction appends a compacted-through record; the file is rewritten with only the live
// tail once it passes kRewriteBytes (so a snapshot every 10k entries costs the Raft loop
// no file rewrite, fsync or rename most of the time).
// The file is preallocated in chunks so an fdatasync rarely has to write metadata; a zero
// length marks the end. At startup a bad record at the very end is a torn write (never
// acknowledged, because acks wait for fsync) and is cut off; a bad record with data after it
// is corruption of acknowledged state and load() refuses with its offset instead of
// silently dropping committed entries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/cloudd/log_store.h"

namespace homestead::cloudd {

// CRC-32C (Castagnoli). Uses the SSE4.2 crc32 instruction when the CPU has it (checked once
// at run time), else the table version; both give the same value (tested).
std::uint32_t crc32c(std::string_view bytes);
std::uint32_t crc32c_table(std::string_view bytes);

class FileLogStore : public LogStore {
 public:
  // `fsync` false only for benchmarks that want to see the cost of durability.
  explicit FileLogStore(std::filesystem::path dir, bool fsync = true);
  ~FileLogStore() override;

  StoredState load() override;
  void save(const std::optional<raft::HardState>& hard_state, const std::vector<raft::Entry>& entries,
            const std::optional<raft::Snapshot>& snapshot, bool sync) override;
  bool write_snapshot(const raft::Snapshot& snapshot) override;
  void compacted(raft::Index index) override;

  std::uint64_t fsyncs() const { return fsyncs_; }
  std::filesystem::path wal_path() const { return dir_ / "raft.wal"; }
  std::filesystem::path snapshot_path() const { return dir_ / "snapshot.bin"; }

 private:
  void open_wal();
  void append_record(char kind, std::string_view body);
  // Under snapshot_file_mutex_; never replaces a newer snapshot file unless `force` (a
  // snapshot installed from the leader replaces everything).
  bool write_snapshot_file(const raft::Snapshot& snapshot, bool force);
  void drop_through(raft::Index index);
  void rewrite_wal();  // a fresh file with only the live state, swapped in atomically
  void sync_wal();

  std::filesystem::path dir_;
  bool fsync_;
  int fd_ = -1;
  std::uint64_t write_offset_ = 0;
  std::uint64_t allocated_ = 0;
  std::uint64_t fsyncs_ = 0;
  // Mirror of what the file holds, so compaction can rewrite it without reading it back.
  raft::HardState hard_state_;
  raft::Index snapshot_index_ = 0;
  std::vector<raft::Entry> entries_;
  std::mutex snapshot_file_mutex_;
  raft::Index snapshot_file_index_ = 0;  // what snapshot.bin holds; under the mutex
};

}  // namespace homestead::cloudd
