#include "cloud/cloudd/kv_http_common.h"

#include <charconv>

namespace homestead::cloudd {

using nlohmann::json;

std::string dump_json(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

// The value of session header `name` (absent = 0); BadRequest unless an unsigned integer.
std::uint64_t session_header_number(const char* name, const std::optional<std::string>& text) {
  if (!text) return 0;
  std::uint64_t value = 0;
  const auto parsed = std::from_chars(text->data(), text->data() + text->size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text->data() + text->size()) {
    throw BadRequest(std::string("header ") + name + ": expected an unsigned integer, got \"" + *text + "\"");
  }
  return value;
}

}  // namespace

void set_session(Command& command, const HeaderLookup& header) {
  command.client_id = session_header_number("X-Client-Id", header("X-Client-Id"));
  command.seq = session_header_number("X-Request-Seq", header("X-Request-Seq"));
  command.ack = session_header_number("X-Client-Ack", header("X-Client-Ack"));
  if (command.client_id != 0 && command.seq == 0) {
    throw BadRequest("header X-Request-Seq: required (>= 1) with X-Client-Id");
  }
}

json parse_json_body(std::string_view body) {
  try {
    return json::parse(body);
  } catch (const json::parse_error& e) {
    throw BadRequest(std::string("body: not valid JSON: ") + e.what());
  }
}

const json& json_field(const json& object, const std::string& name, const std::string& path) {
  if (!object.is_object() || !object.contains(name)) throw BadRequest("field '" + path + name + "' is required");
  return object.at(name);
}

std::string json_string_field(const json& object, const std::string& name, const std::string& path) {
  const json& value = json_field(object, name, path);
  if (!value.is_string()) throw BadRequest("field '" + path + name + "': expected a string, got " + value.type_name());
  return value.get<std::string>();
}

std::uint64_t json_number_field(const json& object, const std::string& name, const std::string& path) {
  const json& value = json_field(object, name, path);
  if (!value.is_number_unsigned()) {
    throw BadRequest("field '" + path + name + "': expected an unsigned integer, got " + value.dump());
  }
  return value.get<std::uint64_t>();
}

bool wants_linearizable(const std::optional<std::string>& mode) {
  if (!mode || *mode == "linearizable") return true;
  if (*mode == "serializable") return false;
  throw BadRequest("parameter 'consistency': expected linearizable or serializable, got \"" + *mode + "\"");
}

JsonReply write_reply(const WriteOutcome& out, const std::string* key) {
  switch (out.status) {
    case WriteOutcome::Status::ok: {
      json body = json::parse(out.result);
      if (body.contains("error")) return {409, std::move(body)};  // stale session sequence: never executed
      if (key != nullptr) body["key"] = *key;
      return {200, std::move(body)};
    }
    case WriteOutcome::Status::not_leader:
      return {503, {{"error", "no leader; not applied"}, {"outcome", "not_applied"}, {"leader", out.leader}}};
    case WriteOutcome::Status::refused:
      return {503, {{"error", out.reason}, {"outcome", "not_applied"}, {"leader", out.leader}}};
    case WriteOutcome::Status::unknown:
      break;
  }
  return {504, {{"error", out.reason}, {"outcome", "unknown"}, {"leader", out.leader}}};
}

JsonReply read_barrier_refused(const ReadOutcome& out) {
  return {503, {{"error", out.reason}, {"leader", out.leader}}};
}

json kv_json(const std::string& key, const KeyValue& kv) {
  return {{"key", key}, {"value", kv.value}, {"revision", kv.mod_revision}, {"create_revision", kv.create_revision}};
}

JsonReply get_reply(const std::string& key, const std::optional<KeyValue>& kv) {
  if (!kv) return {404, {{"error", "key not found"}, {"key", key}}};
  return {200, kv_json(key, *kv)};
}

JsonReply unauthorized_reply() {
  return {401, {{"error", {{"code", "unauthorized"}, {"message", "missing or wrong bearer token"}}}}};
}

}  // namespace homestead::cloudd
