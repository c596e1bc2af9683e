#include "cloud/rpc/codec.h"

#include "cloud/rpc/schema.h"

namespace homestead::rpc {

std::string_view to_string(Codec codec) { return codec == Codec::json ? "json" : "msgpack"; }

std::string_view content_type(Codec codec) {
  return codec == Codec::json ? "application/json" : "application/msgpack";
}

std::optional<Codec> codec_from_content_type(std::string_view type) {
  const auto semicolon = type.find(';');
  if (semicolon != std::string_view::npos) type = type.substr(0, semicolon);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (type == "application/json") return Codec::json;
  if (type == "application/msgpack" || type == "application/x-msgpack") return Codec::msgpack;
  return std::nullopt;
}

std::optional<Codec> codec_from_byte(std::uint8_t value) {
  if (value == static_cast<std::uint8_t>(Codec::json)) return Codec::json;
  if (value == static_cast<std::uint8_t>(Codec::msgpack)) return Codec::msgpack;
  return std::nullopt;
}

std::string encode(const nlohmann::json& document, Codec codec) {
  if (codec == Codec::json) return document.dump();
  std::string out;
  nlohmann::json::to_msgpack(document, nlohmann::detail::output_adapter<char>(out));
  return out;
}

nlohmann::json decode(std::string_view bytes, Codec codec) {
  try {
    if (codec == Codec::json) return nlohmann::json::parse(bytes.begin(), bytes.end());
    return nlohmann::json::from_msgpack(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    throw SchemaError("", "malformed " + std::string(to_string(codec)) + " body: " + e.what());
  }
}

}  // namespace homestead::rpc
