// The wire form of a live-snapshot Stamp (live_participant.h): varints, and a hex text form
// for places that carry text (an HTTP query parameter, a JSON string).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cloud/snapshot/live_participant.h"

namespace homestead::snapshot {

class StampError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string encode_stamp_bytes(const Stamp& stamp);
// Throws StampError on malformed input.
Stamp decode_stamp_bytes(std::string_view bytes);

std::string encode_stamp_hex(const Stamp& stamp);
Stamp decode_stamp_hex(std::string_view hex);

// A reply's stamp rides as one extra last field "snapshot_stamp": "<hex>" of the reply
// object, in JSON or in MessagePack (the Sync RPC's two codecs). Appending returns false
// (body unchanged) when the body is not an object of that codec; stripping returns the hex
// and restores the body, or "" (body unchanged) when there is no such last field.
bool append_stamp_field_json(std::string& body, const std::string& hex);
std::string strip_stamp_field_json(std::string& body);
bool append_stamp_field_msgpack(std::string& body, const std::string& hex);
std::string strip_stamp_field_msgpack(std::string& body);

// A gateway's finished snapshot parts ride on its next Sync request the same way: one extra
// last field "snapshot_parts" of the request object whose value is a string, the JSON array
// of the parts (live_report.h to_json), in either codec. The cloud's Sync decoder ignores
// the unknown field; the cloud's snapshot hook reads it. `find` returns nullopt unless the
// body's last field is exactly that string.
inline constexpr std::string_view kPartsField = "snapshot_parts";
bool append_text_field_json(std::string& body, std::string_view name, std::string_view value);
bool append_text_field_msgpack(std::string& body, std::string_view name, std::string_view value);
std::optional<std::string> find_text_field_json(const std::string& body, std::string_view name);
std::optional<std::string> find_text_field_msgpack(const std::string& body, std::string_view name);

}  // namespace homestead::snapshot
