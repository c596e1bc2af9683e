#include "cloud/cloudd/kv_command.h"

#include "replication/raft/codec.h"

namespace homestead::cloudd {
namespace {

void encode_ops(raft::ByteWriter& out, const std::vector<TxnOp>& ops) {
  out.varint(ops.size());
  for (const auto& op : ops) {
    out.byte(static_cast<std::uint8_t>(op.kind));
    out.bytes(op.key);
    out.bytes(op.value);
  }
}

std::vector<TxnOp> decode_ops(raft::ByteReader& in) {
  std::vector<TxnOp> ops(in.varint());
  for (auto& op : ops) {
    const auto kind = in.byte();
    if (kind != 1 && kind != 2) throw raft::CodecError("command: bad txn op kind " + std::to_string(kind));
    op.kind = static_cast<TxnOp::Kind>(kind);
    op.key = in.bytes();
    op.value = in.bytes();
  }
  return ops;
}

}  // namespace

std::string encode_command(const Command& c) {
  raft::ByteWriter out;
  out.byte(static_cast<std::uint8_t>(c.kind));
  out.varint(c.client_id);
  out.varint(c.seq);
  out.varint(c.ack);
  out.varint(static_cast<std::uint64_t>(c.time_us));
  switch (c.kind) {
    case CommandKind::put:
      out.bytes(c.key);
      out.bytes(c.value);
      break;
    case CommandKind::remove: out.bytes(c.key); break;
    case CommandKind::txn:
      out.varint(c.compares.size());
      for (const auto& cmp : c.compares) {
        out.bytes(cmp.key);
        out.byte(static_cast<std::uint8_t>(cmp.target));
        out.bytes(cmp.value);
        out.varint(cmp.revision);
      }
      encode_ops(out, c.success);
      encode_ops(out, c.failure);
      break;
    case CommandKind::set_member:
      out.varint(c.member_id);
      out.bytes(c.peer_address);
      out.bytes(c.http_address);
      break;
    case CommandKind::drop_member: out.varint(c.member_id); break;
    case CommandKind::service: out.bytes(c.value); break;
  }
  return out.take();
}

Command decode_command(std::string_view bytes) {
  raft::ByteReader in(bytes, "kv command");
  Command c;
  const auto kind = in.byte();
  if (kind < 1 || kind > 6) throw raft::CodecError("kv command: unknown kind " + std::to_string(kind));
  c.kind = static_cast<CommandKind>(kind);
  c.client_id = in.varint();
  c.seq = in.varint();
  c.ack = in.varint();
  c.time_us = static_cast<std::int64_t>(in.varint());
  switch (c.kind) {
    case CommandKind::put:
      c.key = in.bytes();
      c.value = in.bytes();
      break;
    case CommandKind::remove: c.key = in.bytes(); break;
    case CommandKind::txn: {
      c.compares.resize(in.varint());
      for (auto& cmp : c.compares) {
        cmp.key = in.bytes();
        const auto target = in.byte();
        if (target > 1) throw raft::CodecError("kv command: bad compare target " + std::to_string(target));
        cmp.target = static_cast<Compare::Target>(target);
        cmp.value = in.bytes();
        cmp.revision = in.varint();
      }
      c.success = decode_ops(in);
      c.failure = decode_ops(in);
      break;
    }
    case CommandKind::set_member:
      c.member_id = in.varint();
      c.peer_address = in.bytes();
      c.http_address = in.bytes();
      break;
    case CommandKind::drop_member: c.member_id = in.varint(); break;
    case CommandKind::service: c.value = in.bytes(); break;
  }
  if (!in.done()) throw raft::CodecError("kv command: trailing bytes");
  return c;
}

}  // namespace homestead::cloudd
