#include "cloud/cloudd/file_log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/fs/write_zeros.h"
#include "common/log/log.h"
#include "replication/raft/codec.h"

namespace homestead::cloudd {
namespace {

constexpr char kEntries = 1;
constexpr char kHardState = 2;
constexpr char kCompacted = 3;
// Preallocation step, filled with written zeros rather than fallocate()d: writing into
// fallocated (unwritten) extents makes every fdatasync commit the ext4 journal, which then
// waits for whatever else the machine writes (a 2.7 MB snapshot file, other processes'
// files): 20-760 ms fdatasyncs under load (issue 7). Overwriting written zeros is a pure data
// flush; only the fdatasync after each step commits the journal once.
constexpr std::uint64_t kChunk = 1ull << 20;
constexpr std::size_t kHeader = 8;
// Rewrite the WAL with only its live tail once it grows past this (at compaction time, when
// the tail is short). Bounds the disk use and the startup read.
constexpr std::uint64_t kRewriteBytes = 64ull << 20;

const log::Logger& logger() {
  static const log::Logger instance("cloudd.storage");
  return instance;
}

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint32_t get32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

[[noreturn]] void fail_errno(const std::string& what, const std::filesystem::path& path) {
  throw StorageError(path.string() + ": " + what + ": " + std::strerror(errno));
}

void write_all(int fd, std::string_view bytes, std::uint64_t offset, const std::filesystem::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("write", path);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
}

void fsync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_errno("open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail_errno("fsync directory", dir);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError(path.string() + ": cannot open");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string frame(char kind, std::string_view body) {
  std::string payload;
  payload.reserve(body.size() + 1);
  payload.push_back(kind);
  payload.append(body);
  std::string out;
  out.reserve(payload.size() + kHeader);
  put32(out, static_cast<std::uint32_t>(payload.size()));
  put32(out, crc32c(payload));
  out += payload;
  return out;
}

}  // namespace

std::uint32_t crc32c_table(std::string_view bytes) {
  static const auto table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__)
namespace {
// 8 bytes per instruction instead of a table lookup per byte: the WAL checksums every
// record, which showed up at 2-3% of cloudd's CPU under load.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint64_t c = 0xFFFFFFFFu;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n > 0) {
    c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p));
    ++p;
    --n;
  }
  return c32 ^ 0xFFFFFFFFu;
}
}  // namespace

std::uint32_t crc32c(std::string_view bytes) {
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  return hardware ? crc32c_sse42(bytes) : crc32c_table(bytes);
}
#else
std::uint32_t crc32c(std::string_view bytes) { return crc32c_table(bytes); }
#endif

FileLogStore::FileLogStore(std::filesystem::path dir, bool fsync) : dir_(std::move(dir)), fsync_(fsync) {
  std::filesystem::create_directories(dir_);
}

FileLogStore::~FileLogStore() {
  if (fd_ >= 0) ::close(fd_);
}

StoredState FileLogStore::load() {
  StoredState state;
  if (std::filesystem::exists(snapshot_path())) {
    const std::string bytes = read_file(snapshot_path());
    if (bytes.size() < kHeader || get32(bytes.data()) != bytes.size() - kHeader ||
        get32(bytes.data() + 4) != crc32c(std::string_view(bytes).substr(kHeader))) {
      // The snapshot file is only ever replaced by rename after fsync, so a bad one is damage.
      throw StorageError(snapshot_path().string() + ": snapshot checksum mismatch (corrupt snapshot file)");
    }
    try {
      state.snapshot = raft::decode_snapshot(std::string_view(bytes).substr(kHeader));
    } catch (const raft::CodecError& e) {
      throw StorageError(snapshot_path().string() + ": " + e.what());
    }
    snapshot_index_ = state.snapshot->meta.index;
    std::lock_guard lock(snapshot_file_mutex_);
    snapshot_file_index_ = snapshot_index_;
  }

  std::string wal;
  if (std::filesystem::exists(wal_path())) wal = read_file(wal_path());
  std::uint64_t offset = 0;
  while (offset + kHeader <= wal.size()) {
    const std::uint32_t length = get32(wal.data() + offset);
    if (length == 0) break;  // preallocated zeros: the end of the log
    const bool fits = offset + kHeader + length <= wal.size();
    const bool intact = fits && get32(wal.data() + offset + 4) ==
                                    crc32c(std::string_view(wal).substr(offset + kHeader, length));
    if (!intact) {
      // Anything non-zero after this record means later writes were fsynced after it: the
      // bad record was acknowledged once, so refuse rather than lose committed entries.
      const std::uint64_t after = fits ? offset + kHeader + length : wal.size();
      const bool more = wal.find_first_not_of('\0', after) != std::string::npos;
      if (more) {
        throw StorageError(wal_path().string() + ": corrupt record at offset " + std::to_string(offset) +
                           " (checksum mismatch) followed by more records; refusing to truncate acknowledged data");
      }
      logger().warn("torn record at the end of the log cut off", {{"offset", std::to_string(offset)}});
      break;
    }
    const std::string_view payload = std::string_view(wal).substr(offset + kHeader, length);
    try {
      raft::ByteReader in(payload.substr(1), "wal record");
      switch (payload[0]) {
        case kEntries: {
          const std::uint64_t count = in.varint();
          for (std::uint64_t i = 0; i < count; ++i) {
            raft::Entry e = raft::decode_entry(in);
            while (!entries_.empty() && entries_.back().index >= e.index) entries_.pop_back();
            if (e.index > snapshot_index_) entries_.push_back(std::move(e));
          }
          break;
        }
        case kHardState: hard_state_ = raft::decode_hard_state(in); break;
        case kCompacted: {
          const raft::Index through = in.varint();
          std::erase_if(entries_, [&](const raft::Entry& e) { return e.index <= through; });
          break;
        }
        default:
          throw StorageError(wal_path().string() + ": unknown record kind " + std::to_string(int(payload[0])) +
                             " at offset " + std::to_string(offset));
      }
    } catch (const raft::CodecError& e) {
      throw StorageError(wal_path().string() + ": record at offset " + std::to_string(offset) + ": " + e.what());
    }
    offset += kHeader + length;
  }
  std::erase_if(entries_, [&](const raft::Entry& e) { return e.index <= snapshot_index_; });
  if (!entries_.empty() && snapshot_index_ != 0 && entries_.front().index != snapshot_index_ + 1) {
    throw StorageError(wal_path().string() + ": log starts at index " + std::to_string(entries_.front().index) +
                       " but the snapshot ends at " + std::to_string(snapshot_index_));
  }
  state.hard_state = hard_state_;
  state.entries = entries_;
  // Start writing after the last good record, over the torn tail if there was one.
  write_offset_ = offset;
  open_wal();
  return state;
}

void FileLogStore::open_wal() {
  fd_ = ::open(wal_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail_errno("open", wal_path());
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail_errno("stat", wal_path());
  allocated_ = static_cast<std::uint64_t>(st.st_size);
  // Zero whatever lies past the last good record so a torn tail is never read back as data.
  if (allocated_ > write_offset_) {
    if (!fs::write_zeros(fd_, write_offset_, allocated_)) fail_errno("write", wal_path());
    sync_wal();
  }
  fsync_dir(dir_);
}

void FileLogStore::append_record(char kind, std::string_view body) {
  const std::string bytes = frame(kind, body);
  if (write_offset_ + bytes.size() + kHeader > allocated_) {
    // Grow in steps of written zeros (see kChunk), not fallocate().
    const std::uint64_t target = ((write_offset_ + bytes.size() + kHeader) / kChunk + 1) * kChunk;
    if (!fs::write_zeros(fd_, allocated_, target)) fail_errno("write", wal_path());
    allocated_ = target;
  }
  write_all(fd_, bytes, write_offset_, wal_path());
  write_offset_ += bytes.size();
}

void FileLogStore::sync_wal() {
  if (!fsync_) return;
  if (::fdatasync(fd_) != 0) fail_errno("fdatasync", wal_path());
  ++fsyncs_;
}

bool FileLogStore::write_snapshot_file(const raft::Snapshot& snapshot, bool force) {
  std::lock_guard lock(snapshot_file_mutex_);
  if (!force && snapshot.meta.index <= snapshot_file_index_) return false;
  const std::string body = raft::encode_snapshot(snapshot);
  std::string bytes;
  bytes.reserve(body.size() + kHeader);
  put32(bytes, static_cast<std::uint32_t>(body.size()));
  put32(bytes, crc32c(body));
  bytes += body;
  const auto tmp = dir_ / "snapshot.bin.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail_errno("open", tmp);
  // In 1 MiB steps, each pushed to the device before the next (sync_file_range): one 10 MB
  // write followed by one fsync made the WAL's fdatasyncs (every loop turn, all members on
  // one disk) wait up to 600 ms behind it (issue 7 trace); in steps each of them carries
  // at most one step. The fsync below still makes the whole file durable.
  constexpr std::size_t kStep = 1 << 20;
  for (std::size_t at = 0; at < bytes.size(); at += kStep) {
    const std::size_t n = std::min(kStep, bytes.size() - at);
    write_all(fd, std::string_view(bytes).substr(at, n), at, tmp);
    ::sync_file_range(fd, static_cast<off64_t>(at), static_cast<off64_t>(n),
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  }
  if (::fsync(fd) != 0) fail_errno("fsync", tmp);
  ::close(fd);
  std::filesystem::rename(tmp, snapshot_path());
  fsync_dir(dir_);
  snapshot_file_index_ = std::max(snapshot_file_index_, snapshot.meta.index);
  if (force) snapshot_file_index_ = snapshot.meta.index;
  return true;
}

void FileLogStore::drop_through(raft::Index index) {
  snapshot_index_ = std::max(snapshot_index_, index);
  std::erase_if(entries_, [&](const raft::Entry& e) { return e.index <= index; });
}

void FileLogStore::save(const std::optional<raft::HardState>& hard_state, const std::vector<raft::Entry>& entries,
                        const std::optional<raft::Snapshot>& snapshot, bool sync) {
  if (snapshot) {
    write_snapshot_file(*snapshot, true);
    // A snapshot from the leader replaces the whole log up to its index (and any entries
    // after it that conflict arrive in `entries` of this or a later Ready).
    entries_.clear();
    snapshot_index_ = snapshot->meta.index;
    rewrite_wal();
  }
  if (!entries.empty()) {
    raft::ByteWriter out;
    out.varint(entries.size());
    for (const auto& e : entries) raft::encode(out, e);
    append_record(kEntries, out.buffer());
    while (!entries_.empty() && entries_.back().index >= entries.front().index) entries_.pop_back();
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  }
  if (hard_state) {
    raft::ByteWriter out;
    raft::encode(out, *hard_state);
    append_record(kHardState, out.buffer());
    hard_state_ = *hard_state;
  }
  if (sync) sync_wal();
}

bool FileLogStore::write_snapshot(const raft::Snapshot& snapshot) { return write_snapshot_file(snapshot, false); }

void FileLogStore::compacted(raft::Index index) {
  if (index <= snapshot_index_) return;
  drop_through(index);
  if (write_offset_ >= kRewriteBytes) {
    rewrite_wal();
    return;
  }
  // No fsync of its own: losing it in a crash only means load() drops those entries by the
  // snapshot index instead; the next Ready's fsync makes it durable anyway.
  raft::ByteWriter out;
  out.varint(index);
  append_record(kCompacted, out.buffer());
}

void FileLogStore::rewrite_wal() {
  const auto tmp = dir_ / "raft.wal.tmp";
  std::string bytes;
  {
    raft::ByteWriter out;
    raft::encode(out, hard_state_);
    bytes += frame(kHardState, out.buffer());
  }
  {
    raft::ByteWriter out;
    out.varint(snapshot_index_);
    bytes += frame(kCompacted, out.buffer());
  }
  if (!entries_.empty()) {
    raft::ByteWriter out;
    out.varint(entries_.size());
    for (const auto& e : entries_) raft::encode(out, e);
    bytes += frame(kEntries, out.buffer());
  }
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail_errno("open", tmp);
  write_all(fd, bytes, 0, tmp);
  if (::fsync(fd) != 0) fail_errno("fsync", tmp);
  std::filesystem::rename(tmp, wal_path());
  fsync_dir(dir_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  write_offset_ = bytes.size();
  allocated_ = bytes.size();
}

}  // namespace homestead::cloudd
