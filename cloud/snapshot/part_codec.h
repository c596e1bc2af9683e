// The binary wire form of live-snapshot parts between cloud members: what a member's
// GET /api/v1/snapshots/{id}/local answers when asked with `Accept: kPartContentType` (a
// report gathers the other members' parts this way; operators get JSON, live_report.h).
// Parsing and building JSON documents was most of what gathering a report cost (the issue 10
// benchmark); this form is varints and length-prefixed text, decoded without a DOM. The
// recorded state stays the adapter's JSON text, carried verbatim.
//
// Layout (varint = LEB128, text = varint length + bytes):
//   member part: version(1) part [varint gateway-part count, then each gateway part as text]
//   part: varint id, text process, text state, byte complete, varint n {text to, varint seq}
//         (sent_through), varint n {text from, channel} (incoming)
//   channel: byte flags (1 cut_known, 2 closed, 4 sender_restarted), varint sender_cut_seq,
//         received_before_cut, max_seq_before_cut, varint n {varint seq, text kind, varint
//         bytes} (in flight), varint n {varint seq} (lost), varint n {varint seq} (late)
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/snapshot/live_participant.h"

namespace homestead::snapshot {

inline constexpr std::string_view kPartContentType = "application/vnd.homestead.snapshot-part";

class PartCodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A member's own part and the gateway parts it holds for the same snapshot.
struct MemberPart {
  LiveLocal own;
  std::vector<LiveLocal> gateway_parts;
};

std::string encode_member_part(const LiveLocal& own, const std::vector<LiveLocal>& gateway_parts);
// Throws PartCodecError naming what is malformed (truncated, unknown version, trailing bytes).
MemberPart decode_member_part(std::string_view bytes);

}  // namespace homestead::snapshot
