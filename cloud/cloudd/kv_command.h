// Commands of the replicated KV state machine as they travel in Raft entries: a compact
// binary form (replication/raft/codec.h primitives) of put, delete, compare-and-swap
// transactions and member-directory updates, each with the client's exactly-once session.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace homestead::cloudd {

// service: one cloud services operation (cloud/services/ops.h) as JSON text in `value`,
// applied by the services state machine at the proposer's time (`time_us`).
enum class CommandKind : std::uint8_t { put = 1, remove = 2, txn = 3, set_member = 4, drop_member = 5, service = 6 };

struct Compare {
  enum class Target : std::uint8_t { value = 0, mod_revision = 1 };
  std::string key;
  Target target = Target::value;
  std::string value;           // target value: equal to this (a missing key never matches)
  std::uint64_t revision = 0;  // target mod_revision: equal (0 = the key must not exist)
  bool operator==(const Compare&) const = default;
};

struct TxnOp {
  enum class Kind : std::uint8_t { put = 1, remove = 2 };
  Kind kind = Kind::put;
  std::string key;
  std::string value;
  bool operator==(const TxnOp&) const = default;
};

struct Command {
  CommandKind kind = CommandKind::put;
  // Exactly-once session (client_id 0: no session, the command runs every time it commits).
  std::uint64_t client_id = 0;
  std::uint64_t seq = 0;
  std::uint64_t ack = 0;
  std::int64_t time_us = 0;  // the proposer's wall clock; drives session expiry deterministically
  std::string key;           // put/remove
  std::string value;         // put; service: the operation's JSON text
  std::vector<Compare> compares;
  std::vector<TxnOp> success;
  std::vector<TxnOp> failure;
  // set_member/drop_member
  std::uint64_t member_id = 0;
  std::string peer_address;
  std::string http_address;
  bool operator==(const Command&) const = default;
};

std::string encode_command(const Command& command);
// Throws raft::CodecError naming what it was reading.
Command decode_command(std::string_view bytes);

}  // namespace homestead::cloudd
