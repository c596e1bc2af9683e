// The IDL for messages: a request/response struct lists its fields once, in a static
// `schema()`, and gets JSON/MessagePack encoding, decoding with schema-versioning rules and a
// machine-readable description from it:
//
//   struct AppendRequest {
//     std::string key;
//     std::string value;
//     std::uint32_t version = 1;
//     static constexpr auto schema() {
//       return std::make_tuple(rpc::required("key", &AppendRequest::key),
//                              rpc::required("value", &AppendRequest::value),
//                              rpc::optional("version", &AppendRequest::version));
//     }
//   };
//
// Versioning: unknown fields are ignored (a newer peer may send more), a missing optional
// field keeps the struct's default, a missing required field or a wrong type is a
// SchemaError whose field() is the dotted path ("items[2].key").
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace homestead::rpc {

class SchemaError : public std::runtime_error {
 public:
  SchemaError(std::string field, const std::string& reason)
      : std::runtime_error(field.empty() ? reason : "field '" + field + "': " + reason),
        field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

template <class T, class M>
struct Field {
  std::string_view name;
  M T::*member;
  bool is_required;
};

template <class T, class M>
constexpr Field<T, M> required(std::string_view name, M T::*member) {
  return {name, member, true};
}
template <class T, class M>
constexpr Field<T, M> optional(std::string_view name, M T::*member) {
  return {name, member, false};
}

template <class T>
concept HasSchema = requires { T::schema(); };

namespace detail {

template <class T>
struct is_vector : std::false_type {};
template <class U, class A>
struct is_vector<std::vector<U, A>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
template <class U>
struct is_optional<std::optional<U>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class U>
struct is_string_map<std::map<std::string, U>> : std::true_type {};

inline std::string join(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

}  // namespace detail

template <class M>
nlohmann::json encode_value(const M& value);
template <class M>
void decode_value(const nlohmann::json& in, M& out, const std::string& path);
template <class M>
nlohmann::json describe_type();

template <HasSchema T>
nlohmann::json to_document(const T& message) {
  nlohmann::json out = nlohmann::json::object();
  std::apply([&](const auto&... field) { ((out[std::string(field.name)] = encode_value(message.*(field.member))), ...); },
             T::schema());
  return out;
}

template <HasSchema T>
void from_document(const nlohmann::json& in, T& message, const std::string& path = "") {
  if (!in.is_object()) throw SchemaError(path, std::string("expected an object, got ") + in.type_name());
  std::apply(
      [&](const auto&... field) {
        (
            [&] {
              const std::string where = detail::join(path, field.name);
              const auto it = in.find(std::string(field.name));
              if (it == in.end() || it->is_null()) {
                if (field.is_required) throw SchemaError(where, "missing required field");
                return;
              }
              decode_value(*it, message.*(field.member), where);
            }(),
            ...);
      },
      T::schema());
}

template <HasSchema T>
T from_document(const nlohmann::json& in) {
  T message{};
  from_document(in, message);
  return message;
}

template <HasSchema T>
nlohmann::json describe_message() {
  nlohmann::json fields = nlohmann::json::array();
  std::apply(
      [&](const auto&... field) {
        ((fields.push_back({{"name", field.name},
                            {"type", describe_type<std::remove_cvref_t<decltype(std::declval<T>().*(field.member))>>()},
                            {"required", field.is_required}})),
         ...);
      },
      T::schema());
  return {{"fields", fields}};
}

template <class M>
nlohmann::json encode_value(const M& value) {
  if constexpr (HasSchema<M>) {
    return to_document(value);
  } else if constexpr (detail::is_vector<M>::value && !std::is_same_v<M, std::vector<std::uint8_t>>) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : value) out.push_back(encode_value(item));
    return out;
  } else if constexpr (detail::is_optional<M>::value) {
    return value ? encode_value(*value) : nlohmann::json();
  } else if constexpr (detail::is_string_map<M>::value) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, item] : value) out[key] = encode_value(item);
    return out;
  } else {
    return nlohmann::json(value);
  }
}

template <class M>
void decode_value(const nlohmann::json& in, M& out, const std::string& path) {
  if constexpr (HasSchema<M>) {
    from_document(in, out, path);
  } else if constexpr (detail::is_vector<M>::value && !std::is_same_v<M, std::vector<std::uint8_t>>) {
    if (!in.is_array()) throw SchemaError(path, std::string("expected an array, got ") + in.type_name());
    out.clear();
    out.resize(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) decode_value(in[i], out[i], path + "[" + std::to_string(i) + "]");
  } else if constexpr (detail::is_optional<M>::value) {
    if (in.is_null()) {
      out.reset();
    } else {
      typename M::value_type inner{};
      decode_value(in, inner, path);
      out = std::move(inner);
    }
  } else if constexpr (detail::is_string_map<M>::value) {
    if (!in.is_object()) throw SchemaError(path, std::string("expected an object, got ") + in.type_name());
    out.clear();
    for (auto it = in.begin(); it != in.end(); ++it) decode_value(it.value(), out[it.key()], path + "." + it.key());
  } else if constexpr (std::is_same_v<M, bool>) {
    if (!in.is_boolean()) throw SchemaError(path, std::string("expected a boolean, got ") + in.type_name());
    out = in.get<bool>();
  } else if constexpr (std::is_integral_v<M>) {
    // Range-checked: a value that does not fit is an error, never silently truncated.
    if (in.is_number_unsigned()) {
      const auto v = in.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<M>::max()))
        throw SchemaError(path, "integer " + std::to_string(v) + " out of range");
      out = static_cast<M>(v);
    } else if (in.is_number_integer()) {
      const auto v = in.get<std::int64_t>();
      if constexpr (std::is_unsigned_v<M>) {
        if (v < 0) throw SchemaError(path, "expected a non-negative integer, got " + std::to_string(v));
        if (static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<M>::max()))
          throw SchemaError(path, "integer " + std::to_string(v) + " out of range");
      } else {
        if (v < std::numeric_limits<M>::min() || v > std::numeric_limits<M>::max())
          throw SchemaError(path, "integer " + std::to_string(v) + " out of range");
      }
      out = static_cast<M>(v);
    } else {
      throw SchemaError(path, std::string("expected an integer, got ") + in.type_name());
    }
  } else if constexpr (std::is_floating_point_v<M>) {
    if (!in.is_number()) throw SchemaError(path, std::string("expected a number, got ") + in.type_name());
    out = in.get<M>();
  } else if constexpr (std::is_same_v<M, std::string>) {
    if (!in.is_string()) throw SchemaError(path, std::string("expected a string, got ") + in.type_name());
    out = in.get_ref<const std::string&>();
  } else {
    try {
      out = in.get<M>();
    } catch (const nlohmann::json::exception& e) {
      throw SchemaError(path, e.what());
    }
  }
}

template <class M>
nlohmann::json describe_type() {
  if constexpr (HasSchema<M>) {
    return describe_message<M>();
  } else if constexpr (detail::is_vector<M>::value) {
    return {{"array", describe_type<typename M::value_type>()}};
  } else if constexpr (detail::is_optional<M>::value) {
    return describe_type<typename M::value_type>();
  } else if constexpr (detail::is_string_map<M>::value) {
    return {{"map", describe_type<typename M::mapped_type>()}};
  } else if constexpr (std::is_same_v<M, bool>) {
    return "boolean";
  } else if constexpr (std::is_integral_v<M>) {
    return std::is_signed_v<M> ? "int" + std::to_string(8 * sizeof(M)) : "uint" + std::to_string(8 * sizeof(M));
  } else if constexpr (std::is_floating_point_v<M>) {
    return "number";
  } else if constexpr (std::is_same_v<M, std::string>) {
    return "string";
  } else {
    return "json";
  }
}

}  // namespace homestead::rpc
