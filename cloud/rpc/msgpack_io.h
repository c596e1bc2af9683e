// A streaming MessagePack writer and reader for the IDL structs (message_codec.h), so a typed
// message is encoded and decoded without building an nlohmann DOM in between: strings are
// appended and assigned with one bulk copy each instead of nlohmann's byte-by-byte string
// reader, which made a 4 KiB payload cost more than the whole tcp round trip.
// The bytes are ordinary MessagePack, readable by nlohmann::json::from_msgpack and any other
// implementation, and the reader accepts everything nlohmann's writer produces.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace homestead::rpc {

// What a reader sees next; the names follow nlohmann's type_name() in error messages.
enum class ValueKind : std::uint8_t { nil, boolean, unsigned_integer, signed_integer, floating, string, binary, array, object };
std::string_view type_name(ValueKind kind);

// A body that is not well-formed (truncated, unknown type byte, trailing bytes).
class MalformedBody : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class MsgpackWriter {
 public:
  explicit MsgpackWriter(std::string& out) : out_(out) {}

  void nil() { out_.push_back(static_cast<char>(0xc0)); }
  void boolean(bool value) { out_.push_back(static_cast<char>(value ? 0xc3 : 0xc2)); }
  void unsigned_integer(std::uint64_t value);
  void signed_integer(std::int64_t value);
  void number(double value);
  void string(std::string_view value);
  void begin_array(std::size_t size) { container_header(size, 0x90, 0xdc); }
  void element(bool /*first*/) {}
  void end_array() {}
  void begin_object(std::size_t size) { container_header(size, 0x80, 0xde); }
  void key(std::string_view name, bool /*first*/) { string(name); }
  void end_object() {}
  void json(const nlohmann::json& value);

 private:
  void container_header(std::size_t size, unsigned fix, unsigned sized16);
  void put(std::uint64_t value, int bytes);
  std::string& out_;
};

class MsgpackReader {
 public:
  explicit MsgpackReader(std::string_view in) : in_(in) {}

  ValueKind peek() const;
  void skip();  // one whole value, iteratively (no recursion on hostile nesting)
  bool read_bool();
  std::uint64_t read_unsigned();  // peek() == unsigned_integer
  std::int64_t read_signed();     // peek() == signed_integer
  double read_number();           // any integer or floating kind
  void read_string(std::string& out);

  struct Cursor {
    std::uint64_t remaining = 0;
  };
  Cursor begin_array();
  Cursor begin_object();
  bool next_element(Cursor& cursor) { return cursor.remaining > 0 && (--cursor.remaining, true); }
  // The next key of an object (a view into the body), or false at the end.
  bool next_key(Cursor& cursor, std::string_view& key);
  // The next value as an nlohmann document, for field types without a direct path.
  nlohmann::json read_json();
  // Every value has at least one byte: bounds a claimed container size before reserving.
  std::size_t left() const { return in_.size() - at_; }
  void expect_end() const;

 private:
  std::uint8_t byte() const;
  std::uint64_t take(int bytes);
  std::string_view take_bytes(std::uint64_t count);
  std::uint64_t container_size(unsigned fix_base, unsigned sized16, const char* what);
  std::string_view in_;
  std::size_t at_ = 0;
};

}  // namespace homestead::rpc
