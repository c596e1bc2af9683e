// Commands and results of the replicated key-value store, and their binary encoding (the
// bytes that go into Raft entries and replies).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace homestead::raft {
class ByteWriter;
class ByteReader;
}  // namespace homestead::raft

namespace homestead::kv {

enum class OpType : std::uint8_t { put = 0, get = 1, del = 2, cas = 3, range = 4 };
const char* to_string(OpType type);

struct Command {
  OpType type = OpType::get;
  std::string key;  // the prefix for range
  std::string value;
  // cas: the write happens only if the key's current state matches. With expected_revision
  // set, it compares the key's mod revision (0 = absent); otherwise the value, where
  // expect_absent asks for a missing key.
  std::optional<std::string> expected_value;
  bool expect_absent = false;
  std::optional<std::uint64_t> expected_revision;
  std::uint64_t limit = 0;  // range: at most this many keys (0 = all)
  // Exactly-once session: a client numbers its commands 1, 2, ... and tells the store which
  // answers it no longer needs (all below acked_below). client_id 0 means no session.
  std::uint64_t client_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t acked_below = 0;
  // Proposer's wall clock in ms: the state machine's only notion of time (session expiry),
  // so every replica expires the same sessions at the same log position.
  std::int64_t timestamp_ms = 0;
};

struct KeyValue {
  std::string key;
  std::string value;
  std::uint64_t create_revision = 0;
  std::uint64_t mod_revision = 0;
  std::uint64_t version = 0;  // writes since creation
  bool operator==(const KeyValue&) const = default;
};

enum class Status : std::uint8_t {
  ok = 0,
  not_found = 1,
  compare_failed = 2,   // cas: the comparison did not hold; nothing written
  session_expired = 3,  // the session's saved answers are gone; the client must start anew
};
const char* to_string(Status status);

struct Result {
  Status status = Status::ok;
  std::optional<KeyValue> kv;  // get: the entry; put/cas: the entry written
  std::vector<KeyValue> range;
  std::uint64_t revision = 0;  // the store's revision after this command
  bool operator==(const Result&) const = default;
};

void write_key_value(raft::ByteWriter& out, const KeyValue& kv);
KeyValue read_key_value(raft::ByteReader& in);
std::string encode_command(const Command& command);
Command decode_command(std::string_view bytes);
std::string encode_result(const Result& result);
Result decode_result(std::string_view bytes);

}  // namespace homestead::kv
