// RaftServer's snapshots, in steps that never hold the Raft loop for long (issue 7: a
// snapshot taken in one go held every member's loop 50-200 ms at 64 clients): freeze the
// state on the loop, encode a slice of keys per loop turn, write + fsync the file on a
// background thread, compact on the loop once the file is durable.
#include <algorithm>

#include "cloud/cloudd/raft_loop_util.h"
#include "cloud/cloudd/raft_server.h"

namespace homestead::cloudd {
namespace {

const log::Logger& logger() { return raft_logger(); }

}  // namespace

void RaftServer::maybe_snapshot() {
  if (config_.snapshot_entries == 0 || snapshot_running_) return;
  const raft::Index applied = node_->applied_index();
  // Members apply the same entries at about the same time, so with one threshold all of
  // them would encode and write their snapshots together (on two cores: every member slow
  // at once). The first snapshot of a run waits an extra id-dependent part of the period;
  // later ones follow every snapshot_entries, so the members stay spread out.
  const raft::Index stagger =
      stats_.snapshots == 0 ? (config_.id % 3) * static_cast<raft::Index>(config_.snapshot_entries) / 3 : 0;
  if (applied < node_->log().snapshot_index() + config_.snapshot_entries + stagger) return;
  // A snapshot writes the whole state; a big state written every snapshot_entries entries
  // wrote far more than the log itself (64 clients: ~10 MB per member every 2 s on one disk,
  // and the WAL's fdatasyncs waited behind it). Past 1 MB, wait until the log since the last
  // snapshot is at least half the last snapshot's size (snapshot bytes <= 2x log bytes),
  // but never past 10x snapshot_entries (etcd's default snapshot count at our default),
  // which bounds the log in memory and the replay at start.
  if (last_snapshot_bytes_ > kSnapshotRatioFloorBytes && applied_bytes_since_snapshot_ < last_snapshot_bytes_ / 2 &&
      applied < node_->log().snapshot_index() + 10 * config_.snapshot_entries) {
    return;
  }
  // The state machine holds exactly `applied` here (handle_ready applied every committed
  // entry).
  const auto meta = node_->snapshot_meta_at(applied);
  if (!meta) return;
  const auto start = SteadyClock::now();
  SnapshotJob job;
  {
    std::unique_lock lock(state_mutex_);
    job.frozen = state_.freeze();
  }
  job.meta = *meta;
  job.started = start;
  applied_bytes_since_snapshot_ = 0;
  job.loop_us = micros_since(start);
  turn_.snapshot_us += job.loop_us;
  snapshot_job_ = std::move(job);
  snapshot_running_ = true;
}

void RaftServer::continue_snapshot() {
  if (!snapshot_job_) return;
  const auto start = SteadyClock::now();
  // ~50-100 us of encoding per loop turn; a few MB take a few dozen turns.
  constexpr std::size_t kSliceKeys = 256;
  SnapshotJob& job = *snapshot_job_;
  const bool ok = state_.encode_frozen(job.frozen, kSliceKeys);
  job.loop_us += micros_since(start);
  turn_.snapshot_us += micros_since(start);
  if (ok && !job.frozen.finished) return;
  {
    std::unique_lock lock(state_mutex_);
    if (ok) state_.thaw();
  }
  SnapshotJob done = std::move(job);
  snapshot_job_.reset();
  stats_.last_snapshot_us = static_cast<std::uint64_t>(done.loop_us);
  if (!ok) {  // a snapshot from the leader replaced the state meanwhile
    snapshot_running_ = false;
    return;
  }
  std::string data;
  try {
    data = done.frozen.take();
  } catch (const std::logic_error& e) {
    logger().error("snapshot encoding inconsistent; keeping the log", {{"error", e.what()}});
    snapshot_running_ = false;
    return;
  }
  last_snapshot_bytes_ = data.size();
  logger().info("snapshot encoded", {{"index", std::to_string(done.meta.index)},
                                     {"bytes", std::to_string(data.size())},
                                     {"loop_ms", std::to_string(done.loop_us / 1000)},
                                     {"ms", std::to_string(micros_since(done.started) / 1000)}});
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  snapshot_thread_ = std::thread([this, meta = done.meta, data = std::move(data)]() mutable {
    write_snapshot_in_background(meta, std::move(data));
  });
}

void RaftServer::write_snapshot_in_background(raft::SnapshotMeta meta, std::string data) {
  const auto start = SteadyClock::now();
  bool ok = false;
  try {
    ok = store_->write_snapshot(raft::Snapshot{meta, data});
    logger().info("snapshot written", {{"index", std::to_string(meta.index)},
                                       {"bytes", std::to_string(data.size())},
                                       {"ms", std::to_string(micros_since(start) / 1000)}});
  } catch (const std::exception& e) {
    // The log still holds everything: no snapshot this time is safe, just larger.
    logger().error("snapshot write failed; keeping the log", {{"index", std::to_string(meta.index)}, {"error", e.what()}});
  }
  if (!ok) data.clear();
  post([this, meta, data = std::move(data), ok]() mutable {
    if (ok) {
      finish_snapshot(meta, std::move(data));
    } else {
      snapshot_running_ = false;
    }
  });
}

void RaftServer::finish_snapshot(raft::SnapshotMeta meta, std::string data) {
  const auto start = SteadyClock::now();
  // Skipped by the core when a snapshot from the leader already covers this index.
  node_->compact(meta.index, std::move(data));
  store_->compacted(node_->log().snapshot_index());
  turn_.snapshot_us += micros_since(start);
  stats_.last_snapshot_us += static_cast<std::uint64_t>(micros_since(start));
  ++stats_.snapshots;
  snapshot_running_ = false;
  logger().info("snapshot taken", {{"index", std::to_string(meta.index)},
                                   {"loop_ms", std::to_string(micros_since(start) / 1000)}});
}

}  // namespace homestead::cloudd
