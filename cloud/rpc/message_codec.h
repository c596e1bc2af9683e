// Typed messages straight to and from wire bytes: encode_message / decode_message walk a
// struct's schema() (schema.h) with a streaming writer/reader (msgpack_io.h, json_io.h), so
// no nlohmann DOM is built per call and strings are bulk-copied. Stubs and skeletons use
// these; to_document/from_document stay for code that wants the document itself.
//
// The rules are schema.h's, field for field: unknown fields are skipped, a missing or null
// optional field keeps its default, a missing required field or a wrong type is a
// SchemaError naming the path ("items[1].name"), a malformed body is a SchemaError with
// field "" and "malformed <codec> body: ..." (as codec.h's decode()). Field types without a
// direct path (nlohmann::json members, byte vectors) go through nlohmann for that field only.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "cloud/rpc/codec.h"
#include "cloud/rpc/json_io.h"
#include "cloud/rpc/msgpack_io.h"
#include "cloud/rpc/schema.h"

namespace homestead::rpc {

namespace detail {

// Where a value sits in the message, built only when an error needs the text.
struct FieldPath {
  const FieldPath* parent = nullptr;
  std::string_view name;  // a field or map key ("" for an array element)
  std::size_t index = 0;
  bool is_element = false;
  bool is_map_key = false;

  std::string str() const {
    std::string head = parent ? parent->str() : std::string();
    if (is_element) return head + "[" + std::to_string(index) + "]";
    if (is_map_key) return head + "." + std::string(name);
    return head.empty() ? std::string(name) : head + "." + std::string(name);
  }
};

template <class M>
inline constexpr bool is_direct_vector = is_vector<M>::value && !std::is_same_v<M, std::vector<std::uint8_t>>;

template <class W, class M>
void write_value(W& writer, const M& value);

template <class W, HasSchema T>
void write_message(W& writer, const T& message) {
  constexpr std::size_t count = std::tuple_size_v<decltype(T::schema())>;
  writer.begin_object(count);
  bool first = true;
  std::apply(
      [&](const auto&... field) {
        ((writer.key(field.name, first), first = false, write_value(writer, message.*(field.member))), ...);
      },
      T::schema());
  writer.end_object();
}

template <class W, class M>
void write_value(W& writer, const M& value) {
  if constexpr (HasSchema<M>) {
    write_message(writer, value);
  } else if constexpr (std::is_same_v<M, std::string>) {
    writer.string(value);
  } else if constexpr (std::is_same_v<M, bool>) {
    writer.boolean(value);
  } else if constexpr (std::is_integral_v<M> && std::is_signed_v<M>) {
    writer.signed_integer(value);
  } else if constexpr (std::is_integral_v<M>) {
    writer.unsigned_integer(value);
  } else if constexpr (std::is_floating_point_v<M>) {
    writer.number(static_cast<double>(value));
  } else if constexpr (is_direct_vector<M>) {
    writer.begin_array(value.size());
    bool first = true;
    for (const auto& item : value) {
      writer.element(first);
      first = false;
      write_value(writer, item);
    }
    writer.end_array();
  } else if constexpr (is_optional<M>::value) {
    if (value) {
      write_value(writer, *value);
    } else {
      writer.nil();
    }
  } else if constexpr (is_string_map<M>::value) {
    writer.begin_object(value.size());
    bool first = true;
    for (const auto& [key, item] : value) {
      writer.key(key, first);
      first = false;
      write_value(writer, item);
    }
    writer.end_object();
  } else {
    writer.json(encode_value(value));
  }
}

[[noreturn]] inline void wrong_type(const FieldPath& path, const char* expected, ValueKind got) {
  throw SchemaError(path.str(), std::string("expected ") + expected + ", got " + std::string(type_name(got)));
}

template <class R, class M>
void read_value(R& reader, M& out, const FieldPath& path);

template <class R, HasSchema T>
void read_message(R& reader, T& message, const FieldPath& path) {
  const ValueKind kind = reader.peek();
  if (kind != ValueKind::object) wrong_type(path, "an object", kind);
  constexpr std::size_t count = std::tuple_size_v<decltype(T::schema())>;
  std::array<bool, count> present{};
  auto cursor = reader.begin_object();
  std::string_view key;
  while (reader.next_key(cursor, key)) {
    bool matched = false;
    std::size_t index = 0;
    std::apply(
        [&](const auto&... field) {
          (
              [&] {
                if (!matched && key == field.name) {
                  matched = true;
                  if (reader.peek() == ValueKind::nil) {  // null counts as missing, as in from_document
                    reader.skip();
                    present[index] = false;
                  } else {
                    read_value(reader, message.*(field.member), FieldPath{&path, field.name});
                    present[index] = true;
                  }
                }
                ++index;
              }(),
              ...);
        },
        T::schema());
    if (!matched) reader.skip();  // a newer peer's field
  }
  std::size_t index = 0;
  std::apply(
      [&](const auto&... field) {
        (
            [&] {
              if (field.is_required && !present[index])
                throw SchemaError(FieldPath{&path, field.name}.str(), "missing required field");
              ++index;
            }(),
            ...);
      },
      T::schema());
}

template <class M, class R>
void read_integer(R& reader, M& out, const FieldPath& path) {
  const ValueKind kind = reader.peek();
  // Range-checked: a value that does not fit is an error, never silently truncated.
  if (kind == ValueKind::unsigned_integer) {
    const std::uint64_t v = reader.read_unsigned();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<M>::max()))
      throw SchemaError(path.str(), "integer " + std::to_string(v) + " out of range");
    out = static_cast<M>(v);
  } else if (kind == ValueKind::signed_integer) {
    const std::int64_t v = reader.read_signed();
    if constexpr (std::is_unsigned_v<M>) {
      if (v < 0) throw SchemaError(path.str(), "expected a non-negative integer, got " + std::to_string(v));
      if (static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<M>::max()))
        throw SchemaError(path.str(), "integer " + std::to_string(v) + " out of range");
    } else {
      if (v < std::numeric_limits<M>::min() || v > std::numeric_limits<M>::max())
        throw SchemaError(path.str(), "integer " + std::to_string(v) + " out of range");
    }
    out = static_cast<M>(v);
  } else {
    wrong_type(path, "an integer", kind);
  }
}

template <class R, class M>
void read_value(R& reader, M& out, const FieldPath& path) {
  if constexpr (HasSchema<M>) {
    read_message(reader, out, path);
  } else if constexpr (std::is_same_v<M, std::string>) {
    const ValueKind kind = reader.peek();
    if (kind != ValueKind::string) wrong_type(path, "a string", kind);
    reader.read_string(out);
  } else if constexpr (std::is_same_v<M, bool>) {
    const ValueKind kind = reader.peek();
    if (kind != ValueKind::boolean) wrong_type(path, "a boolean", kind);
    out = reader.read_bool();
  } else if constexpr (std::is_integral_v<M>) {
    read_integer(reader, out, path);
  } else if constexpr (std::is_floating_point_v<M>) {
    const ValueKind kind = reader.peek();
    if (kind != ValueKind::unsigned_integer && kind != ValueKind::signed_integer && kind != ValueKind::floating)
      wrong_type(path, "a number", kind);
    out = static_cast<M>(reader.read_number());
  } else if constexpr (is_direct_vector<M>) {
    const ValueKind kind = reader.peek();
    if (kind != ValueKind::array) wrong_type(path, "an array", kind);
    out.clear();
    auto cursor = reader.begin_array();
    std::size_t index = 0;
    while (reader.next_element(cursor)) {
      read_value(reader, out.emplace_back(), FieldPath{&path, {}, index++, true});
    }
  } else if constexpr (is_optional<M>::value) {
    if (reader.peek() == ValueKind::nil) {
      reader.skip();
      out.reset();
    } else {
      typename M::value_type inner{};
      read_value(reader, inner, path);
      out = std::move(inner);
    }
  } else if constexpr (is_string_map<M>::value) {
    const ValueKind kind = reader.peek();
    if (kind != ValueKind::object) wrong_type(path, "an object", kind);
    out.clear();
    auto cursor = reader.begin_object();
    std::string_view key_view;
    while (reader.next_key(cursor, key_view)) {
      std::string key(key_view);  // the reader may reuse the view's storage
      read_value(reader, out[key], FieldPath{&path, key, 0, false, true});
    }
  } else {
    decode_value(reader.read_json(), out, path.str());
  }
}

template <class R, HasSchema T>
void read_document(R& reader, T& message) {
  read_message(reader, message, FieldPath{});
  reader.expect_end();
}

}  // namespace detail

template <HasSchema T>
std::string encode_message(const T& message, Codec codec) {
  std::string out;
  if (codec == Codec::msgpack) {
    MsgpackWriter writer(out);
    detail::write_message(writer, message);
  } else {
    JsonWriter writer(out);
    detail::write_message(writer, message);
  }
  return out;
}

template <HasSchema T>
void decode_message(std::string_view bytes, Codec codec, T& message) {
  try {
    if (codec == Codec::msgpack) {
      MsgpackReader reader(bytes);
      detail::read_document(reader, message);
    } else {
      JsonReader reader(bytes);
      detail::read_document(reader, message);
    }
  } catch (const MalformedBody& e) {
    throw SchemaError("", "malformed " + std::string(to_string(codec)) + " body: " + e.what());
  }
}

template <HasSchema T>
T decode_message(std::string_view bytes, Codec codec) {
  T message{};
  decode_message(bytes, codec, message);
  return message;
}

}  // namespace homestead::rpc
