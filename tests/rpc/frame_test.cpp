// tcp frames: encode/decode, split delivery, and refusal of oversized and malformed frames
// without losing the frames that follow them.
#include <gtest/gtest.h>

#include "cloud/rpc/frame.h"

namespace homestead::rpc::frame {
namespace {

Frame request(std::uint64_t id, std::string body) {
  Frame f;
  f.type = Type::request;
  f.codec = Codec::msgpack;
  f.request_id = id;
  f.client_id = 7;
  f.seq = 9;
  f.ack = 8;
  f.timeout_ms = 250;
  f.method = "Kv/Append";
  f.payload = std::move(body);
  return f;
}

TEST(Frame, RequestRoundTripsByteByByte) {
  const std::string bytes = encode(request(42, "body")) + encode(request(43, ""));
  Reader reader(1 << 20);
  std::vector<Frame> got;
  for (char c : bytes) {  // worst case: one byte at a time
    reader.feed(std::string_view(&c, 1));
    while (auto item = reader.next()) got.push_back(std::get<Frame>(*item));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].request_id, 42u);
  EXPECT_EQ(got[0].client_id, 7u);
  EXPECT_EQ(got[0].seq, 9u);
  EXPECT_EQ(got[0].ack, 8u);
  EXPECT_EQ(got[0].timeout_ms, 250u);
  EXPECT_EQ(got[0].method, "Kv/Append");
  EXPECT_EQ(got[0].codec, Codec::msgpack);
  EXPECT_EQ(got[0].payload, "body");
  EXPECT_EQ(got[1].request_id, 43u);
  EXPECT_EQ(got[1].payload, "");
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(Frame, ReplyCarriesKind) {
  Frame f;
  f.type = Type::reply;
  f.kind = ErrorKind::remote;
  f.request_id = 5;
  f.payload = "boom";
  Reader reader(1024);
  reader.feed(encode(f));
  const auto got = std::get<Frame>(*reader.next());
  EXPECT_EQ(got.type, Type::reply);
  EXPECT_EQ(got.kind, ErrorKind::remote);
  EXPECT_EQ(got.payload, "boom");
}

TEST(Frame, OversizedFrameIsRefusedAndSkipped) {
  Reader reader(256);
  reader.feed(encode(request(1, std::string(1000, 'x'))));
  reader.feed(encode(request(2, "ok")));
  const auto first = reader.next();
  ASSERT_TRUE(first.has_value());
  const auto& rejected = std::get<Rejected>(*first);
  EXPECT_EQ(rejected.kind, ErrorKind::too_large);
  EXPECT_EQ(rejected.request_id, 1u);
  const auto second = reader.next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(std::get<Frame>(*second).request_id, 2u);
}

TEST(Frame, OversizedFrameArrivingInPiecesIsSkipped) {
  Reader reader(256);
  const std::string big = encode(request(1, std::string(5000, 'x')));
  reader.feed(big.substr(0, 100));
  ASSERT_TRUE(std::holds_alternative<Rejected>(*reader.next()));
  for (std::size_t at = 100; at < big.size(); at += 700) {
    reader.feed(big.substr(at, 700));
    EXPECT_FALSE(reader.next().has_value());
  }
  reader.feed(encode(request(3, "next")));
  EXPECT_EQ(std::get<Frame>(*reader.next()).payload, "next");
}

TEST(Frame, MalformedFramesAreRefusedWithTheirReason) {
  Reader reader(1024);
  std::string bad_type = encode(request(11, "x"));
  bad_type[4] = 99;
  std::string bad_method = encode(request(12, ""));
  bad_method[4 + 12 + 28] = 0x7f;  // method length far beyond the frame
  reader.feed(bad_type + bad_method + encode(request(13, "fine")));
  auto a = std::get<Rejected>(*reader.next());
  EXPECT_EQ(a.kind, ErrorKind::bad_request);
  EXPECT_EQ(a.request_id, 11u);
  EXPECT_NE(a.reason.find("unknown frame type 99"), std::string::npos);
  auto b = std::get<Rejected>(*reader.next());
  EXPECT_EQ(b.request_id, 12u);
  EXPECT_NE(b.reason.find("method name"), std::string::npos);
  EXPECT_EQ(std::get<Frame>(*reader.next()).payload, "fine");
}

TEST(Frame, LengthShorterThanHeaderIsRefused) {
  Reader reader(1024);
  reader.feed(std::string("\0\0\0\x02", 4) + std::string(2, 'z') + encode(request(21, "after")));
  EXPECT_EQ(std::get<Rejected>(*reader.next()).kind, ErrorKind::bad_request);
  EXPECT_EQ(std::get<Frame>(*reader.next()).request_id, 21u);
}

}  // namespace
}  // namespace homestead::rpc::frame
