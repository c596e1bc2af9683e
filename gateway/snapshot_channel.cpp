#include "gateway/snapshot_channel.h"

#include <cctype>

#include "cloud/snapshot/stamp_codec.h"

namespace homestead::gateway {
namespace {

// The number after the last `"<key>":` in a JSON text, 0 if none. Push items are in
// ascending seq order, so the last "seq" is the highest; a reply has one applied_through.
std::uint64_t last_number(const std::string& text, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const auto at = text.rfind(needle);
  if (at == std::string::npos) return 0;
  std::uint64_t value = 0;
  for (std::size_t i = at + needle.size(); i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
  }
  return value;
}

// The unsigned integer MessagePack encodes at `pos` (positive fixint, uint8..uint64), 0 if none.
std::uint64_t msgpack_uint_after(const std::string& body, std::size_t pos) {
  if (pos >= body.size()) return 0;
  const auto tag = static_cast<unsigned char>(body[pos]);
  if (tag < 0x80) return tag;
  std::size_t bytes = tag == 0xcc ? 1 : tag == 0xcd ? 2 : tag == 0xce ? 4 : tag == 0xcf ? 8 : 0;
  if (bytes == 0 || pos + bytes >= body.size()) return 0;
  std::uint64_t value = 0;
  for (std::size_t i = 1; i <= bytes; ++i) value = (value << 8) | static_cast<unsigned char>(body[pos + i]);
  return value;
}

}  // namespace

SnapshotStampingChannel::SnapshotStampingChannel(std::shared_ptr<rpc::Channel> inner, std::string url,
                                                 std::shared_ptr<GatewaySnapshotAgent> agent)
    : inner_(std::move(inner)), url_(std::move(url)), agent_(std::move(agent)) {}

std::uint64_t SnapshotStampingChannel::stamp(rpc::RawRequest& request) const {
  // The outbox range of a Push: in JSON read off the body, in MessagePack what the caller
  // noted with GatewaySnapshotAgent::note_push before the call (a retry to another member
  // carries the same rows).
  std::uint64_t last_seq = 0;
  if (request.method == "Sync/Push") {
    last_seq = request.codec == rpc::Codec::json ? last_number(request.body, "seq") : agent_->pending_push();
  }
  request.method += "?" + agent_->stamp_request(url_, last_seq);
  const auto parts = agent_->carry_parts(url_);
  if (parts.count == 0) return 0;
  const bool appended = request.codec == rpc::Codec::json
                            ? snapshot::append_text_field_json(request.body, snapshot::kPartsField, parts.json)
                            : snapshot::append_text_field_msgpack(request.body, snapshot::kPartsField, parts.json);
  if (!appended) {
    agent_->carried(parts.ticket, false);
    return 0;
  }
  request.method += "&" + std::string(snapshot::kPartsField) + "=" + std::to_string(parts.count);
  return parts.ticket;
}

void SnapshotStampingChannel::unstamp(rpc::RawReply& reply, std::uint64_t parts_ticket) const {
  // The member took the parts iff it stamped its reply (cloudd reads them where it stamps).
  std::string stamp;
  const bool json = reply.codec == rpc::Codec::json;
  if (reply.kind == rpc::ErrorKind::ok) {
    stamp = json ? snapshot::strip_stamp_field_json(reply.body) : snapshot::strip_stamp_field_msgpack(reply.body);
  }
  if (parts_ticket != 0) agent_->carried(parts_ticket, !stamp.empty());
  if (stamp.empty()) return;
  std::uint64_t applied = 0;
  if (json) {
    applied = last_number(reply.body, "applied_through");
  } else {
    const std::size_t at = reply.body.rfind("applied_through");
    applied = at == std::string::npos ? 0 : msgpack_uint_after(reply.body, at + 15);
  }
  agent_->on_reply(url_, stamp, applied);
}

void SnapshotStampingChannel::start_call(rpc::RawRequest request, rpc::Clock::time_point deadline,
                                         rpc::ReplyCallback done) {
  const std::uint64_t ticket = stamp(request);
  inner_->start_call(std::move(request), deadline, [this, ticket, done = std::move(done)](rpc::RawReply reply) {
    unstamp(reply, ticket);
    done(std::move(reply));
  });
}

rpc::RawReply SnapshotStampingChannel::call(rpc::RawRequest request, rpc::Clock::time_point deadline) {
  const std::uint64_t ticket = stamp(request);
  rpc::RawReply reply = inner_->call(std::move(request), deadline);
  unstamp(reply, ticket);
  return reply;
}

}  // namespace homestead::gateway
