// encode_record: the record's JSON text written straight into one string. It sits on the
// trigger -> commit path (the intent record is serialised before its fsync), where building
// an nlohmann tree of the whole record and dumping it cost tens of microseconds in
// allocations; this writer allocates little more than the output. It must stay equal, value
// for value, to to_json(record) (record_text_test checks that on every record shape).
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "transactuation/record.h"

namespace homestead::transactuation {
namespace {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void raw(std::string_view text) { out_.append(text); }
  // Starts the member `name` of an object ("," before all but the first).
  void key(std::string_view name) {
    if (need_comma_) out_.push_back(',');
    out_.push_back('"');
    out_.append(name);  // member names are literals of this file: plain ASCII
    out_.append("\":");
    need_comma_ = false;
  }
  void open(char bracket) {
    out_.push_back(bracket);
    need_comma_ = false;
  }
  void close(char bracket) {
    out_.push_back(bracket);
    need_comma_ = true;
  }
  // Before an array element.
  void element() {
    if (need_comma_) out_.push_back(',');
    need_comma_ = false;
  }
  void string(std::string_view text) {
    // Plain printable ASCII needs no escaping; anything else goes through nlohmann so the
    // escapes and the UTF-8 check are exactly those of to_json(...).dump().
    bool plain = true;
    for (char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
        plain = false;
        break;
      }
    }
    if (plain) {
      out_.push_back('"');
      out_.append(text);
      out_.push_back('"');
    } else {
      out_.append(Json(std::string(text)).dump());
    }
    need_comma_ = true;
  }
  template <typename Integer>
  void number(Integer value) {
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out_.append(buffer, result.ptr);
    need_comma_ = true;
  }
  void boolean(bool value) {
    out_.append(value ? "true" : "false");
    need_comma_ = true;
  }
  void json(const Json& value) {
    if (value.is_string()) {
      string(value.get_ref<const std::string&>());
    } else if (value.is_number_integer() && !value.is_number_unsigned()) {
      number(value.get<std::int64_t>());
    } else if (value.is_number_unsigned()) {
      number(value.get<std::uint64_t>());
    } else if (value.is_boolean()) {
      boolean(value.get<bool>());
    } else if (value.is_object() && value.empty()) {
      raw("{}");
      need_comma_ = true;
    } else {
      out_.append(value.dump());
      need_comma_ = true;
    }
  }
  void json_map(const std::map<std::string, Json>& map) {
    open('{');
    for (const auto& [name, value] : map) {
      if (need_comma_) out_.push_back(',');
      string(name);
      out_.push_back(':');
      json(value);
    }
    close('}');
  }

 private:
  std::string& out_;
  bool need_comma_ = false;
};

void write_run(Writer& w, const ActuationRun& run) {
  w.open('{');
  w.key("device"), w.string(run.actuation.device);
  w.key("command"), w.string(run.actuation.command);
  w.key("args"), w.json(run.actuation.args);
  w.key("cmd_id"), w.string(run.cmd_id);
  w.key("seq"), w.number(run.seq);
  w.key("state"), w.string(to_string(run.state));
  w.key("attempts"), w.number(run.attempts);
  w.key("error"), w.string(run.error);
  w.key("sent_at"), w.number(run.sent_at);
  w.key("resolved_at"), w.number(run.resolved_at);
  if (run.actuation.compensation) {
    w.key("compensation");
    w.open('{');
    w.key("command"), w.string(run.actuation.compensation->command);
    w.key("args"), w.json(run.actuation.compensation->args);
    w.close('}');
  }
  if (!run.actuation.writes_on_success.empty()) w.key("writes_on_success"), w.json_map(run.actuation.writes_on_success);
  w.close('}');
}

void write_runs(Writer& w, const std::vector<ActuationRun>& runs) {
  w.open('[');
  for (const auto& run : runs) w.element(), write_run(w, run);
  w.close(']');
}

void write_quorum(Writer& w, const Quorum& q) {
  w.open('{');
  w.key("mode"), w.string(to_string(q.mode));
  w.key("k"), w.number(q.k);
  w.close('}');
}

}  // namespace

std::string encode_record(const TransactuationRecord& r) {
  std::string out;
  out.reserve(1024 + 256 * (r.actuations.size() + r.compensations.size() + r.readings.size()));
  Writer w(out);
  w.open('{');
  w.key("id"), w.number(r.id);
  w.key("app"), w.string(r.app);
  w.key("trigger"), w.json(r.trigger);
  w.key("triggered_at"), w.number(r.triggered_at);
  w.key("logic_at"), w.number(r.logic_at);
  w.key("finished_at"), w.number(r.finished_at);
  w.key("status"), w.string(to_string(r.status));
  w.key("reason"), w.string(to_string(r.reason));
  w.key("detail"), w.string(r.detail);
  w.key("readings");
  w.open('[');
  for (const auto& used : r.readings) {
    w.element();
    w.open('{');
    w.key("device"), w.string(used.reading.device);
    w.key("attribute"), w.string(used.reading.attribute);
    w.key("value"), w.json(used.reading.value);
    w.key("device_time"), w.number(used.reading.device_time);
    w.key("received_time"), w.number(used.reading.received_time);
    w.key("age"), w.number(used.age);
    w.close('}');
  }
  w.close(']');
  w.key("state_read"), w.json_map(r.state_read);
  w.key("actuations"), write_runs(w, r.actuations);
  w.key("compensations"), write_runs(w, r.compensations);
  w.key("state_writes"), w.json_map(r.state_writes);
  w.key("actuating");
  w.open('{');
  w.key("require"), write_quorum(w, r.actuating.require);
  w.key("timeout"), w.number(r.actuating.timeout);
  w.key("retries"), w.number(r.actuating.retries);
  w.key("on_failure"), w.string(to_string(r.actuating.on_failure));
  w.key("compensate"), w.boolean(r.actuating.compensate);
  w.key("sequential"), w.boolean(r.actuating.sequential);
  w.close('}');
  w.key("locks");
  w.open('[');
  for (const auto& lock : r.locks) {
    w.element();
    w.open('{');
    w.key("resource"), w.string(lock.resource);
    w.key("exclusive"), w.boolean(lock.mode == LockMode::exclusive);
    w.close('}');
  }
  w.close(']');
  w.key("recovered"), w.boolean(r.recovered);
  w.close('}');
  return out;
}

}  // namespace homestead::transactuation
