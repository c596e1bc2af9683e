#include "gateway/outbox.h"

#include "gateway/sqlite_util.h"

namespace homestead::gateway {
namespace {

using sqlite::Statement;

// Counters and positions live in one small table and change in the same transaction as the
// rows they describe, so they are never out of step after a crash.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER UNIQUE, kind TEXT NOT NULL, at_ms INTEGER NOT NULL,
  body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_unsent_reported ON outbox(id) WHERE seq IS NULL AND kind = 'reported';
CREATE TABLE IF NOT EXISTS outbox_refs(ref TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sync_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sync_conflicts(
  id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, device TEXT NOT NULL, attribute TEXT NOT NULL,
  local_value TEXT NOT NULL, desired_value TEXT NOT NULL, desired_version INTEGER NOT NULL,
  resolution TEXT NOT NULL, detail TEXT NOT NULL);
INSERT OR IGNORE INTO sync_meta(key, value) VALUES ('next_seq', 1);
)sql";

std::int64_t meta(sqlite3* db, const char* key) {
  Statement s(db, "SELECT value FROM sync_meta WHERE key=?1");
  s.bind(1, std::string(key));
  return s.step() ? s.integer(0) : 0;
}

void set_meta(sqlite3* db, const char* key, std::int64_t value) {
  Statement s(db, "INSERT INTO sync_meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value=?2");
  s.bind(1, std::string(key)).bind(2, value).run();
}

void add_meta(sqlite3* db, const char* key, std::int64_t delta) {
  if (delta == 0) return;
  Statement s(db, "INSERT INTO sync_meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value=value+?2");
  s.bind(1, std::string(key)).bind(2, delta).run();
}

// Drops the oldest reported row that has no seq yet; false when there is none.
bool drop_oldest_unsent_reported(sqlite3* db) {
  Statement find(db, "SELECT id, length(body) FROM outbox WHERE seq IS NULL AND kind='reported' ORDER BY id LIMIT 1");
  if (!find.step()) return false;
  const auto id = find.integer(0);
  const auto bytes = find.integer(1);
  Statement del(db, "DELETE FROM outbox WHERE id=?1");
  del.bind(1, id).run();
  add_meta(db, "depth", -1);
  add_meta(db, "bytes", -bytes);
  add_meta(db, "dropped", 1);
  return true;
}

}  // namespace

nlohmann::json ConflictRecord::to_json() const {
  return {{"device", device},
          {"attribute", attribute},
          {"local_value", local_value},
          {"desired_value", desired_value},
          {"desired_version", desired_version},
          {"resolution", resolution},
          {"detail", detail},
          {"at_ms", at_ms}};
}

Outbox::Outbox(const std::filesystem::path& path, std::int64_t max_items) : max_items_(max_items) {
  db_ = sqlite::open_connection(path);
  try {
    sqlite::exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    sqlite::WriteTransaction txn(db_);
    sqlite::exec(db_, kSchema);
    txn.commit();
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

Outbox::~Outbox() { sqlite3_close(db_); }

AppendResult Outbox::append_in(sqlite3* db, const std::vector<OutboxEntry>& entries, std::int64_t max_items) {
  AppendResult result;
  if (entries.empty()) return result;
  auto depth = meta(db, "depth");
  Statement insert(db, "INSERT INTO outbox(kind, at_ms, body) VALUES(?1, ?2, ?3)");
  Statement remember(db, "INSERT OR IGNORE INTO outbox_refs(ref) VALUES(?1)");
  for (const auto& e : entries) {
    if (!e.ref.empty()) {
      remember.bind(1, e.ref).run();
      if (sqlite3_changes(db) == 0) {
        ++result.duplicates;
        continue;
      }
    }
    if (depth >= max_items) {
      if (drop_oldest_unsent_reported(db)) {
        --depth;
        ++result.dropped;
      } else if (e.kind == kItemReported) {
        add_meta(db, "dropped", 1);
        ++result.dropped;
        continue;
      }
    }
    insert.bind(1, e.kind).bind(2, e.at_ms).bind(3, e.body).run();
    ++depth;
    add_meta(db, "depth", 1);
    add_meta(db, "bytes", static_cast<std::int64_t>(e.body.size()));
    ++result.appended;
  }
  return result;
}

AppendResult Outbox::append(const std::vector<OutboxEntry>& entries) {
  std::lock_guard lock(mutex_);
  sqlite::WriteTransaction txn(db_);
  auto result = append_in(db_, entries, max_items_);
  txn.commit();
  return result;
}

bool Outbox::has_ref(const std::string& ref) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT 1 FROM outbox_refs WHERE ref=?1");
  s.bind(1, ref);
  return s.step();
}

std::vector<OutboxRow> Outbox::next_batch(std::size_t max) {
  std::lock_guard lock(mutex_);
  sqlite::WriteTransaction txn(db_);
  Statement s(db_, "SELECT id, seq, kind, at_ms, body FROM outbox ORDER BY id LIMIT ?1");
  s.bind(1, static_cast<std::int64_t>(max));
  std::vector<OutboxRow> rows;
  std::vector<std::int64_t> unsent_ids;
  while (s.step()) {
    rows.push_back({s.is_null(1) ? 0 : static_cast<std::uint64_t>(s.integer(1)), s.text(2), s.integer(3), s.text(4)});
    if (s.is_null(1)) unsent_ids.push_back(s.integer(0));
  }
  if (!unsent_ids.empty()) {
    // Rows with a seq always precede those without (seqs are given in rowid order and only
    // unsent rows are ever dropped), so the new seqs continue the sent ones without a gap.
    auto next = static_cast<std::uint64_t>(meta(db_, "next_seq"));
    Statement assign(db_, "UPDATE outbox SET seq=?1 WHERE id=?2");
    std::size_t u = 0;
    for (auto& row : rows) {
      if (row.seq != 0) continue;
      row.seq = next++;
      assign.bind(1, static_cast<std::int64_t>(row.seq)).bind(2, unsent_ids[u++]).run();
    }
    set_meta(db_, "next_seq", static_cast<std::int64_t>(next));
  }
  txn.commit();
  return rows;
}

std::size_t Outbox::acknowledge(std::uint64_t applied_through) {
  std::lock_guard lock(mutex_);
  sqlite::WriteTransaction txn(db_);
  const auto through = static_cast<std::int64_t>(applied_through);
  Statement sum(db_, "SELECT count(*), coalesce(sum(length(body)), 0) FROM outbox WHERE seq IS NOT NULL AND seq<=?1");
  sum.bind(1, through);
  sum.step();
  const auto rows = sum.integer(0);
  const auto bytes = sum.integer(1);
  Statement del(db_, "DELETE FROM outbox WHERE seq IS NOT NULL AND seq<=?1");
  del.bind(1, through).run();
  add_meta(db_, "depth", -rows);
  add_meta(db_, "bytes", -bytes);
  if (through > meta(db_, "applied_through")) set_meta(db_, "applied_through", through);
  txn.commit();
  return static_cast<std::size_t>(rows);
}

void Outbox::finish_desired(std::uint64_t cursor, bool applied, const std::vector<ConflictRecord>& conflicts,
                            std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  sqlite::WriteTransaction txn(db_);
  std::vector<OutboxEntry> items;
  Statement insert(db_,
                   "INSERT INTO sync_conflicts(at_ms, device, attribute, local_value, desired_value, desired_version, "
                   "resolution, detail) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)");
  for (const auto& c : conflicts) {
    insert.bind(1, c.at_ms).bind(2, c.device).bind(3, c.attribute).bind(4, c.local_value.dump());
    insert.bind(5, c.desired_value.dump()).bind(6, static_cast<std::int64_t>(c.desired_version));
    insert.bind(7, c.resolution).bind(8, c.detail).run();
    items.push_back({kItemConflict, now_ms, c.to_json().dump(), {}});
  }
  append_in(db_, items, max_items_);
  add_meta(db_, "conflicts_resolved", static_cast<std::int64_t>(conflicts.size()));
  add_meta(db_, applied ? "desired_applied" : "desired_failed", 1);
  if (static_cast<std::int64_t>(cursor) > meta(db_, "desired_cursor")) {
    set_meta(db_, "desired_cursor", static_cast<std::int64_t>(cursor));
  }
  txn.commit();
}

void Outbox::set_desired_run(std::uint64_t cursor, std::uint64_t run_id) {
  std::lock_guard lock(mutex_);
  sqlite::WriteTransaction txn(db_);
  set_meta(db_, "desired_run_cursor", static_cast<std::int64_t>(cursor));
  set_meta(db_, "desired_run_id", static_cast<std::int64_t>(run_id));
  txn.commit();
}

std::pair<std::uint64_t, std::uint64_t> Outbox::desired_run() {
  std::lock_guard lock(mutex_);
  return {static_cast<std::uint64_t>(meta(db_, "desired_run_cursor")),
          static_cast<std::uint64_t>(meta(db_, "desired_run_id"))};
}

std::vector<ConflictRecord> Outbox::conflicts(int limit) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT at_ms, device, attribute, local_value, desired_value, desired_version, resolution, detail "
              "FROM sync_conflicts ORDER BY id DESC LIMIT ?1");
  s.bind(1, static_cast<std::int64_t>(limit));
  std::vector<ConflictRecord> out;
  while (s.step()) {
    out.push_back({s.integer(0), s.text(1), s.text(2), nlohmann::json::parse(s.text(3), nullptr, false),
                   nlohmann::json::parse(s.text(4), nullptr, false), static_cast<std::uint64_t>(s.integer(5)),
                   s.text(6), s.text(7)});
  }
  return out;
}

OutboxStats Outbox::stats() {
  std::lock_guard lock(mutex_);
  // One read transaction so the counters are from the same moment.
  sqlite::exec(db_, "BEGIN");
  OutboxStats st;
  try {
    st.depth = meta(db_, "depth");
    st.bytes = meta(db_, "bytes");
    st.dropped = meta(db_, "dropped");
    st.next_seq = static_cast<std::uint64_t>(meta(db_, "next_seq"));
    st.applied_through = static_cast<std::uint64_t>(meta(db_, "applied_through"));
    st.desired_cursor = static_cast<std::uint64_t>(meta(db_, "desired_cursor"));
    st.conflicts_resolved = meta(db_, "conflicts_resolved");
    st.desired_applied = meta(db_, "desired_applied");
    st.desired_failed = meta(db_, "desired_failed");
    Statement oldest(db_, "SELECT at_ms FROM outbox ORDER BY id LIMIT 1");
    if (oldest.step()) st.oldest_at_ms = oldest.integer(0);
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  sqlite::exec(db_, "COMMIT");
  return st;
}

}  // namespace homestead::gateway
