// The binary wire form of member parts (cloud/snapshot/part_codec.h): every field survives a
// round trip (own part and gateway parts), and malformed input is refused with an error
// rather than read past its end or half decoded.
#include <gtest/gtest.h>

#include "cloud/snapshot/live_report.h"
#include "cloud/snapshot/part_codec.h"

namespace homestead::snapshot {
namespace {

LiveLocal sample_member() {
  LiveLocal part;
  part.id = (1ull << 62) + 12345;
  part.process = "cloud-2";
  part.state = R"({"applied_index":812,"sync":{"home/gw1":40},"text":"quote \" and ü"})";
  part.complete = true;
  part.sent_through = {{"cloud-1", 300}, {"cloud-3", 0}, {"gateway:home/gw1", 77}};
  ChannelRecord from_leader;
  from_leader.cut_known = true;
  from_leader.sender_cut_seq = 310;
  from_leader.received_before_cut = 305;
  from_leader.max_seq_before_cut = 305;
  from_leader.in_flight = {{306, "Raft/Step AppendEntries x3", 4096}, {307, "", 0}};
  from_leader.lost = {308, 309, 310};
  from_leader.late = {309};
  from_leader.closed = true;
  part.incoming["cloud-1"] = from_leader;
  ChannelRecord restarted;
  restarted.sender_restarted = true;
  restarted.closed = true;
  part.incoming["cloud-3"] = restarted;
  part.incoming["gateway:home/gw1"] = ChannelRecord{};  // open, nothing known yet
  return part;
}

LiveLocal sample_gateway(const std::string& name) {
  LiveLocal part;
  part.id = (1ull << 62) + 12345;
  part.process = name;
  part.state = R"({"pushed_through":41,"acked_through":40})";
  part.complete = true;
  part.sent_through = {{"cloud-2", 9}};
  ChannelRecord from_member;
  from_member.cut_known = true;
  from_member.sender_cut_seq = 8;
  from_member.received_before_cut = 8;
  from_member.max_seq_before_cut = 8;
  from_member.closed = true;
  part.incoming["cloud-2"] = from_member;
  return part;
}

TEST(PartCodec, EveryFieldSurvivesARoundTrip) {
  const LiveLocal own = sample_member();
  const std::vector<LiveLocal> gateways{sample_gateway("gateway:home/gw1"), sample_gateway("gateway:home/gw2")};
  const MemberPart back = decode_member_part(encode_member_part(own, gateways));
  EXPECT_EQ(back.own.id, own.id);
  EXPECT_EQ(back.own.state, own.state) << "the state text is carried verbatim";
  EXPECT_EQ(back.own.sent_through, own.sent_through);
  const ChannelRecord& channel = back.own.incoming.at("cloud-1");
  EXPECT_EQ(channel.in_flight.size(), 2u);
  EXPECT_EQ(channel.in_flight[0].kind, "Raft/Step AppendEntries x3");
  EXPECT_EQ(channel.in_flight[0].bytes, 4096u);
  EXPECT_EQ(channel.lost, (std::vector<std::uint64_t>{308, 309, 310}));
  EXPECT_EQ(channel.late, (std::vector<std::uint64_t>{309}));
  EXPECT_TRUE(back.own.incoming.at("cloud-3").sender_restarted);
  EXPECT_FALSE(back.own.incoming.at("gateway:home/gw1").cut_known);
  // All fields at once, through the operator's JSON form.
  EXPECT_EQ(to_json(back.own), to_json(own));
  ASSERT_EQ(back.gateway_parts.size(), 2u);
  for (std::size_t i = 0; i < gateways.size(); ++i) EXPECT_EQ(to_json(back.gateway_parts[i]), to_json(gateways[i]));
}

TEST(PartCodec, APartWithoutGatewayPartsOrChannelsRoundTrips) {
  LiveLocal bare;
  bare.id = 1;
  bare.process = "cloud-1";
  const MemberPart back = decode_member_part(encode_member_part(bare, {}));
  EXPECT_EQ(to_json(back.own), to_json(bare));
  EXPECT_TRUE(back.gateway_parts.empty());
}

TEST(PartCodec, RefusesEveryTruncationTrailingBytesAndUnknownVersions) {
  const std::string bytes = encode_member_part(sample_member(), {sample_gateway("gateway:home/gw1")});
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_THROW(decode_member_part(std::string_view(bytes).substr(0, size)), PartCodecError) << "cut at " << size;
  }
  EXPECT_THROW(decode_member_part(bytes + "x"), PartCodecError);
  std::string other_version = bytes;
  other_version[0] = 2;
  EXPECT_THROW(decode_member_part(other_version), PartCodecError);
  try {
    decode_member_part(bytes.substr(0, bytes.size() / 2));
    FAIL() << "a truncated part decoded";
  } catch (const PartCodecError& e) {
    EXPECT_NE(std::string(e.what()).find("snapshot part"), std::string::npos) << e.what();
  }
}

TEST(PartCodec, RefusesUnknownChannelFlags) {
  LiveLocal one;
  one.id = 5;
  one.process = "cloud-1";
  one.incoming["cloud-2"] = ChannelRecord{};
  std::string bytes = encode_member_part(one, {});
  // Layout: version, id, process, state, complete, sent count, incoming count, from, flags...
  const std::size_t flags_at = 1 + 1 + (1 + 7) + 1 + 1 + 1 + 1 + (1 + 7);
  ASSERT_EQ(bytes[flags_at], 0);
  bytes[flags_at] = 8;
  EXPECT_THROW(decode_member_part(bytes), PartCodecError);
}

}  // namespace
}  // namespace homestead::snapshot
