// What both HTTP front ends (http_api.cpp on cpp-httplib, kv_fast_routes.cpp on epoll) say
// for the KV routes, so the two answer byte for byte the same JSON: request field checks
// (BadRequest names the field or header) and the outcome -> status + body mapping.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cloud/cloudd/kv_state_machine.h"
#include "cloud/cloudd/raft_server.h"

namespace homestead::cloudd {

// A client mistake (answered 400); the message names the field or header.
class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct JsonReply {
  int status = 200;
  nlohmann::json body;
};

// Keys and values are client bytes: invalid UTF-8 is replaced, never a 500.
std::string dump_json(const nlohmann::json& body);

// A request header's value by name (nullopt when absent), whichever front end read it.
using HeaderLookup = std::function<std::optional<std::string>(const char* name)>;
// Fills the session fields from X-Client-Id, X-Request-Seq, X-Client-Ack (absent = 0);
// BadRequest for a value that is not an unsigned integer or X-Client-Id without X-Request-Seq.
void set_session(Command& command, const HeaderLookup& header);

nlohmann::json parse_json_body(std::string_view body);
const nlohmann::json& json_field(const nlohmann::json& object, const std::string& name, const std::string& path);
std::string json_string_field(const nlohmann::json& object, const std::string& name, const std::string& path);
std::uint64_t json_number_field(const nlohmann::json& object, const std::string& name, const std::string& path);

// `mode` is the ?consistency= parameter (nullopt when absent: linearizable).
bool wants_linearizable(const std::optional<std::string>& mode);

// The answer to a KV write (put, delete, txn). `key` is added to a put's or delete's
// answer. not_leader becomes 503: forward first where that is possible.
JsonReply write_reply(const WriteOutcome& out, const std::string* key);
JsonReply read_barrier_refused(const ReadOutcome& out);
nlohmann::json kv_json(const std::string& key, const KeyValue& kv);
JsonReply get_reply(const std::string& key, const std::optional<KeyValue>& kv);
JsonReply unauthorized_reply();

}  // namespace homestead::cloudd
