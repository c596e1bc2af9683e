#include "cloud/rpc/msgpack_io.h"

#include <cstring>

namespace homestead::rpc {

std::string_view type_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::nil: return "null";
    case ValueKind::boolean: return "boolean";
    case ValueKind::unsigned_integer:
    case ValueKind::signed_integer:
    case ValueKind::floating: return "number";
    case ValueKind::string: return "string";
    case ValueKind::binary: return "binary";
    case ValueKind::array: return "array";
    case ValueKind::object: return "object";
  }
  return "value";
}

// ---- writer ----

void MsgpackWriter::put(std::uint64_t value, int bytes) {
  char buffer[8];
  for (int i = bytes - 1; i >= 0; --i) {
    buffer[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out_.append(buffer, static_cast<std::size_t>(bytes));
}

// The smallest encoding, as nlohmann's writer picks it, so both produce the same bytes.
void MsgpackWriter::unsigned_integer(std::uint64_t value) {
  if (value < 0x80) {
    out_.push_back(static_cast<char>(value));
  } else if (value <= 0xff) {
    out_.push_back(static_cast<char>(0xcc));
    put(value, 1);
  } else if (value <= 0xffff) {
    out_.push_back(static_cast<char>(0xcd));
    put(value, 2);
  } else if (value <= 0xffffffffu) {
    out_.push_back(static_cast<char>(0xce));
    put(value, 4);
  } else {
    out_.push_back(static_cast<char>(0xcf));
    put(value, 8);
  }
}

void MsgpackWriter::signed_integer(std::int64_t value) {
  if (value >= 0) return unsigned_integer(static_cast<std::uint64_t>(value));
  const auto bits = static_cast<std::uint64_t>(value);
  if (value >= -32) {
    out_.push_back(static_cast<char>(bits & 0xff));
  } else if (value >= INT8_MIN) {
    out_.push_back(static_cast<char>(0xd0));
    put(bits, 1);
  } else if (value >= INT16_MIN) {
    out_.push_back(static_cast<char>(0xd1));
    put(bits, 2);
  } else if (value >= INT32_MIN) {
    out_.push_back(static_cast<char>(0xd2));
    put(bits, 4);
  } else {
    out_.push_back(static_cast<char>(0xd3));
    put(bits, 8);
  }
}

void MsgpackWriter::number(double value) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  out_.push_back(static_cast<char>(0xcb));
  put(bits, 8);
}

void MsgpackWriter::string(std::string_view value) {
  const std::size_t size = value.size();
  if (size < 32) {
    out_.push_back(static_cast<char>(0xa0 | size));
  } else if (size <= 0xff) {
    out_.push_back(static_cast<char>(0xd9));
    put(size, 1);
  } else if (size <= 0xffff) {
    out_.push_back(static_cast<char>(0xda));
    put(size, 2);
  } else {
    out_.push_back(static_cast<char>(0xdb));
    put(size, 4);
  }
  out_.append(value);
}

void MsgpackWriter::container_header(std::size_t size, unsigned fix, unsigned sized16) {
  if (size < 16) {
    out_.push_back(static_cast<char>(fix | size));
  } else if (size <= 0xffff) {
    out_.push_back(static_cast<char>(sized16));
    put(size, 2);
  } else {
    out_.push_back(static_cast<char>(sized16 + 1));
    put(size, 4);
  }
}

void MsgpackWriter::json(const nlohmann::json& value) {
  nlohmann::json::to_msgpack(value, nlohmann::detail::output_adapter<char>(out_));
}

// ---- reader ----

std::uint8_t MsgpackReader::byte() const {
  if (at_ >= in_.size()) throw MalformedBody("unexpected end of input at byte " + std::to_string(at_));
  return static_cast<std::uint8_t>(in_[at_]);
}

std::uint64_t MsgpackReader::take(int bytes) {
  if (in_.size() - at_ < static_cast<std::size_t>(bytes))
    throw MalformedBody("unexpected end of input at byte " + std::to_string(in_.size()));
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<std::uint8_t>(in_[at_ + i]);
  at_ += static_cast<std::size_t>(bytes);
  return value;
}

std::string_view MsgpackReader::take_bytes(std::uint64_t count) {
  if (in_.size() - at_ < count)
    throw MalformedBody("a value of " + std::to_string(count) + " bytes runs past the end of the body");
  const auto view = in_.substr(at_, count);
  at_ += count;
  return view;
}

ValueKind MsgpackReader::peek() const {
  const std::uint8_t b = byte();
  if (b <= 0x7f) return ValueKind::unsigned_integer;
  if (b <= 0x8f) return ValueKind::object;
  if (b <= 0x9f) return ValueKind::array;
  if (b <= 0xbf) return ValueKind::string;
  if (b >= 0xe0) return ValueKind::signed_integer;
  switch (b) {
    case 0xc0: return ValueKind::nil;
    case 0xc2:
    case 0xc3: return ValueKind::boolean;
    case 0xc4: case 0xc5: case 0xc6:
    case 0xc7: case 0xc8: case 0xc9:
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return ValueKind::binary;
    case 0xca:
    case 0xcb: return ValueKind::floating;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: return ValueKind::unsigned_integer;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: return ValueKind::signed_integer;
    case 0xd9: case 0xda: case 0xdb: return ValueKind::string;
    case 0xdc: case 0xdd: return ValueKind::array;
    case 0xde: case 0xdf: return ValueKind::object;
    default: throw MalformedBody("invalid MessagePack type byte 0x" + [b] {
      static const char* digits = "0123456789abcdef";
      return std::string{digits[b >> 4], digits[b & 15]};
    }());
  }
}

bool MsgpackReader::read_bool() { return take(1) == 0xc3; }

std::uint64_t MsgpackReader::read_unsigned() {
  const std::uint8_t b = static_cast<std::uint8_t>(take(1));
  if (b <= 0x7f) return b;
  return take(1 << (b - 0xcc));  // 0xcc..0xcf: 1, 2, 4, 8 bytes
}

std::int64_t MsgpackReader::read_signed() {
  const std::uint8_t b = static_cast<std::uint8_t>(take(1));
  if (b >= 0xe0) return static_cast<std::int8_t>(b);
  switch (b) {
    case 0xd0: return static_cast<std::int8_t>(take(1));
    case 0xd1: return static_cast<std::int16_t>(take(2));
    case 0xd2: return static_cast<std::int32_t>(take(4));
    default: return static_cast<std::int64_t>(take(8));
  }
}

double MsgpackReader::read_number() {
  switch (peek()) {
    case ValueKind::unsigned_integer: return static_cast<double>(read_unsigned());
    case ValueKind::signed_integer: return static_cast<double>(read_signed());
    default: break;
  }
  if (take(1) == 0xca) {
    const auto bits = static_cast<std::uint32_t>(take(4));
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
  const std::uint64_t bits = take(8);
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

void MsgpackReader::read_string(std::string& out) {
  const std::uint8_t b = static_cast<std::uint8_t>(take(1));
  std::uint64_t size;
  if (b >= 0xa0 && b <= 0xbf) {
    size = b & 0x1f;
  } else {
    size = take(1 << (b - 0xd9));  // 0xd9..0xdb: 1, 2, 4 bytes
  }
  out.assign(take_bytes(size));  // the one bulk copy per string
}

std::uint64_t MsgpackReader::container_size(unsigned fix_base, unsigned sized16, const char* what) {
  const std::uint8_t b = static_cast<std::uint8_t>(take(1));
  std::uint64_t size;
  if ((b & 0xf0) == fix_base) {
    size = b & 0x0f;
  } else {
    size = take(b == sized16 ? 2 : 4);
  }
  if (size > left()) {
    throw MalformedBody(std::string(what) + " of " + std::to_string(size) + " entries in a body with " +
                        std::to_string(left()) + " bytes left");
  }
  return size;
}

MsgpackReader::Cursor MsgpackReader::begin_array() { return {container_size(0x90, 0xdc, "an array")}; }
MsgpackReader::Cursor MsgpackReader::begin_object() { return {container_size(0x80, 0xde, "a map")}; }

bool MsgpackReader::next_key(Cursor& cursor, std::string_view& key) {
  if (cursor.remaining == 0) return false;
  --cursor.remaining;
  if (peek() != ValueKind::string) throw MalformedBody("a map key that is not a string");
  const std::uint8_t b = static_cast<std::uint8_t>(take(1));
  const std::uint64_t size = (b >= 0xa0 && b <= 0xbf) ? (b & 0x1f) : take(1 << (b - 0xd9));
  key = take_bytes(size);
  return true;
}

void MsgpackReader::skip() {
  std::uint64_t values = 1;  // still to skip; containers add their entries
  while (values > 0) {
    --values;
    const std::uint8_t b = byte();
    switch (peek()) {
      case ValueKind::nil:
      case ValueKind::boolean: ++at_; break;
      case ValueKind::unsigned_integer: read_unsigned(); break;
      case ValueKind::signed_integer: read_signed(); break;
      case ValueKind::floating: ++at_; take_bytes(b == 0xca ? 4 : 8); break;
      case ValueKind::string: {
        ++at_;
        take_bytes((b >= 0xa0 && b <= 0xbf) ? (b & 0x1f) : take(1 << (b - 0xd9)));
        break;
      }
      case ValueKind::binary: {
        ++at_;
        if (b >= 0xc4 && b <= 0xc6) {
          take_bytes(take(1 << (b - 0xc4)));
        } else if (b >= 0xc7 && b <= 0xc9) {
          take_bytes(take(1 << (b - 0xc7)) + 1);  // + the ext type byte
        } else {
          take_bytes((1u << (b - 0xd4)) + 1);  // fixext 1..16 + type byte
        }
        break;
      }
      case ValueKind::array: values += begin_array().remaining; break;
      case ValueKind::object: values += 2 * begin_object().remaining; break;
    }
  }
}

nlohmann::json MsgpackReader::read_json() {
  const std::size_t start = at_;
  skip();
  const auto slice = in_.substr(start, at_ - start);
  try {
    return nlohmann::json::from_msgpack(slice.begin(), slice.end());
  } catch (const nlohmann::json::exception& e) {
    throw MalformedBody(e.what());
  }
}

void MsgpackReader::expect_end() const {
  if (at_ != in_.size())
    throw MalformedBody(std::to_string(in_.size() - at_) + " unexpected bytes after the message");
}

}  // namespace homestead::rpc
