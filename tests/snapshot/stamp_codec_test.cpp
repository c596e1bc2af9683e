// The live-snapshot stamp's wire forms (cloud/snapshot/stamp_codec.h): bytes and hex round
// trips, malformed input refused, and the reply field added to / removed from JSON and
// MessagePack reply objects, leaving the original bytes.
#include <gtest/gtest.h>

#include "cloud/snapshot/stamp_codec.h"

namespace homestead::snapshot {
namespace {

Stamp sample() { return Stamp{"gateway:home/gw1", 0xdeadbeefcafe, 300, {{7, 12}, {1ull << 62, 0}}}; }

TEST(StampCodec, RoundTripsBytesAndHex) {
  const Stamp s = sample();
  const Stamp back = decode_stamp_hex(encode_stamp_hex(s));
  EXPECT_EQ(back.from, s.from);
  EXPECT_EQ(back.incarnation, s.incarnation);
  EXPECT_EQ(back.seq, 300u);
  EXPECT_EQ(back.marks, s.marks);
}

TEST(StampCodec, RefusesMalformedInput) {
  std::string bytes = encode_stamp_bytes(sample());
  EXPECT_THROW(decode_stamp_bytes(bytes.substr(0, bytes.size() - 1)), StampError);
  EXPECT_THROW(decode_stamp_bytes(bytes + "x"), StampError);
  EXPECT_THROW(decode_stamp_hex("abc"), StampError);
  EXPECT_THROW(decode_stamp_hex("zz"), StampError);
}

TEST(StampCodec, AcknowledgementIsOptionalOnTheWire) {
  Stamp s = sample();
  const std::string without = encode_stamp_bytes(s);
  const Stamp plain = decode_stamp_bytes(without);
  EXPECT_EQ(plain.ack_incarnation, 0u);
  EXPECT_EQ(plain.acked_through, 0u);
  s.ack_incarnation = 0x1234567890ull;
  s.acked_through = 77;
  const std::string with = encode_stamp_bytes(s);
  EXPECT_EQ(with.size(), without.size() + 6 + 1) << "two varints appended after the marks";
  const Stamp back = decode_stamp_hex(encode_stamp_hex(s));
  EXPECT_EQ(back.marks, s.marks);
  EXPECT_EQ(back.ack_incarnation, 0x1234567890ull);
  EXPECT_EQ(back.acked_through, 77u);
  EXPECT_THROW(decode_stamp_bytes(with.substr(0, with.size() - 1)), StampError);
  EXPECT_THROW(decode_stamp_bytes(without + std::string(1, '\0') + std::string(1, '\5')), StampError)
      << "an acknowledgement needs an incarnation";
}

TEST(StampCodec, JsonReplyFieldIsAddedAndRemoved) {
  std::string body = R"({"applied_through":10,"rejected":""})";
  const std::string original = body;
  ASSERT_TRUE(append_stamp_field_json(body, "0a0b"));
  EXPECT_EQ(body, R"({"applied_through":10,"rejected":"","snapshot_stamp":"0a0b"})");
  EXPECT_EQ(strip_stamp_field_json(body), "0a0b");
  EXPECT_EQ(body, original);
  std::string empty = "{}";
  ASSERT_TRUE(append_stamp_field_json(empty, "ff"));
  EXPECT_EQ(empty, R"({"snapshot_stamp":"ff"})");
  EXPECT_EQ(strip_stamp_field_json(empty), "ff");
  EXPECT_EQ(empty, "{}");
  std::string not_object = "[1]";
  EXPECT_FALSE(append_stamp_field_json(not_object, "ff"));
  EXPECT_EQ(strip_stamp_field_json(not_object), "");
}

TEST(StampCodec, MsgpackReplyFieldIsAddedAndRemoved) {
  // {"a": 1} as fixmap, and a 15-entry fixmap that must grow into a map16.
  std::string small = std::string("\x81\xa1" "a\x01", 4);
  const std::string small_original = small;
  const std::string hex(40, 'c');  // str8
  ASSERT_TRUE(append_stamp_field_msgpack(small, hex));
  EXPECT_EQ(static_cast<unsigned char>(small[0]), 0x82);
  EXPECT_EQ(strip_stamp_field_msgpack(small), hex);
  EXPECT_EQ(small, small_original);

  std::string full(1, static_cast<char>(0x8f));
  for (int i = 0; i < 15; ++i) {
    full.push_back(static_cast<char>(0xa1));
    full.push_back(static_cast<char>('a' + i));
    full.push_back(static_cast<char>(i));
  }
  const std::string full_original = full;
  ASSERT_TRUE(append_stamp_field_msgpack(full, "0123"));
  EXPECT_EQ(static_cast<unsigned char>(full[0]), 0xde);
  EXPECT_EQ(full[2], 16);
  EXPECT_EQ(strip_stamp_field_msgpack(full), "0123");
  // Back to 15 entries: written as a fixmap again, so the bytes are the original ones.
  EXPECT_EQ(full, full_original);

  std::string array = std::string("\x91\x01", 2);
  EXPECT_FALSE(append_stamp_field_msgpack(array, "00"));
  EXPECT_EQ(strip_stamp_field_msgpack(small), "");
}

// The gateway's parts ride on its next request as a last string field (any size, any bytes);
// the decoder reads them off without changing the body, and only as the last field.
TEST(StampCodec, PartsFieldRidesAsTheLastFieldInBothCodecs) {
  // A value that itself contains the field's key in both wire forms, quotes and all.
  const std::string tricky = std::string(R"([{"id":"7","note":"\"snapshot_parts\":x"}])") + "\xc2\xae" + "snapshot_parts" + "\xc2\xa1z";  // UTF-8 "®snapshot_parts¡z": the MessagePack key's bytes
  std::string json_body = R"({"home_id":"h","items":[]})";
  ASSERT_TRUE(append_text_field_json(json_body, kPartsField, tricky));
  EXPECT_EQ(find_text_field_json(json_body, kPartsField), tricky);
  EXPECT_EQ(find_text_field_json(R"({"home_id":"h"})", kPartsField), std::nullopt);
  EXPECT_EQ(find_text_field_json(R"({"snapshot_parts":[1]})", kPartsField), std::nullopt) << "not a string";

  std::string packed = std::string("\x81\xa1" "a\x01", 4);
  ASSERT_TRUE(append_text_field_msgpack(packed, kPartsField, tricky));
  EXPECT_EQ(find_text_field_msgpack(packed, kPartsField), tricky);
  const std::string big(70000, 'p');  // str32
  std::string packed_big = std::string("\x80", 1);
  ASSERT_TRUE(append_text_field_msgpack(packed_big, kPartsField, big));
  EXPECT_EQ(static_cast<unsigned char>(packed_big[0]), 0x81);
  EXPECT_EQ(find_text_field_msgpack(packed_big, kPartsField), big);
  packed_big.pop_back();  // truncated: the str no longer ends the body exactly
  EXPECT_EQ(find_text_field_msgpack(packed_big, kPartsField), std::nullopt);
  EXPECT_EQ(find_text_field_msgpack(std::string("\x81\xa1" "a\x01", 4), kPartsField), std::nullopt);
}

}  // namespace
}  // namespace homestead::snapshot
