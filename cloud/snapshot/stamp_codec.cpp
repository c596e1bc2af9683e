#include "cloud/snapshot/stamp_codec.h"

#include <nlohmann/json.hpp>

#include "cloud/snapshot/varint_io.h"

namespace homestead::snapshot {
namespace {

using Reader = VarintReader<StampError>;

}  // namespace

std::string encode_stamp_bytes(const Stamp& stamp) {
  std::string out;
  put_text(out, stamp.from);
  put_varint(out, stamp.incarnation);
  put_varint(out, stamp.seq);
  put_varint(out, stamp.marks.size());
  for (const auto& mark : stamp.marks) {
    put_varint(out, mark.id);
    put_varint(out, mark.cut_seq);
  }
  // The acknowledgement is optional on the wire (a stamp without one ends after the marks).
  if (stamp.ack_incarnation != 0) {
    put_varint(out, stamp.ack_incarnation);
    put_varint(out, stamp.acked_through);
  }
  return out;
}

Stamp decode_stamp_bytes(std::string_view bytes) {
  Reader in(bytes, "snapshot stamp");
  Stamp stamp;
  stamp.from = in.text();
  stamp.incarnation = in.varint();
  stamp.seq = in.varint();
  const std::uint64_t marks = in.count();
  for (std::uint64_t i = 0; i < marks; ++i) {
    CutMark mark;
    mark.id = in.varint();
    mark.cut_seq = in.varint();
    stamp.marks.push_back(mark);
  }
  if (!in.done()) {
    stamp.ack_incarnation = in.varint();
    stamp.acked_through = in.varint();
    if (stamp.ack_incarnation == 0) throw StampError("snapshot stamp: acknowledgement without incarnation");
  }
  if (!in.done()) throw StampError("snapshot stamp: trailing bytes");
  return stamp;
}

std::string encode_stamp_hex(const Stamp& stamp) {
  static const char* digits = "0123456789abcdef";
  const std::string bytes = encode_stamp_bytes(stamp);
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

Stamp decode_stamp_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw StampError("snapshot stamp: not hex");
  };
  if (hex.size() % 2) throw StampError("snapshot stamp: odd hex length");
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) bytes.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  return decode_stamp_bytes(bytes);
}

namespace {

constexpr std::string_view kField = "snapshot_stamp";

// MessagePack str header for `size` bytes (fixstr / str8 / str16).
std::string msgpack_str_header(std::size_t size) {
  std::string out;
  if (size < 32) {
    out.push_back(static_cast<char>(0xa0 | size));
  } else if (size < 256) {
    out.push_back(static_cast<char>(0xd9));
    out.push_back(static_cast<char>(size));
  } else if (size < 65536) {
    out.push_back(static_cast<char>(0xda));
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xff));
  } else {
    out.push_back(static_cast<char>(0xdb));
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  }
  return out;
}

// The str MessagePack encodes at `pos` when it ends the body exactly: its bytes' range.
std::optional<std::pair<std::size_t, std::size_t>> msgpack_str_ending_body(const std::string& body, std::size_t pos) {
  if (pos >= body.size()) return std::nullopt;
  const auto tag = static_cast<unsigned char>(body[pos]);
  std::size_t length_bytes = 0;
  std::size_t size = 0;
  if ((tag & 0xe0) == 0xa0) {
    size = tag & 0x1f;
  } else if (tag == 0xd9) {
    length_bytes = 1;
  } else if (tag == 0xda) {
    length_bytes = 2;
  } else if (tag == 0xdb) {
    length_bytes = 4;
  } else {
    return std::nullopt;
  }
  if (pos + length_bytes >= body.size()) return std::nullopt;
  for (std::size_t i = 1; i <= length_bytes; ++i) size = (size << 8) | static_cast<unsigned char>(body[pos + i]);
  const std::size_t start = pos + 1 + length_bytes;
  if (start + size != body.size()) return std::nullopt;
  return std::make_pair(start, size);
}

// The map header at the front of `body`: its length in bytes and its entry count.
bool msgpack_map_header(const std::string& body, std::size_t& header, std::uint32_t& count) {
  if (body.empty()) return false;
  const auto first = static_cast<unsigned char>(body[0]);
  if ((first & 0xf0) == 0x80) {
    header = 1;
    count = first & 0x0f;
    return true;
  }
  if (first == 0xde && body.size() >= 3) {
    header = 3;
    count = (static_cast<unsigned char>(body[1]) << 8) | static_cast<unsigned char>(body[2]);
    return true;
  }
  if (first == 0xdf && body.size() >= 5) {
    header = 5;
    count = 0;
    for (int i = 1; i <= 4; ++i) count = (count << 8) | static_cast<unsigned char>(body[i]);
    return true;
  }
  return false;
}

std::string msgpack_map_header_for(std::uint32_t count) {
  std::string out;
  if (count < 16) {
    out.push_back(static_cast<char>(0x80 | count));
  } else if (count < 65536) {
    out.push_back(static_cast<char>(0xde));
    out.push_back(static_cast<char>(count >> 8));
    out.push_back(static_cast<char>(count & 0xff));
  } else {
    out.push_back(static_cast<char>(0xdf));
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((count >> shift) & 0xff));
  }
  return out;
}

}  // namespace

bool append_stamp_field_json(std::string& body, const std::string& hex) {
  return append_text_field_json(body, kField, hex);
}

std::string strip_stamp_field_json(std::string& body) {
  const std::string key = "\"" + std::string(kField) + "\":\"";
  const auto field = body.rfind(key);
  if (field == std::string::npos) return {};
  const auto value = field + key.size();
  const auto end = body.find('"', value);
  if (end == std::string::npos) return {};
  std::string hex = body.substr(value, end - value);
  std::size_t from = field;
  const auto comma = field == 0 ? std::string::npos : body.find_last_not_of(" \n\r\t", field - 1);
  if (comma != std::string::npos && body[comma] == ',') from = comma;
  body.erase(from, end + 1 - from);
  return hex;
}

bool append_stamp_field_msgpack(std::string& body, const std::string& hex) {
  return append_text_field_msgpack(body, kField, hex);
}

std::string strip_stamp_field_msgpack(std::string& body) {
  std::size_t header = 0;
  std::uint32_t count = 0;
  if (!msgpack_map_header(body, header, count) || count == 0) return {};
  const std::string key = msgpack_str_header(kField.size()) + std::string(kField);
  const auto at = body.rfind(key);
  if (at == std::string::npos || at < header) return {};
  // The value: the stamp's str, which must end the body exactly.
  const auto value = msgpack_str_ending_body(body, at + key.size());
  if (!value) return {};
  std::string hex = body.substr(value->first, value->second);
  std::string out = msgpack_map_header_for(count - 1);
  out.append(body, header, at - header);
  body = std::move(out);
  return hex;
}

bool append_text_field_json(std::string& body, std::string_view name, std::string_view value) {
  const auto close = body.find_last_of('}');
  if (close == std::string::npos || body.find_first_not_of(" \n\r\t", close + 1) != std::string::npos) return false;
  const auto before = close == 0 ? std::string::npos : body.find_last_not_of(" \n\r\t", close - 1);
  if (before == std::string::npos) return false;
  const bool empty_object = body[before] == '{';
  body.insert(close, std::string(empty_object ? "" : ",") + nlohmann::json(std::string(name)).dump() + ":" +
                         nlohmann::json(std::string(value)).dump());
  return true;
}

std::optional<std::string> find_text_field_json(const std::string& body, std::string_view name) {
  // Inside a JSON string every quote is escaped, so `"name":` with bare quotes can only be
  // a key; the last one is the last field's when the field was appended.
  const std::string key = nlohmann::json(std::string(name)).dump() + ":";
  const auto at = body.rfind(key);
  const auto close = body.find_last_of('}');
  if (at == std::string::npos || close == std::string::npos || close < at) return std::nullopt;
  try {
    const auto value = nlohmann::json::parse(std::string_view(body).substr(at + key.size(), close - at - key.size()));
    if (!value.is_string()) return std::nullopt;
    return value.get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

bool append_text_field_msgpack(std::string& body, std::string_view name, std::string_view value) {
  std::size_t header = 0;
  std::uint32_t count = 0;
  if (!msgpack_map_header(body, header, count) || count == UINT32_MAX) return false;
  std::string out = msgpack_map_header_for(count + 1);
  out.append(body, header, std::string::npos);
  out += msgpack_str_header(name.size());
  out += name;
  out += msgpack_str_header(value.size());
  out += value;
  body = std::move(out);
  return true;
}

std::optional<std::string> find_text_field_msgpack(const std::string& body, std::string_view name) {
  std::size_t header = 0;
  std::uint32_t count = 0;
  if (!msgpack_map_header(body, header, count) || count == 0) return std::nullopt;
  const std::string key = msgpack_str_header(name.size()) + std::string(name);
  // The value's bytes may contain the key's bytes too: the field is the one whose str ends
  // the body exactly, so try candidates from the back.
  for (auto at = body.rfind(key); at != std::string::npos && at >= header; at = at == 0 ? std::string::npos : body.rfind(key, at - 1)) {
    if (const auto value = msgpack_str_ending_body(body, at + key.size())) return body.substr(value->first, value->second);
  }
  return std::nullopt;
}

}  // namespace homestead::snapshot
