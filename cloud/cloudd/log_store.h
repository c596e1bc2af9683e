// Where the Raft adapter keeps term, vote, log and snapshot. An interface so the adapter
// can move to replication/storage's durable log once that lands; FileLogStore below is
// cloudd's own fsynced write-ahead file until then.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "replication/raft/types.h"

namespace homestead::cloudd {

struct StoredState {
  raft::HardState hard_state;
  std::optional<raft::Snapshot> snapshot;
  std::vector<raft::Entry> entries;  // after the snapshot, contiguous
};

class LogStore {
 public:
  virtual ~LogStore() = default;
  // What a restarting node boots from. Throws StorageError on corruption.
  virtual StoredState load() = 0;
  // One Ready's durable part: a snapshot received from the leader (replaces everything up
  // to its index), entries (replace the log from entries.front().index on) and the hard
  // state; durable on return when `sync` is set.
  virtual void save(const std::optional<raft::HardState>& hard_state, const std::vector<raft::Entry>& entries,
                    const std::optional<raft::Snapshot>& snapshot, bool sync) = 0;
  // A snapshot this node took itself, made durable. Thread-safe against save()/compacted()
  // (RaftServer writes it on a background thread so the Raft loop never waits for it).
  // False, writing nothing, when a snapshot at or past its index is already on disk.
  virtual bool write_snapshot(const raft::Snapshot& snapshot) = 0;
  // The core compacted its log through `index`, whose snapshot is durable: the log up to
  // there may go. Same thread as save().
  virtual void compacted(raft::Index index) = 0;
  // Both, in order.
  void save_snapshot(const raft::Snapshot& snapshot) {
    if (write_snapshot(snapshot)) compacted(snapshot.meta.index);
  }
};

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace homestead::cloudd
