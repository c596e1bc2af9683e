#include "replication/raft/codec.h"

#include <algorithm>

namespace homestead::raft {

void ByteWriter::varint(std::uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

void ByteWriter::fixed32(std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void ByteWriter::bytes(std::string_view value) {
  varint(value.size());
  out_.append(value);
}

void ByteReader::fail(const char* reason) const {
  throw CodecError(std::string("cannot decode ") + what_ + ": " + reason + " at byte " + std::to_string(pos_));
}

std::uint64_t ByteReader::varint() {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= in_.size()) fail("truncated varint");
    const auto b = static_cast<std::uint8_t>(in_[pos_++]);
    value |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return value;
  }
  fail("varint longer than 10 bytes");
}

std::uint8_t ByteReader::byte() {
  if (pos_ >= in_.size()) fail("truncated byte");
  return static_cast<std::uint8_t>(in_[pos_++]);
}

std::uint32_t ByteReader::fixed32() {
  if (in_.size() - pos_ < 4) fail("truncated fixed32");
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(in_[pos_++])) << (8 * i);
  return value;
}

std::string ByteReader::bytes() {
  const std::uint64_t size = varint();
  if (size > in_.size() - pos_) fail("string longer than the record");
  std::string value(in_.substr(pos_, size));
  pos_ += size;
  return value;
}

void encode(ByteWriter& out, const Entry& entry) {
  out.varint(entry.term);
  out.varint(entry.index);
  out.byte(static_cast<std::uint8_t>(entry.type));
  out.bytes(entry.data);
}

Entry decode_entry(ByteReader& in) {
  Entry entry;
  entry.term = in.varint();
  entry.index = in.varint();
  const auto type = in.byte();
  if (type > static_cast<std::uint8_t>(EntryType::conf_change)) throw CodecError("unknown entry type " + std::to_string(type));
  entry.type = static_cast<EntryType>(type);
  entry.data = in.bytes();
  return entry;
}

void encode(ByteWriter& out, const HardState& state) {
  out.varint(state.term);
  out.varint(state.vote);
  out.varint(state.commit);
}

HardState decode_hard_state(ByteReader& in) {
  HardState state;
  state.term = in.varint();
  state.vote = in.varint();
  state.commit = in.varint();
  return state;
}

void encode(ByteWriter& out, const ConfState& conf) {
  out.varint(conf.voters.size());
  for (NodeId id : conf.voters) out.varint(id);
  out.varint(conf.learners.size());
  for (NodeId id : conf.learners) out.varint(id);
}

ConfState decode_conf_state(ByteReader& in) {
  ConfState conf;
  for (std::uint64_t n = in.varint(); n > 0; --n) conf.voters.push_back(in.varint());
  for (std::uint64_t n = in.varint(); n > 0; --n) conf.learners.push_back(in.varint());
  return conf;
}

void encode(ByteWriter& out, const SnapshotMeta& meta) {
  out.varint(meta.index);
  out.varint(meta.term);
  encode(out, meta.conf);
}

SnapshotMeta decode_snapshot_meta(ByteReader& in) {
  SnapshotMeta meta;
  meta.index = in.varint();
  meta.term = in.varint();
  meta.conf = decode_conf_state(in);
  return meta;
}

std::string encode_conf_change(const ConfChange& change) {
  ByteWriter out;
  out.byte(static_cast<std::uint8_t>(change.type));
  out.varint(change.node);
  return out.take();
}

ConfChange decode_conf_change(std::string_view data) {
  ByteReader in(data, "conf change");
  ConfChange change;
  const auto type = in.byte();
  if (type > static_cast<std::uint8_t>(ConfChangeType::remove)) throw CodecError("unknown conf change type");
  change.type = static_cast<ConfChangeType>(type);
  change.node = in.varint();
  return change;
}

std::string encode_snapshot(const Snapshot& snapshot) {
  ByteWriter out;
  encode(out, snapshot.meta);
  out.bytes(snapshot.data);
  return out.take();
}

Snapshot decode_snapshot(std::string_view data) {
  ByteReader in(data, "snapshot");
  Snapshot snapshot;
  snapshot.meta = decode_snapshot_meta(in);
  snapshot.data = in.bytes();
  return snapshot;
}

std::string encode_message(const Message& m) {
  ByteWriter out;
  out.byte(static_cast<std::uint8_t>(m.type));
  out.varint(m.from);
  out.varint(m.to);
  out.varint(m.term);
  out.varint(m.index);
  out.varint(m.log_term);
  out.varint(m.entries.size());
  for (const auto& e : m.entries) encode(out, e);
  out.varint(m.commit);
  out.byte(static_cast<std::uint8_t>((m.reject ? 1 : 0) | (m.force ? 2 : 0) | (m.chunk_last ? 4 : 0)));
  out.varint(m.reject_hint);
  out.varint(m.hint_term);
  out.varint(m.context);
  encode(out, m.snapshot);
  out.varint(m.chunk_offset);
  out.bytes(m.chunk);
  return out.take();
}

Message decode_message(std::string_view data) {
  ByteReader in(data, "raft message");
  Message m;
  const auto type = in.byte();
  if (type > static_cast<std::uint8_t>(MessageType::read_index_resp)) throw CodecError("unknown raft message type");
  m.type = static_cast<MessageType>(type);
  m.from = in.varint();
  m.to = in.varint();
  m.term = in.varint();
  m.index = in.varint();
  m.log_term = in.varint();
  const std::uint64_t count = in.varint();
  m.entries.reserve(std::min<std::uint64_t>(count, 4096));
  for (std::uint64_t i = 0; i < count; ++i) m.entries.push_back(decode_entry(in));
  m.commit = in.varint();
  const auto flags = in.byte();
  m.reject = flags & 1;
  m.force = flags & 2;
  m.chunk_last = flags & 4;
  m.reject_hint = in.varint();
  m.hint_term = in.varint();
  m.context = in.varint();
  m.snapshot = decode_snapshot_meta(in);
  m.chunk_offset = in.varint();
  m.chunk = in.bytes();
  return m;
}

}  // namespace homestead::raft
