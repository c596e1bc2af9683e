#include "gateway/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/fs/write_zeros.h"
#include "gateway/sqlite_util.h"

namespace homestead::gateway {
namespace {

// Each entry moves the schema one version up; never edit a shipped entry, append a new one.
// Version 1: registry, readings, command log, tokens, app state. Later issues add their
// tables (intent log, outbox) as further entries.
constexpr std::array<std::string_view, 3> kMigrations = {
    R"sql(
CREATE TABLE devices(
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, room TEXT NOT NULL,
  credentials TEXT NOT NULL, source TEXT NOT NULL, mqtt_password_hash TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE readings(
  id INTEGER PRIMARY KEY, device TEXT NOT NULL, received_ms INTEGER NOT NULL,
  device_ts_ms INTEGER NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL);
CREATE INDEX readings_by_device_time ON readings(device, received_ms);
CREATE INDEX readings_by_time ON readings(received_ms);
CREATE TABLE commands(
  id TEXT PRIMARY KEY, device TEXT NOT NULL, command TEXT NOT NULL, args TEXT NOT NULL,
  status TEXT NOT NULL, reason TEXT NOT NULL, origin TEXT NOT NULL,
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
  sent_ms INTEGER NOT NULL, acked_ms INTEGER NOT NULL);
CREATE INDEX commands_open ON commands(status) WHERE status IN ('pending', 'sent');
CREATE TABLE tokens(id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE app_state(app TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_ms INTEGER NOT NULL,
  PRIMARY KEY(app, key));
)sql",
    // Version 2: shared devices. The fencing token of the lease a command was published
    // under (REST commands in `commands`, transactuation commands in `fenced_actuations`).
    R"sql(
ALTER TABLE commands ADD COLUMN fencing_token INTEGER NOT NULL DEFAULT 0;
CREATE TABLE fenced_actuations(cmd_id TEXT PRIMARY KEY, device TEXT NOT NULL, fencing_token INTEGER NOT NULL,
  at_ms INTEGER NOT NULL);
)sql",
    // Version 3: a command's commit writes one page instead of three. The log keyed by id
    // itself (WITHOUT ROWID: no separate id index) and without the partial index of open
    // commands, which only the startup scan used (a full scan there instead). A command's
    // two commits sit on a REST command's round trip (gateway/README.md).
    R"sql(
CREATE TABLE commands_v3(
  id TEXT PRIMARY KEY, device TEXT NOT NULL, command TEXT NOT NULL, args TEXT NOT NULL,
  status TEXT NOT NULL, reason TEXT NOT NULL, origin TEXT NOT NULL,
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
  sent_ms INTEGER NOT NULL, acked_ms INTEGER NOT NULL, fencing_token INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
INSERT INTO commands_v3 SELECT id, device, command, args, status, reason, origin, created_ms, updated_ms, expires_ms,
  sent_ms, acked_ms, fencing_token FROM commands;
DROP TABLE commands;
ALTER TABLE commands_v3 RENAME TO commands;
)sql",
};

using sqlite::exec;
using sqlite::fail;
using sqlite::open_connection;
using sqlite::Statement;

DeviceRecord device_from(const Statement& s) {
  DeviceRecord d;
  d.id = s.text(0);
  d.kind = s.text(1);
  d.name = s.text(2);
  d.room = s.text(3);
  d.credentials = s.text(4);
  d.source = s.text(5);
  d.mqtt_password_hash = s.text(6);
  d.created_ms = s.integer(7);
  d.updated_ms = s.integer(8);
  return d;
}

constexpr std::string_view kDeviceColumns =
    "id, kind, name, room, credentials, source, mqtt_password_hash, created_ms, updated_ms";
constexpr std::string_view kCommandColumns =
    "id, device, command, args, status, reason, origin, created_ms, updated_ms, expires_ms, sent_ms, acked_ms, "
    "fencing_token";

CommandRecord command_from(const Statement& s) {
  CommandRecord c;
  c.id = s.text(0);
  c.device = s.text(1);
  c.command = s.text(2);
  c.args = nlohmann::json::parse(s.text(3), nullptr, false);
  if (c.args.is_discarded()) c.args = nlohmann::json::object();
  parse_status(s.text(4), c.status);
  c.reason = s.text(5);
  c.origin = s.text(6);
  c.created_ms = s.integer(7);
  c.updated_ms = s.integer(8);
  c.expires_ms = s.integer(9);
  c.sent_ms = s.integer(10);
  c.acked_ms = s.integer(11);
  c.fencing_token = static_cast<std::uint64_t>(s.integer(12));
  return c;
}

// Extends `path`-wal with written zeros to `frames` frames of 4 KiB pages (SQLite's default
// page size), so that commits, until the WAL outgrows it, overwrite blocks the file already
// has instead of appending. Only ever appends: an existing WAL (after a crash: frames not
// yet checkpointed) keeps every byte, and SQLite's recovery stops at the first frame whose
// checksum fails, which zeros always do. A zero header reads as an empty WAL.
void preallocate_wal(const std::filesystem::path& path, int frames) {
  constexpr off_t kWalHeader = 32, kFrame = 24 + 4096;
  const off_t want = kWalHeader + frames * kFrame;
  const auto wal = path.string() + "-wal";
  const int fd = ::open(wal.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw StoreError("preallocating " + wal + ": " + std::strerror(errno));
  const off_t have = ::lseek(fd, 0, SEEK_END);
  bool ok = have >= 0 && (have >= want || fs::write_zeros(fd, static_cast<std::uint64_t>(have),
                                                             static_cast<std::uint64_t>(want)));
  if (ok && have < want) ok = ::fdatasync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok) throw StoreError("preallocating " + wal + ": " + std::strerror(error));
}

}  // namespace

Store::Store(const std::filesystem::path& path) {
  writer_ = open_connection(path);
  try {
    // WAL: readers never block the writer; FULL: every commit is fsynced before it returns,
    // which is what "durable" means in this project.
    exec(writer_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    migrate();
    // After the migrations: SQLite deletes a WAL it finds beside an empty database, and the
    // WAL is its now. No other connection or thread writes yet, so appending is safe.
    preallocate_wal(path, kPreallocatedWalFrames);
    // Checkpoints run on their own connection (checkpoint()), not inside our commits. The
    // hook (which replaces SQLite's autocheckpoint) notes the WAL's size after each commit,
    // and checkpoints in the commit only as a backstop should the ticker stall (~40 MB WAL).
    sqlite3_wal_hook(
        writer_,
        [](void* self, sqlite3* db, const char* name, int frames) {
          static_cast<Store*>(self)->wal_frames_ = frames;
          if (frames >= 10 * kCheckpointFrames) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
          return SQLITE_OK;
        },
        this);
    reader_ = open_connection(path);
    exec(reader_, "PRAGMA query_only=ON;");
    checkpointer_ = open_connection(path);
    exec(checkpointer_, "PRAGMA wal_autocheckpoint=0;");
  } catch (...) {
    sqlite3_close(writer_);
    sqlite3_close(reader_);
    sqlite3_close(checkpointer_);
    throw;
  }
}

Store::~Store() {
  // Statements first: a connection with unfinalised statements does not close.
  insert_reading_.reset();
  put_command_.reset();
  get_command_.reset();
  sqlite3_close(checkpointer_);
  sqlite3_close(reader_);
  sqlite3_close(writer_);
}

sqlite::Statement& Store::prepared(std::unique_ptr<Statement>& slot, sqlite3* db, std::string_view sql) {
  if (!slot) slot = std::make_unique<Statement>(db, sql);
  slot->reset();  // also after a step that threw
  return *slot;
}

void Store::migrate() {
  std::lock_guard lock(writer_mutex_);
  Statement version(writer_, "PRAGMA user_version");
  version.step();
  const auto current = version.integer(0);
  version.reset();  // an active statement would lock the tables a migration drops
  if (current > static_cast<std::int64_t>(kMigrations.size())) {
    throw StoreError("database schema version " + std::to_string(current) + " is newer than this gatewayd (" +
                     std::to_string(kMigrations.size()) + "); refusing to open it");
  }
  for (auto v = current; v < static_cast<std::int64_t>(kMigrations.size()); ++v) {
    exec(writer_, "BEGIN IMMEDIATE");
    try {
      exec(writer_, kMigrations[static_cast<std::size_t>(v)]);
      exec(writer_, "PRAGMA user_version=" + std::to_string(v + 1));
      exec(writer_, "COMMIT");
    } catch (...) {
      exec(writer_, "ROLLBACK");
      throw;
    }
  }
}

int Store::checkpoint() {
  std::lock_guard lock(checkpoint_mutex_);
  // The pragma, not sqlite3_wal_checkpoint_v2(): that is a silent no-op on a connection that
  // has not read the database yet (it does not know the file is in WAL mode).
  Statement s(checkpointer_, "PRAGMA wal_checkpoint(PASSIVE)");
  try {
    if (!s.step()) return 0;
  } catch (const StoreError&) {
    // Another connection (the outbox's) is checkpointing right now: the next call catches up.
    if (sqlite3_errcode(checkpointer_) == SQLITE_BUSY || sqlite3_errcode(checkpointer_) == SQLITE_LOCKED) return 0;
    throw;
  }
  // (busy, frames in the WAL, frames copied); -1 frames when the WAL is not open.
  const auto wal_frames = s.integer(1), copied = s.integer(2);
  const int left = wal_frames > copied ? static_cast<int>(wal_frames - copied) : 0;
  if (left == 0) wal_frames_ = 0;  // the next commit starts the WAL over
  return left;
}

int Store::checkpoint_when_due() {
  if (wal_frames_ < kCheckpointFrames) return 0;
  checkpoint();
  // Even a first pass that caught up leaves the WAL short when a commit landed while it ran
  // (that commit read a WAL not yet copied, so it appended, and so does every commit after
  // it). Commits wait for this second pass, which copies only what arrived meanwhile.
  std::lock_guard hold_commits(writer_mutex_);
  return checkpoint();
}

int Store::schema_version() {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "PRAGMA user_version");
  s.step();
  return static_cast<int>(s.integer(0));
}

std::string Store::integrity_check() {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "PRAGMA integrity_check");
  std::string out;
  while (s.step()) out += (out.empty() ? "" : "; ") + s.text(0);
  return out;
}

void Store::upsert_device(const DeviceRecord& d) {
  std::lock_guard lock(writer_mutex_);
  Statement s(writer_, "INSERT INTO devices(" + std::string(kDeviceColumns) +
                           ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(id) DO UPDATE SET kind=?2, name=?3, "
                           "room=?4, credentials=?5, source=?6, mqtt_password_hash=?7, updated_ms=?9");
  s.bind(1, d.id).bind(2, d.kind).bind(3, d.name).bind(4, d.room).bind(5, d.credentials).bind(6, d.source);
  s.bind(7, d.mqtt_password_hash).bind(8, d.created_ms).bind(9, d.updated_ms);
  s.run();
}

bool Store::delete_device(const std::string& id) {
  std::lock_guard lock(writer_mutex_);
  Statement s(writer_, "DELETE FROM devices WHERE id=?1");
  s.bind(1, id).run();
  return sqlite3_changes(writer_) > 0;
}

std::optional<DeviceRecord> Store::device(const std::string& id) {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "SELECT " + std::string(kDeviceColumns) + " FROM devices WHERE id=?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return device_from(s);
}

std::vector<DeviceRecord> Store::devices() {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "SELECT " + std::string(kDeviceColumns) + " FROM devices ORDER BY id");
  std::vector<DeviceRecord> out;
  while (s.step()) out.push_back(device_from(s));
  return out;
}

void Store::insert_readings(const std::vector<Reading>& batch, const SameTransaction& also) {
  if (batch.empty()) return;
  std::lock_guard lock(writer_mutex_);
  sqlite::WriteTransaction txn(writer_);
  auto& s = prepared(insert_reading_, writer_,
                     "INSERT INTO readings(device, received_ms, device_ts_ms, seq, state) VALUES(?1,?2,?3,?4,?5)");
  for (const auto& r : batch) {
    s.bind(1, r.device).bind(2, r.received_ms).bind(3, r.device_ts_ms).bind(4, static_cast<std::int64_t>(r.seq));
    s.bind(5, r.state).run();
  }
  if (also) also(writer_);
  txn.commit();
}

std::vector<Reading> Store::readings(const ReadingQuery& q) {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_,
              "SELECT device, received_ms, device_ts_ms, seq, state FROM readings WHERE device=?1 AND received_ms>=?2 "
              "AND received_ms<=?3 ORDER BY received_ms DESC, id DESC LIMIT ?4");
  s.bind(1, q.device).bind(2, q.since_ms).bind(3, q.until_ms).bind(4, static_cast<std::int64_t>(q.limit));
  std::vector<Reading> out;
  while (s.step()) {
    out.push_back({s.text(0), s.integer(1), s.integer(2), static_cast<std::uint64_t>(s.integer(3)), s.text(4)});
  }
  return out;
}

std::int64_t Store::reading_count() {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "SELECT count(*) FROM readings");
  s.step();
  return s.integer(0);
}

std::int64_t Store::apply_retention(std::int64_t min_received_ms, std::int64_t max_rows) {
  std::lock_guard lock(writer_mutex_);
  Statement by_age(writer_, "DELETE FROM readings WHERE received_ms < ?1");
  by_age.bind(1, min_received_ms).run();
  std::int64_t removed = sqlite3_changes(writer_);
  // Rows are inserted in receive order, so the rowid order is the age order.
  Statement by_size(writer_,
                    "DELETE FROM readings WHERE id <= (SELECT id FROM readings ORDER BY id DESC LIMIT 1 OFFSET ?1)");
  by_size.bind(1, max_rows).run();
  removed += sqlite3_changes(writer_);
  return removed;
}

void Store::put_command(const CommandRecord& c) {
  std::lock_guard lock(writer_mutex_);
  auto& s = prepared(put_command_, writer_,
                     "INSERT OR REPLACE INTO commands(" + std::string(kCommandColumns) +
                         ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
  s.bind(1, c.id).bind(2, c.device).bind(3, c.command).bind(4, c.args.dump()).bind(5, std::string(status_name(c.status)));
  s.bind(6, c.reason).bind(7, c.origin).bind(8, c.created_ms).bind(9, c.updated_ms).bind(10, c.expires_ms);
  s.bind(11, c.sent_ms).bind(12, c.acked_ms).bind(13, static_cast<std::int64_t>(c.fencing_token)).run();
}

void Store::put_fenced_actuation(const std::string& cmd_id, const std::string& device, std::uint64_t fencing_token,
                                 std::int64_t at_ms) {
  std::lock_guard lock(writer_mutex_);
  Statement s(writer_, "INSERT OR REPLACE INTO fenced_actuations(cmd_id, device, fencing_token, at_ms) "
                       "VALUES(?1,?2,?3,?4)");
  s.bind(1, cmd_id).bind(2, device).bind(3, static_cast<std::int64_t>(fencing_token)).bind(4, at_ms).run();
}

std::optional<std::uint64_t> Store::fenced_actuation(const std::string& cmd_id) {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "SELECT fencing_token FROM fenced_actuations WHERE cmd_id=?1");
  s.bind(1, cmd_id);
  if (!s.step()) return std::nullopt;
  return static_cast<std::uint64_t>(s.integer(0));
}

std::optional<CommandRecord> Store::command(const std::string& id) {
  std::lock_guard lock(reader_mutex_);
  auto& s = prepared(get_command_, reader_, "SELECT " + std::string(kCommandColumns) + " FROM commands WHERE id=?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto found = command_from(s);
  s.reset();  // ends the read transaction now, so the WAL can be checkpointed past it
  return found;
}

std::vector<CommandRecord> Store::open_commands() {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "SELECT " + std::string(kCommandColumns) +
                           " FROM commands WHERE status IN ('pending','sent') ORDER BY created_ms, id");
  std::vector<CommandRecord> out;
  while (s.step()) out.push_back(command_from(s));
  return out;
}

void Store::put_token(const TokenRecord& t) {
  std::lock_guard lock(writer_mutex_);
  Statement s(writer_, "INSERT OR REPLACE INTO tokens(id, hash, scope, created_ms) VALUES(?1,?2,?3,?4)");
  s.bind(1, t.id).bind(2, t.hash).bind(3, std::string(scope_name(t.scope))).bind(4, t.created_ms).run();
}

std::vector<TokenRecord> Store::tokens() {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "SELECT id, hash, scope, created_ms FROM tokens ORDER BY id");
  std::vector<TokenRecord> out;
  while (s.step()) {
    TokenRecord t{s.text(0), s.text(1), Scope::read, s.integer(3)};
    parse_scope(s.text(2), t.scope);
    out.push_back(std::move(t));
  }
  return out;
}

void Store::put_app_state(const std::string& app, const std::string& key, const std::string& value, std::int64_t now_ms) {
  std::lock_guard lock(writer_mutex_);
  Statement s(writer_, "INSERT OR REPLACE INTO app_state(app, key, value, updated_ms) VALUES(?1,?2,?3,?4)");
  s.bind(1, app).bind(2, key).bind(3, value).bind(4, now_ms).run();
}

std::optional<std::string> Store::app_state(const std::string& app, const std::string& key) {
  std::lock_guard lock(reader_mutex_);
  Statement s(reader_, "SELECT value FROM app_state WHERE app=?1 AND key=?2");
  s.bind(1, app).bind(2, key);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

}  // namespace homestead::gateway
