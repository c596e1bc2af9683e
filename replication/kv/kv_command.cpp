#include "replication/kv/kv_command.h"

#include "replication/raft/codec.h"

namespace homestead::kv {

using raft::ByteReader;
using raft::ByteWriter;
using raft::CodecError;

const char* to_string(OpType type) {
  switch (type) {
    case OpType::put: return "put";
    case OpType::get: return "get";
    case OpType::del: return "delete";
    case OpType::cas: return "cas";
    case OpType::range: return "range";
  }
  return "?";
}

const char* to_string(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::not_found: return "not_found";
    case Status::compare_failed: return "compare_failed";
    case Status::session_expired: return "session_expired";
  }
  return "?";
}

void write_key_value(ByteWriter& out, const KeyValue& kv) {
  out.bytes(kv.key);
  out.bytes(kv.value);
  out.varint(kv.create_revision);
  out.varint(kv.mod_revision);
  out.varint(kv.version);
}

KeyValue read_key_value(ByteReader& in) {
  KeyValue kv;
  kv.key = in.bytes();
  kv.value = in.bytes();
  kv.create_revision = in.varint();
  kv.mod_revision = in.varint();
  kv.version = in.varint();
  return kv;
}

std::string encode_command(const Command& c) {
  ByteWriter out;
  out.byte(static_cast<std::uint8_t>(c.type));
  out.bytes(c.key);
  out.bytes(c.value);
  out.byte(static_cast<std::uint8_t>((c.expected_value ? 1 : 0) | (c.expect_absent ? 2 : 0) |
                                     (c.expected_revision ? 4 : 0)));
  if (c.expected_value) out.bytes(*c.expected_value);
  if (c.expected_revision) out.varint(*c.expected_revision);
  out.varint(c.limit);
  out.varint(c.client_id);
  out.varint(c.sequence);
  out.varint(c.acked_below);
  out.varint(static_cast<std::uint64_t>(c.timestamp_ms));
  return out.take();
}

Command decode_command(std::string_view bytes) {
  ByteReader in(bytes, "kv command");
  Command c;
  const auto type = in.byte();
  if (type > static_cast<std::uint8_t>(OpType::range)) throw CodecError("kv command: unknown op type " + std::to_string(type));
  c.type = static_cast<OpType>(type);
  c.key = in.bytes();
  c.value = in.bytes();
  const auto flags = in.byte();
  if (flags & 1) c.expected_value = in.bytes();
  c.expect_absent = flags & 2;
  if (flags & 4) c.expected_revision = in.varint();
  c.limit = in.varint();
  c.client_id = in.varint();
  c.sequence = in.varint();
  c.acked_below = in.varint();
  c.timestamp_ms = static_cast<std::int64_t>(in.varint());
  return c;
}

std::string encode_result(const Result& r) {
  ByteWriter out;
  out.byte(static_cast<std::uint8_t>(r.status));
  out.byte(r.kv ? 1 : 0);
  if (r.kv) write_key_value(out, *r.kv);
  out.varint(r.range.size());
  for (const auto& kv : r.range) write_key_value(out, kv);
  out.varint(r.revision);
  return out.take();
}

Result decode_result(std::string_view bytes) {
  ByteReader in(bytes, "kv result");
  Result r;
  const auto status = in.byte();
  if (status > static_cast<std::uint8_t>(Status::session_expired)) throw CodecError("kv result: unknown status");
  r.status = static_cast<Status>(status);
  if (in.byte()) r.kv = read_key_value(in);
  for (std::uint64_t n = in.varint(); n > 0; --n) r.range.push_back(read_key_value(in));
  r.revision = in.varint();
  return r;
}

}  // namespace homestead::kv
