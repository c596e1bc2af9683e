// Wire codecs for request/response bodies. Both carry the same nlohmann::json document, so
// one schema (schema.h) drives JSON and MessagePack alike; MessagePack is smaller and faster
// to parse for medium bodies (DESIGN.md section 4).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace homestead::rpc {

enum class Codec : std::uint8_t { json = 1, msgpack = 2 };

std::string_view to_string(Codec codec);
std::string_view content_type(Codec codec);
// Accepts "application/json" and "application/msgpack" (also "application/x-msgpack"),
// ignoring parameters such as "; charset=utf-8". nullopt for anything else.
std::optional<Codec> codec_from_content_type(std::string_view content_type);
std::optional<Codec> codec_from_byte(std::uint8_t value);

std::string encode(const nlohmann::json& document, Codec codec);
// Throws SchemaError (field "") with the parser's reason on a malformed body.
nlohmann::json decode(std::string_view bytes, Codec codec);

}  // namespace homestead::rpc
