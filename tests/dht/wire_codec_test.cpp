// Every Chord message survives the wire codec field for field; bad input is refused with
// a message naming the problem.
#include "cloud/dht/wire_codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace homestead::dht {
namespace {

const NodeRef kA{5, 1};
const NodeRef kB{900, 2};
const NodeRef kC{(Id{1} << 62) + 7, 4000000000u};

Envelope round_trip(Body body) {
  const Envelope in{kA, kC, std::move(body)};
  const Envelope out = decode_envelope(encode_envelope(in));
  EXPECT_EQ(out.from, kA);
  EXPECT_EQ(out.to, kC);
  EXPECT_EQ(out.body.index(), in.body.index());
  return out;
}

TEST(ChordWireCodec, RoutingMessagesRoundTrip) {
  const auto reply = std::get<NextHopReply>(round_trip(NextHopReply{77, 12345, true, kB, {kC, kA}}).body);
  EXPECT_EQ(reply.request, 77u);
  EXPECT_EQ(reply.key, 12345u);
  EXPECT_TRUE(reply.done);
  EXPECT_EQ(reply.node, kB);
  EXPECT_EQ(reply.alternatives, (std::vector<NodeRef>{kC, kA}));

  const auto ask = std::get<NextHopRequest>(round_trip(NextHopRequest{3, kC.id}).body);
  EXPECT_EQ(ask.request, 3u);
  EXPECT_EQ(ask.key, kC.id);

  const auto find = std::get<FindSuccessor>(round_trip(FindSuccessor{9, 44, kB, {kA, kB}}).body);
  EXPECT_EQ(find.origin, kB);
  EXPECT_EQ(find.path, (std::vector<NodeRef>{kA, kB}));

  const auto found = std::get<FoundSuccessor>(round_trip(FoundSuccessor{9, 44, kC, {kA, kB, kC}, {kA}}).body);
  EXPECT_EQ(found.owner, kC);
  EXPECT_EQ(found.path.size(), 3u);
  EXPECT_EQ(found.replicas, std::vector<NodeRef>{kA});
}

TEST(ChordWireCodec, MaintenanceAndStorageMessagesRoundTrip) {
  const auto with_pred = std::get<Neighbours>(round_trip(Neighbours{4, kB, {kC}}).body);
  EXPECT_EQ(with_pred.predecessor, std::optional<NodeRef>(kB));
  EXPECT_EQ(with_pred.successors, std::vector<NodeRef>{kC});
  const auto no_pred = std::get<Neighbours>(round_trip(Neighbours{4, std::nullopt, {}}).body);
  EXPECT_FALSE(no_pred.predecessor.has_value());
  EXPECT_TRUE(no_pred.successors.empty());

  EXPECT_EQ(std::get<Ping>(round_trip(Ping{11}).body).request, 11u);
  EXPECT_EQ(std::get<Pong>(round_trip(Pong{12}).body).request, 12u);
  EXPECT_EQ(std::get<GetNeighbours>(round_trip(GetNeighbours{13}).body).request, 13u);
  EXPECT_TRUE(std::holds_alternative<Notify>(round_trip(Notify{}).body));

  const auto keys = std::get<StoreKeys>(round_trip(StoreKeys{{{1, "one"}, {2, std::string("\0b", 2)}}}).body);
  ASSERT_EQ(keys.items.size(), 2u);
  EXPECT_EQ(keys.items[1].key, 2u);
  EXPECT_EQ(keys.items[1].value, std::string("\0b", 2));

  const auto put = std::get<Put>(round_trip(Put{21, {99, "v"}}).body);
  EXPECT_EQ(put.request, 21u);
  EXPECT_EQ(put.item.key, 99u);
  EXPECT_EQ(put.item.value, "v");
  EXPECT_EQ(std::get<PutAck>(round_trip(PutAck{21}).body).request, 21u);
  EXPECT_EQ(std::get<Fetch>(round_trip(Fetch{22, 99}).body).key, 99u);
  EXPECT_EQ(std::get<FetchReply>(round_trip(FetchReply{22, "v"}).body).value, std::optional<std::string>("v"));
  EXPECT_FALSE(std::get<FetchReply>(round_trip(FetchReply{22, std::nullopt}).body).value.has_value());

  const auto leaving = std::get<Leaving>(round_trip(Leaving{kA, {kB, kC}}).body);
  EXPECT_EQ(leaving.predecessor, std::optional<NodeRef>(kA));
  EXPECT_EQ(leaving.successors, (std::vector<NodeRef>{kB, kC}));
}

TEST(ChordWireCodec, RejectsMalformedInputNamingTheProblem) {
  auto error_of = [](std::string_view bytes) {
    try {
      decode_envelope(bytes);
    } catch (const WireError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("\xc1garbage").find("not MessagePack"), std::string::npos);
  auto packed = [](const nlohmann::json& j) {
    const auto bytes = nlohmann::json::to_msgpack(j);
    return std::string(bytes.begin(), bytes.end());
  };
  EXPECT_NE(error_of(packed({{"from", {1, 1}}, {"to", {2, 2}}, {"type", "Gossip"}})).find("unknown type 'Gossip'"),
            std::string::npos);
  EXPECT_NE(error_of(packed({{"from", {1, 1}}, {"to", {2, 2}}, {"type", "Ping"}})).find("'request' is missing"),
            std::string::npos);
  EXPECT_NE(error_of(packed({{"from", "x"}, {"to", {2, 2}}, {"type", "Notify"}})).find("'from' is not an [id, host]"),
            std::string::npos);
}

TEST(ChordWireCodec, CarriesTheSendersReplyAddressWhenGiven) {
  const Envelope in{kA, kB, Notify{}};
  std::string reply_to = "stale";
  const Envelope out = decode_envelope(encode_envelope(in, "127.0.0.1:4567"), &reply_to);
  EXPECT_EQ(reply_to, "127.0.0.1:4567");
  EXPECT_EQ(out.from, kA);
  EXPECT_EQ(out.to, kB);
  decode_envelope(encode_envelope(in), &reply_to);
  EXPECT_EQ(reply_to, "");  // absent: cleared, not left over from an earlier message
  auto bytes = nlohmann::json::to_msgpack({{"from", {1, 1}}, {"to", {2, 2}}, {"type", "Notify"}, {"reply_to", 7}});
  try {
    decode_envelope(std::string(bytes.begin(), bytes.end()), &reply_to);
    ADD_FAILURE() << "a numeric reply_to was accepted";
  } catch (const WireError& e) {
    EXPECT_NE(std::string(e.what()).find("'reply_to' is not a string"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace homestead::dht
