// A small binary codec (little-endian varints and length-prefixed strings) for everything
// Raft writes to disk or wraps in a transport frame. Decoding throws CodecError naming what
// it was reading, so a corrupt record produces a clear message rather than garbage.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "replication/raft/types.h"

namespace homestead::raft {

class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ByteWriter {
 public:
  void varint(std::uint64_t value);
  void byte(std::uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void fixed32(std::uint32_t value);
  void bytes(std::string_view value);  // length-prefixed
  std::string& buffer() { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in, const char* what = "record") : in_(in), what_(what) {}
  std::uint64_t varint();
  std::uint8_t byte();
  std::uint32_t fixed32();
  std::string bytes();
  bool done() const { return pos_ == in_.size(); }
  std::size_t position() const { return pos_; }

 private:
  [[noreturn]] void fail(const char* reason) const;
  std::string_view in_;
  std::size_t pos_ = 0;
  const char* what_;
};

void encode(ByteWriter& out, const Entry& entry);
Entry decode_entry(ByteReader& in);
void encode(ByteWriter& out, const HardState& state);
HardState decode_hard_state(ByteReader& in);
void encode(ByteWriter& out, const ConfState& conf);
ConfState decode_conf_state(ByteReader& in);
void encode(ByteWriter& out, const SnapshotMeta& meta);
SnapshotMeta decode_snapshot_meta(ByteReader& in);

std::string encode_conf_change(const ConfChange& change);
ConfChange decode_conf_change(std::string_view data);
std::string encode_snapshot(const Snapshot& snapshot);
Snapshot decode_snapshot(std::string_view data);
std::string encode_message(const Message& message);
Message decode_message(std::string_view data);

}  // namespace homestead::raft
