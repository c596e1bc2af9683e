#include "cloud/rpc/json_io.h"

#include <charconv>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "cloud/rpc/schema.h"

namespace homestead::rpc {

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0.
// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = at(i);
  const auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  if (b >= 0xc2 && b <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b == 0xe0) return cont(i + 1, 0xa0) && cont(i + 2) ? 3 : 0;
  if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (b == 0xed) return cont(i + 1, 0x80, 0x9f) && cont(i + 2) ? 3 : 0;
  if (b == 0xf0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (b == 0xf4) return cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
  }
}

constexpr char kHex[] = "0123456789abcdef";

// How many leading bytes of s[i..] need no escaping and no UTF-8 check (0x20..0x7f except
// '"' and '\\'), 16 (SSE2) and 8 (portable) at a time: the per-byte loop was most of a 4 KiB
// JSON call.
std::size_t plain_run(std::string_view s, std::size_t i) {
  const std::size_t start = i;
#if defined(__SSE2__)
  // A signed compare with 0x20 also catches bytes >= 0x80 (negative as int8).
  const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  while (s.size() - i >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i special =
        _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask))) - start;
    i += 16;
  }
#endif
  // Portable, and on x86 the 8..15-byte tail (so the tests exercise it there too).
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t highs = 0x8080808080808080ull;
  const auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  while (s.size() - i >= 8) {
    std::uint64_t word;
    std::memcpy(&word, s.data() + i, sizeof word);
    const std::uint64_t special = ((word - ones * 0x20) & ~word & highs)  // a byte < 0x20
                                  | has_zero(word ^ (ones * '"')) | has_zero(word ^ (ones * '\\')) | (word & highs);
    if (special != 0) break;
    i += 8;
  }
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
    ++i;
  }
  return i - start;
}

}  // namespace

// ---- writer ----

void JsonWriter::unsigned_integer(std::uint64_t value) {
  char buffer[24];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out_.append(buffer, end);
}

void JsonWriter::signed_integer(std::int64_t value) {
  char buffer[24];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out_.append(buffer, end);
}

void JsonWriter::number(double value) { out_ += nlohmann::json(value).dump(); }

void JsonWriter::string(std::string_view value) {
  out_.reserve(out_.size() + value.size() + 2);
  out_.push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < value.size();) {
    i += plain_run(value, i);
    if (i == value.size()) break;
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence(value, i);
      if (length == 0) {
        throw SchemaError("", "string is not valid UTF-8 (byte " + std::to_string(i) +
                                  "); JSON cannot carry it, use MessagePack");
      }
      i += length;
      continue;
    }
    out_.append(value.substr(run, i - run));
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default: {
        const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out_.append(escaped, sizeof escaped);
      }
    }
    run = ++i;
  }
  out_.append(value.substr(run));
  out_.push_back('"');
}

// ---- reader ----

void JsonReader::fail(const std::string& what) const {
  throw MalformedBody(what + " at byte " + std::to_string(at_));
}

void JsonReader::skip_space() {
  while (at_ < in_.size() && (in_[at_] == ' ' || in_[at_] == '\n' || in_[at_] == '\r' || in_[at_] == '\t')) ++at_;
}

void JsonReader::expect(char c) {
  skip_space();
  if (at_ >= in_.size() || in_[at_] != c) fail(std::string("expected '") + c + "'");
  ++at_;
}

void JsonReader::expect_word(std::string_view word) {
  if (in_.substr(at_, word.size()) != word) fail("invalid literal");
  at_ += word.size();
}

std::size_t JsonReader::number_end(bool& is_integer) const {
  std::size_t i = at_;
  const auto digit = [&](std::size_t k) { return k < in_.size() && in_[k] >= '0' && in_[k] <= '9'; };
  is_integer = true;
  if (i < in_.size() && in_[i] == '-') ++i;
  if (!digit(i)) fail("invalid number");
  if (in_[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < in_.size() && in_[i] == '.') {
    is_integer = false;
    ++i;
    if (!digit(i)) fail("invalid number");
    while (digit(i)) ++i;
  }
  if (i < in_.size() && (in_[i] == 'e' || in_[i] == 'E')) {
    is_integer = false;
    ++i;
    if (i < in_.size() && (in_[i] == '+' || in_[i] == '-')) ++i;
    if (!digit(i)) fail("invalid number");
    while (digit(i)) ++i;
  }
  return i;
}

ValueKind JsonReader::peek() {
  skip_space();
  if (at_ >= in_.size()) fail("unexpected end of input");
  switch (in_[at_]) {
    case '{': return ValueKind::object;
    case '[': return ValueKind::array;
    case '"': return ValueKind::string;
    case 't':
    case 'f': return ValueKind::boolean;
    case 'n': return ValueKind::nil;
    default: break;
  }
  bool is_integer = false;
  const std::size_t end = number_end(is_integer);
  if (!is_integer) return ValueKind::floating;
  // As nlohmann: a negative integer is signed, a positive one unsigned, and one that does
  // not fit 64 bits is a floating-point number.
  const char* first = in_.data() + at_;
  const char* last = in_.data() + end;
  if (*first == '-') {
    std::int64_t v;
    return std::from_chars(first, last, v).ec == std::errc() ? ValueKind::signed_integer : ValueKind::floating;
  }
  std::uint64_t v;
  return std::from_chars(first, last, v).ec == std::errc() ? ValueKind::unsigned_integer : ValueKind::floating;
}

bool JsonReader::read_bool() {
  skip_space();
  if (in_[at_] == 't') {
    expect_word("true");
    return true;
  }
  expect_word("false");
  return false;
}

template <class Integer>
Integer JsonReader::read_integer() {
  skip_space();
  bool is_integer;
  const std::size_t end = number_end(is_integer);
  Integer v = 0;
  std::from_chars(in_.data() + at_, in_.data() + end, v);  // peek() checked that it fits
  at_ = end;
  return v;
}

std::uint64_t JsonReader::read_unsigned() { return read_integer<std::uint64_t>(); }
std::int64_t JsonReader::read_signed() { return read_integer<std::int64_t>(); }

double JsonReader::read_number() {
  skip_space();
  bool is_integer;
  const std::size_t end = number_end(is_integer);
  double v = 0;
  if (std::from_chars(in_.data() + at_, in_.data() + end, v).ec != std::errc()) fail("number out of range");
  at_ = end;
  return v;
}

void JsonReader::read_string(std::string& out) {
  expect('"');
  out.clear();
  std::size_t run = at_;
  for (;;) {
    at_ += plain_run(in_, at_);
    if (at_ >= in_.size()) fail("unterminated string");
    const auto c = static_cast<unsigned char>(in_[at_]);
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence(in_, at_);
      if (length == 0) fail("invalid UTF-8 in string");
      at_ += length;
      continue;
    }
    out.append(in_.substr(run, at_ - run));  // the plain run, in one copy
    if (c == '"') {
      ++at_;
      return;
    }
    if (c < 0x20) fail("control character in string");
    // A backslash escape.
    if (at_ + 1 >= in_.size()) fail("unterminated escape");
    const char e = in_[at_ + 1];
    at_ += 2;
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        const auto hex4 = [&]() -> std::uint32_t {
          std::uint32_t v = 0;
          if (in_.size() - at_ < 4 || std::from_chars(in_.data() + at_, in_.data() + at_ + 4, v, 16).ptr !=
                                          in_.data() + at_ + 4) {
            fail("invalid \\u escape");
          }
          at_ += 4;
          return v;
        };
        std::uint32_t code = hex4();
        if (code >= 0xd800 && code <= 0xdbff) {  // a high surrogate needs its low half
          if (in_.substr(at_, 2) != "\\u") fail("unpaired surrogate in \\u escape");
          at_ += 2;
          const std::uint32_t low = hex4();
          if (low < 0xdc00 || low > 0xdfff) fail("unpaired surrogate in \\u escape");
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        } else if (code >= 0xdc00 && code <= 0xdfff) {
          fail("unpaired surrogate in \\u escape");
        }
        append_utf8(out, code);
        break;
      }
      default: fail("invalid escape");
    }
    run = at_;
  }
}

JsonReader::Cursor JsonReader::begin_array() {
  expect('[');
  return {};
}

JsonReader::Cursor JsonReader::begin_object() {
  expect('{');
  return {};
}

bool JsonReader::close_or_comma(Cursor& cursor, char close) {
  skip_space();
  if (at_ < in_.size() && in_[at_] == close && cursor.first) {
    ++at_;
    return false;
  }
  if (!cursor.first) {
    if (at_ < in_.size() && in_[at_] == close) {
      ++at_;
      return false;
    }
    expect(',');
  }
  cursor.first = false;
  return true;
}

bool JsonReader::next_element(Cursor& cursor) { return close_or_comma(cursor, ']'); }

bool JsonReader::next_key(Cursor& cursor, std::string_view& key) {
  if (!close_or_comma(cursor, '}')) return false;
  skip_space();
  if (at_ >= in_.size() || in_[at_] != '"') fail("expected a string key");
  read_string(key_);
  expect(':');
  key = key_;
  return true;
}

void JsonReader::skip() {
  struct Open {
    bool object;
    Cursor cursor;
  };
  std::vector<Open> open;  // allocated only when skipping containers
  std::string scratch;
  for (;;) {
    switch (peek()) {
      case ValueKind::object: open.push_back({true, begin_object()}); break;
      case ValueKind::array: open.push_back({false, begin_array()}); break;
      case ValueKind::string: read_string(scratch); break;
      case ValueKind::boolean: read_bool(); break;
      case ValueKind::nil: expect_word("null"); break;
      default: {
        bool is_integer;
        at_ = number_end(is_integer);
      }
    }
    // Move to the next value still inside an open container, closing finished ones.
    for (;;) {
      if (open.empty()) return;
      auto& top = open.back();
      std::string_view key;
      if (top.object ? next_key(top.cursor, key) : next_element(top.cursor)) break;
      open.pop_back();
    }
  }
}

nlohmann::json JsonReader::read_json() {
  skip_space();
  const std::size_t start = at_;
  skip();
  const auto slice = in_.substr(start, at_ - start);
  try {
    return nlohmann::json::parse(slice.begin(), slice.end());
  } catch (const nlohmann::json::exception& e) {
    throw MalformedBody(e.what());
  }
}

void JsonReader::expect_end() {
  skip_space();
  if (at_ != in_.size()) fail("unexpected bytes after the message");
}

}  // namespace homestead::rpc
