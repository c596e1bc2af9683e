// Chord messages on the wire, for adapters that run ChordNode over a real network (cloudd).
// The encoding is MessagePack of a small JSON shape: {"from":[id,host], "to":[id,host],
// "type":"<message_name>", ...fields}; NodeRefs are [id, host] pairs. Names rather than
// variant indices, so adding a message type never silently re-means an old one.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "cloud/dht/messages.h"

namespace homestead::dht {

class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `reply_to` (optional): the sender host's network address, so a receiver can answer a
// host it has no configured address for (a member that joined the ring later).
std::string encode_envelope(const Envelope& envelope, std::string_view reply_to = {});
// Throws WireError naming what is wrong (bad MessagePack, unknown type, missing field).
// Stores the sender's "reply_to" ("" when absent) in *reply_to when given.
Envelope decode_envelope(std::string_view bytes, std::string* reply_to = nullptr);

}  // namespace homestead::dht
