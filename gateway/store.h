// gatewayd's SQLite database: device registry, readings history, command log, API tokens and
// app state (for the transactuation runtime). WAL mode with synchronous=FULL: a call that
// returns has committed and fsynced, so whatever the API reports as stored survives kill -9.
// Schema changes are numbered migrations keyed on PRAGMA user_version.
//
// Two connections: one writer (serialised by a mutex) and one reader, so REST reads do not
// wait behind a batch of reading inserts (WAL lets them run concurrently). A third one
// checkpoints the WAL (checkpoint_when_due()), so no commit pays for a checkpoint's fsyncs.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/records.h"

namespace homestead::gateway {

namespace sqlite {
class Statement;
}

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ReadingQuery {
  std::string device;
  std::int64_t since_ms = 0;          // inclusive, gateway receive time
  std::int64_t until_ms = INT64_MAX;  // inclusive
  int limit = 100;                    // newest first
};

class Store {
 public:
  // Opens (creating if needed) and migrates. Throws StoreError.
  explicit Store(const std::filesystem::path& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version();
  // "ok" when the database is sound.
  std::string integrity_check();

  // Registry.
  void upsert_device(const DeviceRecord& device);
  bool delete_device(const std::string& id);
  std::optional<DeviceRecord> device(const std::string& id);
  std::vector<DeviceRecord> devices();

  // Readings: one transaction (one fsync) per batch. `also` runs inside that transaction on
  // the writer connection (the sync outbox appends the batch's reported changes there, so a
  // stored reading can never miss the outbox).
  using SameTransaction = std::function<void(sqlite3* db)>;
  void insert_readings(const std::vector<Reading>& batch, const SameTransaction& also = {});
  std::vector<Reading> readings(const ReadingQuery& query);
  std::int64_t reading_count();
  // Deletes readings older than `min_received_ms`, then the oldest beyond `max_rows`.
  std::int64_t apply_retention(std::int64_t min_received_ms, std::int64_t max_rows);

  // Command log; the transactuation runtime's commands go through the same table.
  void put_command(const CommandRecord& command);
  std::optional<CommandRecord> command(const std::string& id);
  // Commands still pending or sent (for restart recovery).
  std::vector<CommandRecord> open_commands();
  // A transactuation command published under a shared device's lease: its fencing token.
  void put_fenced_actuation(const std::string& cmd_id, const std::string& device, std::uint64_t fencing_token,
                            std::int64_t at_ms);
  std::optional<std::uint64_t> fenced_actuation(const std::string& cmd_id);

  // API tokens (hashes only).
  void put_token(const TokenRecord& token);
  std::vector<TokenRecord> tokens();

  // Copies committed WAL frames into the database file (PASSIVE: never waits for or blocks
  // the writer). The writer connection does not checkpoint by itself: with SQLite's default
  // every 1000th page of commits pays for a checkpoint and its fsyncs inside COMMIT, in the
  // middle of an ingest batch or a command's path. Returns the WAL frames not yet copied (0
  // when caught up).
  int checkpoint();
  // What the gateway's ticker calls: nothing until the WAL holds kCheckpointFrames, then a
  // PASSIVE pass alongside the commits, then a second pass for the few frames that arrived
  // meanwhile, with commits held back (under a steady stream a commit always lands inside a
  // pass, and passes alone then never let the WAL start over). Once caught up, the next
  // commit starts the WAL file over, so the WAL stays within its preallocated size
  // (kPreallocatedWalFrames) and commits overwrite blocks already written: an fdatasync
  // that changes no file size and journals no metadata (measured ~40% cheaper per commit,
  // gateway/README.md). Returns the frames left (0 when caught up).
  int checkpoint_when_due();
  // Frames in the WAL after the last commit on the writer connection. The ticker checkpoints
  // only past kCheckpointFrames: a checkpoint's own two fsyncs (WAL, database) delay any
  // commit that meets them, so they are kept as rare as SQLite's default makes them.
  int wal_frames() const { return wal_frames_; }
  static constexpr int kCheckpointFrames = 1000;
  // The WAL file is extended with written zeros to this many frames when the store opens
  // (twice the checkpoint threshold: the ticker notices within 100 ms), ~8 MB.
  static constexpr int kPreallocatedWalFrames = 2 * kCheckpointFrames;

  // Key/value app state, one namespace per app.
  void put_app_state(const std::string& app, const std::string& key, const std::string& value, std::int64_t now_ms);
  std::optional<std::string> app_state(const std::string& app, const std::string& key);

 private:
  void migrate();
  // The hot statements (every reading batch, every command step, every long-poll answer)
  // are prepared once and reused under their connection's mutex.
  sqlite::Statement& prepared(std::unique_ptr<sqlite::Statement>& slot, sqlite3* db, std::string_view sql);
  std::unique_ptr<sqlite::Statement> insert_reading_, put_command_, get_command_;
  sqlite3* writer_ = nullptr;
  sqlite3* reader_ = nullptr;
  sqlite3* checkpointer_ = nullptr;
  std::mutex checkpoint_mutex_;
  std::atomic<int> wal_frames_{0};
  std::mutex writer_mutex_;
  std::mutex reader_mutex_;
};

}  // namespace homestead::gateway
