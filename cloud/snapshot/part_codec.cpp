#include "cloud/snapshot/part_codec.h"

#include <algorithm>

#include "cloud/snapshot/varint_io.h"

namespace homestead::snapshot {
namespace {

using Reader = VarintReader<PartCodecError>;

constexpr std::uint64_t kVersion = 1;
constexpr unsigned kCutKnown = 1, kClosed = 2, kSenderRestarted = 4;  // a channel's flag bits

void put_seqs(std::string& out, const std::vector<std::uint64_t>& seqs) {
  put_varint(out, seqs.size());
  for (auto seq : seqs) put_varint(out, seq);
}

std::vector<std::uint64_t> seqs(Reader& in) {
  std::vector<std::uint64_t> out(in.count());
  for (auto& seq : out) seq = in.varint();
  std::sort(out.begin(), out.end());  // the record keeps them sorted (check_live_cut relies on it)
  return out;
}

void put_part(std::string& out, const LiveLocal& part) {
  put_varint(out, part.id);
  put_text(out, part.process);
  put_text(out, part.state);
  out.push_back(part.complete ? 1 : 0);
  put_varint(out, part.sent_through.size());
  for (const auto& [to, seq] : part.sent_through) {
    put_text(out, to);
    put_varint(out, seq);
  }
  put_varint(out, part.incoming.size());
  for (const auto& [from, channel] : part.incoming) {
    put_text(out, from);
    out.push_back(static_cast<char>((channel.cut_known ? kCutKnown : 0) | (channel.closed ? kClosed : 0) |
                                    (channel.sender_restarted ? kSenderRestarted : 0)));
    put_varint(out, channel.sender_cut_seq);
    put_varint(out, channel.received_before_cut);
    put_varint(out, channel.max_seq_before_cut);
    put_varint(out, channel.in_flight.size());
    for (const auto& m : channel.in_flight) {
      put_varint(out, m.seq);
      put_text(out, m.kind);
      put_varint(out, m.bytes);
    }
    put_seqs(out, channel.lost);
    put_seqs(out, channel.late);
  }
}

unsigned flags(Reader& in, unsigned allowed) {
  const std::uint64_t value = in.varint();
  if (value & ~static_cast<std::uint64_t>(allowed)) in.fail("unknown flag bits");
  return static_cast<unsigned>(value);
}

LiveLocal part(Reader& in) {
  LiveLocal out;
  out.id = in.varint();
  out.process = in.text();
  out.state = in.text();
  out.complete = flags(in, 1) != 0;
  for (std::uint64_t n = in.count(); n > 0; --n) {
    std::string to = in.text();
    out.sent_through[std::move(to)] = in.varint();
  }
  for (std::uint64_t n = in.count(); n > 0; --n) {
    std::string from = in.text();
    ChannelRecord channel;
    const unsigned bits = flags(in, kCutKnown | kClosed | kSenderRestarted);
    channel.cut_known = bits & kCutKnown;
    channel.closed = bits & kClosed;
    channel.sender_restarted = bits & kSenderRestarted;
    channel.sender_cut_seq = in.varint();
    channel.received_before_cut = in.varint();
    channel.max_seq_before_cut = in.varint();
    channel.in_flight.resize(in.count());
    for (auto& m : channel.in_flight) {
      m.seq = in.varint();
      m.kind = in.text();
      m.bytes = in.varint();
    }
    channel.lost = seqs(in);
    channel.late = seqs(in);
    out.incoming[std::move(from)] = std::move(channel);
  }
  return out;
}

}  // namespace

std::string encode_member_part(const LiveLocal& own, const std::vector<LiveLocal>& gateway_parts) {
  std::string out;
  put_varint(out, kVersion);
  put_part(out, own);
  put_varint(out, gateway_parts.size());
  std::string one;
  for (const auto& gateway : gateway_parts) {
    one.clear();
    put_part(one, gateway);
    put_text(out, one);
  }
  return out;
}

MemberPart decode_member_part(std::string_view bytes) {
  Reader in(bytes, "snapshot part");
  if (in.varint() != kVersion) in.fail("unknown version");
  MemberPart out;
  out.own = part(in);
  const std::uint64_t gateways = in.count();
  out.gateway_parts.reserve(gateways);
  for (std::uint64_t n = 0; n < gateways; ++n) {
    Reader gateway(in.text_view(), "snapshot part: gateway part");
    out.gateway_parts.push_back(part(gateway));
    if (!gateway.done()) gateway.fail("trailing bytes");
  }
  if (!in.done()) in.fail("trailing bytes");
  return out;
}

}  // namespace homestead::snapshot
