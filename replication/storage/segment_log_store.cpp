#include "replication/storage/segment_log_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "replication/raft/codec.h"
#include "replication/storage/crc32c.h"

namespace homestead::storage {
namespace {

namespace fs = std::filesystem;
using raft::ByteReader;
using raft::ByteWriter;

enum class RecordType : std::uint8_t { entry = 1, hard_state = 2, reset = 3 };
// length:u32  type:u8  header_crc:u32 (of length and type)  body_crc:u32 (of the payload).
// The header has its own checksum so a damaged length is told apart from a short write.
constexpr std::size_t kHeader = 13;

std::string errno_text(const std::string& what, const fs::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(const std::string& in, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(in[at + i])) << (8 * i);
  return v;
}

void add_record(std::string& out, RecordType type, const std::string& payload) {
  std::string header;
  put_u32(header, static_cast<std::uint32_t>(payload.size()));
  header.push_back(static_cast<char>(type));
  out += header;
  put_u32(out, crc32c(header));
  put_u32(out, crc32c(payload));
  out += payload;
}

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

void write_all(int fd, const std::string& data, const fs::path& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw LogStoreError(errno_text("log store: cannot write", path));
    }
    done += static_cast<std::size_t>(n);
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw LogStoreError("log store: cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string segment_name(std::uint64_t number) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "log-%016llx.seg", static_cast<unsigned long long>(number));
  return buf;
}

}  // namespace

raft::Bootstrap LoadedLog::bootstrap(raft::ConfState initial_conf) const {
  raft::Bootstrap boot;
  boot.hard_state = hard_state;
  boot.snapshot = snapshot;
  boot.entries = entries;
  boot.initial_conf = std::move(initial_conf);
  boot.applied = snapshot ? snapshot->meta.index : 0;
  return boot;
}

SegmentLogStore::SegmentLogStore(LogStoreOptions options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) throw LogStoreError("log store: cannot create " + options_.dir.string() + ": " + ec.message());
  fs::permissions(options_.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
}

SegmentLogStore::~SegmentLogStore() {
  if (fd_ >= 0) ::close(fd_);
}

LoadedLog SegmentLogStore::load() {
  LoadedLog out;
  const fs::path snapshot_path = options_.dir / "snapshot";
  if (fs::exists(snapshot_path)) {
    const std::string bytes = read_file(snapshot_path);
    if (bytes.size() < 4 || get_u32(bytes, 0) != crc32c(std::string_view(bytes).substr(4))) {
      throw LogStoreError("log store: snapshot file " + snapshot_path.string() +
                          " fails its checksum; refusing to start (restore it from a peer)");
    }
    out.snapshot = raft::decode_snapshot(std::string_view(bytes).substr(4));
    snapshot_index_ = out.snapshot->meta.index;
  }
  fs::remove(options_.dir / "snapshot.tmp");

  std::vector<Segment> found;
  for (const auto& item : fs::directory_iterator(options_.dir)) {
    const std::string name = item.path().filename().string();
    if (name.size() == 24 && name.rfind("log-", 0) == 0 && name.substr(20) == ".seg") {
      found.push_back(Segment{item.path(), std::stoull(name.substr(4, 16), nullptr, 16), 0});
    }
  }
  std::sort(found.begin(), found.end(), [](const Segment& a, const Segment& b) { return a.number < b.number; });

  raft::Index base = snapshot_index_;  // entries start after this
  // Term 0 never occurs in a real entry, so it stands for "not seen" (a plain value, not
  // std::optional, which g++ 12 -O2 falsely reports as maybe-uninitialized here).
  raft::Term term_at_snapshot = 0;
  std::vector<raft::Entry>& entries = out.entries;
  for (std::size_t s = 0; s < found.size(); ++s) {
    Segment& segment = found[s];
    const bool last_segment = s + 1 == found.size();
    const std::string data = read_file(segment.path);
    std::size_t pos = 0;
    while (pos < data.size()) {
      const std::size_t remaining = data.size() - pos;
      std::string problem;
      bool torn = false;  // what a crash during an unacknowledged append leaves behind
      std::uint32_t length = 0;
      if (remaining < kHeader) {
        problem = "truncated record header";
        torn = true;
      } else if (get_u32(data, pos + 5) != crc32c(std::string_view(data).substr(pos, 5))) {
        problem = "record header checksum mismatch";
        torn = all_zero(std::string_view(data).substr(pos));  // a zero-filled unwritten tail
      } else {
        length = get_u32(data, pos);
        if (length > remaining - kHeader) {
          problem = "record length " + std::to_string(length) + " runs past the end of the file";
          torn = true;
        } else if (get_u32(data, pos + 9) != crc32c(std::string_view(data).substr(pos + kHeader, length))) {
          problem = "record checksum mismatch";
          torn = pos + kHeader + length == data.size();
        }
      }
      if (!problem.empty()) {
        // A torn write can only be the last thing in the last segment.
        if (!(torn && last_segment)) {
          throw LogStoreError("log store: corrupt record in " + segment.path.string() + " at byte " +
                              std::to_string(pos) + ": " + problem + ", followed by " +
                              std::to_string(data.size() - pos) +
                              " bytes, so this is not a torn final write; refusing to start rather than "
                              "drop committed entries (restore this node from a peer)");
        }
        out.warnings.push_back("log store: cut off a torn final record in " + segment.path.string() + " at byte " +
                               std::to_string(pos) + " (" + problem + "); it was never acknowledged");
        if (::truncate(segment.path.c_str(), static_cast<off_t>(pos)) != 0) {
          throw LogStoreError(errno_text("log store: cannot truncate", segment.path));
        }
        break;
      }
      const auto type = static_cast<RecordType>(static_cast<std::uint8_t>(data[pos + 4]));
      const std::string_view payload = std::string_view(data).substr(pos + kHeader, length);
      ByteReader in(payload, "log record");
      switch (type) {
        case RecordType::entry: {
          raft::Entry e = raft::decode_entry(in);
          segment.max_index = std::max(segment.max_index, e.index);
          if (e.index == snapshot_index_ && snapshot_index_ > 0) term_at_snapshot = e.term;
          if (e.index <= base) break;  // covered by the snapshot
          const raft::Index last = base + entries.size();
          if (e.index > last + 1) {
            throw LogStoreError("log store: gap in " + segment.path.string() + " at byte " + std::to_string(pos) +
                                ": entry " + std::to_string(e.index) + " follows " + std::to_string(last));
          }
          entries.resize(e.index - base - 1);  // an overwrite cuts the old suffix
          entries.push_back(std::move(e));
          break;
        }
        case RecordType::hard_state:
          out.hard_state = raft::decode_hard_state(in);
          break;
        case RecordType::reset: {
          const raft::Index index = in.varint();
          entries.clear();
          term_at_snapshot = 0;
          base = std::max(index, snapshot_index_);
          break;
        }
        default:
          throw LogStoreError("log store: unknown record type " + std::to_string(static_cast<int>(type)) + " in " +
                              segment.path.string() + " at byte " + std::to_string(pos));
      }
      pos += kHeader + length;
    }
  }
  if (term_at_snapshot != 0 && out.snapshot && term_at_snapshot != out.snapshot->meta.term) {
    // A snapshot installed from the leader, then a crash before the reset record: the old
    // entries after it belong to a history the snapshot replaced.
    entries.clear();
  }
  if (!entries.empty() && entries.front().index != snapshot_index_ + 1) entries.clear();
  const raft::Index last = snapshot_index_ + entries.size();
  if (out.hard_state.commit > last) {
    throw LogStoreError("log store: " + options_.dir.string() + " records commit index " +
                        std::to_string(out.hard_state.commit) + " but its log ends at " + std::to_string(last) +
                        "; committed entries are missing, refusing to start (restore this node from a peer)");
  }
  hard_state_ = out.hard_state;
  segments_ = std::move(found);
  open_segment(segments_.empty() ? 1 : segments_.back().number);
  loaded_ = true;
  return out;
}

void SegmentLogStore::open_segment(std::uint64_t number) {
  if (fd_ >= 0) ::close(fd_);
  const fs::path path = options_.dir / segment_name(number);
  const bool fresh = !fs::exists(path);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw LogStoreError(errno_text("log store: cannot open", path));
  active_size_ = fs::file_size(path);
  if (fresh) {
    segments_.push_back(Segment{path, number, 0});
    sync_dir();
    // Each segment starts with the hard state, so older segments can be deleted freely.
    std::string records;
    ByteWriter hs;
    raft::encode(hs, hard_state_);
    add_record(records, RecordType::hard_state, hs.take());
    write_all(fd_, records, path);
    active_size_ += records.size();
  }
}

void SegmentLogStore::append_records(const std::string& records, raft::Index max_index, bool sync) {
  if (active_size_ >= options_.segment_bytes) {
    if (options_.fsync && ::fdatasync(fd_) != 0) throw LogStoreError(errno_text("log store: fdatasync", segments_.back().path));
    open_segment(segments_.back().number + 1);
  }
  write_all(fd_, records, segments_.back().path);
  active_size_ += records.size();
  stats_.bytes_written += records.size();
  segments_.back().max_index = std::max(segments_.back().max_index, max_index);
  if (sync && options_.fsync) {
    if (::fdatasync(fd_) != 0) throw LogStoreError(errno_text("log store: fdatasync", segments_.back().path));
    ++stats_.syncs;
  }
}

void SegmentLogStore::persist(const raft::Ready& ready) {
  if (!loaded_) throw LogStoreError("log store: persist() before load()");
  std::string records;
  raft::Index max_index = 0;
  if (ready.snapshot) {
    write_snapshot_file(*ready.snapshot);
    ByteWriter reset;
    reset.varint(ready.snapshot->meta.index);
    add_record(records, RecordType::reset, reset.take());
  }
  for (const raft::Entry& e : ready.entries) {
    ByteWriter w;
    raft::encode(w, e);
    add_record(records, RecordType::entry, w.take());
    max_index = std::max(max_index, e.index);
  }
  stats_.entries_written += ready.entries.size();
  if (ready.hard_state) {
    hard_state_ = *ready.hard_state;
    ByteWriter w;
    raft::encode(w, hard_state_);
    add_record(records, RecordType::hard_state, w.take());
  }
  if (records.empty()) return;
  append_records(records, max_index, ready.must_sync || ready.snapshot.has_value());
  if (ready.snapshot) drop_segments_up_to(ready.snapshot->meta.index);
}

void SegmentLogStore::save_snapshot(const raft::Snapshot& snapshot) {
  if (!loaded_) throw LogStoreError("log store: save_snapshot() before load()");
  if (snapshot.meta.index <= snapshot_index_) return;
  write_snapshot_file(snapshot);
  drop_segments_up_to(snapshot.meta.index);
}

void SegmentLogStore::write_snapshot_file(const raft::Snapshot& snapshot) {
  const std::string body = raft::encode_snapshot(snapshot);
  std::string bytes;
  put_u32(bytes, crc32c(body));
  bytes += body;
  const fs::path tmp = options_.dir / "snapshot.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw LogStoreError(errno_text("log store: cannot create", tmp));
  write_all(fd, bytes, tmp);
  if (options_.fsync && ::fsync(fd) != 0) {
    ::close(fd);
    throw LogStoreError(errno_text("log store: fsync", tmp));
  }
  ::close(fd);
  fs::rename(tmp, options_.dir / "snapshot");
  sync_dir();
  snapshot_index_ = snapshot.meta.index;
}

void SegmentLogStore::drop_segments_up_to(raft::Index index) {
  // Never the active segment; others only when every entry in them is covered.
  while (segments_.size() > 1 && segments_.front().max_index <= index) {
    fs::remove(segments_.front().path);
    segments_.erase(segments_.begin());
  }
}

void SegmentLogStore::sync_dir() {
  if (!options_.fsync) return;
  const int fd = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw LogStoreError(errno_text("log store: cannot open directory", options_.dir));
  ::fsync(fd);
  ::close(fd);
}

}  // namespace homestead::storage
