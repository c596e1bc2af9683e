// A streaming JSON writer and reader for the IDL structs (message_codec.h), the JSON
// counterpart of msgpack_io.h: no DOM per call, and strings are copied in runs between the
// bytes that need escaping instead of one character at a time.
// Output matches nlohmann's dump() for strings and integers (same escapes, raw UTF-8,
// invalid UTF-8 refused); input is strict RFC 8259 JSON with UTF-8 validated, as nlohmann
// parses it. Errors are MalformedBody (msgpack_io.h) naming the byte offset.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/rpc/msgpack_io.h"

namespace homestead::rpc {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void nil() { out_ += "null"; }
  void boolean(bool value) { out_ += value ? "true" : "false"; }
  void unsigned_integer(std::uint64_t value);
  void signed_integer(std::int64_t value);
  void number(double value);  // nlohmann's shortest round-trip form; NaN/inf as null
  // Throws SchemaError when `value` is not valid UTF-8 (JSON cannot carry it; use msgpack).
  void string(std::string_view value);
  void begin_array(std::size_t /*size*/) { out_.push_back('['); }
  void element(bool first) {
    if (!first) out_.push_back(',');
  }
  void end_array() { out_.push_back(']'); }
  void begin_object(std::size_t /*size*/) { out_.push_back('{'); }
  void key(std::string_view name, bool first) {
    if (!first) out_.push_back(',');
    string(name);
    out_.push_back(':');
  }
  void end_object() { out_.push_back('}'); }
  void json(const nlohmann::json& value) { out_ += value.dump(); }

 private:
  std::string& out_;
};

class JsonReader {
 public:
  // A leading UTF-8 byte order mark is skipped, as nlohmann's parser does.
  explicit JsonReader(std::string_view in) : in_(in), at_(in.starts_with("\xEF\xBB\xBF") ? 3 : 0) {}

  ValueKind peek();
  void skip();
  bool read_bool();
  std::uint64_t read_unsigned();
  std::int64_t read_signed();
  double read_number();
  void read_string(std::string& out);

  struct Cursor {
    bool first = true;
  };
  Cursor begin_array();
  Cursor begin_object();
  bool next_element(Cursor& cursor);
  // The key is unescaped into a buffer the next key read reuses.
  bool next_key(Cursor& cursor, std::string_view& key);
  nlohmann::json read_json();
  void expect_end();

 private:
  void skip_space();
  [[noreturn]] void fail(const std::string& what) const;
  void expect(char c);
  void expect_word(std::string_view word);
  std::size_t number_end(bool& is_integer) const;
  template <class Integer>
  Integer read_integer();  // validates the number token at at_
  bool close_or_comma(Cursor& cursor, char close);
  std::string_view in_;
  std::size_t at_ = 0;
  std::string key_;
};

}  // namespace homestead::rpc
