// The streaming message codecs (message_codec.h, msgpack_io.h, json_io.h) the stubs and
// skeletons use: round trips, wire compatibility with nlohmann's codecs in both directions,
// the schema-versioning rules (same errors as from_document), and hostile input (every
// truncation, trailing bytes, huge claimed sizes, deep nesting) refused as malformed.
#include <gtest/gtest.h>

#include <random>

#include "cloud/rpc/codec.h"
#include "cloud/rpc/message_codec.h"
#include "tests/rpc/test_service.h"
#include "tests/support/seeds.h"

namespace homestead::rpc::testing {
namespace {

EchoMessage sample() {
  EchoMessage m;
  m.text = "h\"e\\llo\n\t\x01 caf\xc3\xa9 \xf0\x9f\x98\x80";
  m.number = -42;
  m.ratio = 0.25;
  m.flag = true;
  m.items = {{"a", 1}, {"b", -2}};
  m.note = "n";
  m.tags = {{"x", 7}, {"y", 300}};
  m.payload = std::string(4096, 'p');
  return m;
}

SchemaError decode_error(std::string_view bytes, Codec codec) {
  try {
    decode_message<EchoMessage>(bytes, codec);
  } catch (const SchemaError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a SchemaError decoding " << bytes.size() << " bytes";
  return SchemaError("<none>", "<none>");
}

class MessageCodec : public ::testing::TestWithParam<Codec> {};

TEST_P(MessageCodec, RoundTripsAndInteroperatesWithTheDocumentCodec) {
  const Codec codec = GetParam();
  const EchoMessage original = sample();
  const std::string bytes = encode_message(original, codec);
  EXPECT_EQ(decode_message<EchoMessage>(bytes, codec), original);
  // Our bytes read by nlohmann, and nlohmann's bytes read by us.
  EXPECT_EQ(from_document<EchoMessage>(decode(bytes, codec)), original);
  EXPECT_EQ(decode_message<EchoMessage>(encode(to_document(original), codec), codec), original);
}

TEST_P(MessageCodec, SingleFieldMessagesAreByteForByteWhatNlohmannWrites) {
  // With one field there is no key-order difference, so the bytes must match exactly:
  // strings at every length class and integers at every width.
  for (const std::size_t size : {0u, 5u, 31u, 32u, 255u, 256u, 65535u, 65536u}) {
    const GetRequest request{std::string(size, 'k')};
    EXPECT_EQ(encode_message(request, GetParam()), encode(to_document(request), GetParam())) << size;
  }
  for (const std::uint64_t length : {0ull, 127ull, 128ull, 255ull, 256ull, 65535ull, 65536ull, 4294967295ull,
                                     4294967296ull, 18446744073709551615ull}) {
    const AppendReply reply{length};
    EXPECT_EQ(encode_message(reply, GetParam()), encode(to_document(reply), GetParam())) << length;
  }
  for (const std::int64_t number : {-1ll, -32ll, -33ll, -128ll, -129ll, -32768ll, -32769ll, -2147483648ll,
                                    -2147483649ll, -9223372036854775807ll - 1}) {
    EchoMessage m;
    m.number = number;
    EXPECT_EQ(decode_message<EchoMessage>(encode_message(m, GetParam()), GetParam()).number, number);
    EXPECT_EQ(from_document<EchoMessage>(decode(encode_message(m, GetParam()), GetParam())).number, number);
  }
}

TEST_P(MessageCodec, SchemaVersioningRulesMatchFromDocument) {
  const Codec codec = GetParam();
  // A newer peer's fields of every shape are skipped.
  const nlohmann::json newer = {{"added_in_v2", {{"deep", {1, 2.5, "x", nullptr, true, {{"k", {}}}}}}},
                                {"text", "t"},
                                {"also_new", -7},
                                {"items", {{{"name", "a"}, {"extra", {1, 2}}}}}};
  const auto decoded = decode_message<EchoMessage>(encode(newer, codec), codec);
  EXPECT_EQ(decoded.text, "t");
  ASSERT_EQ(decoded.items.size(), 1u);
  EXPECT_EQ(decoded.items[0].name, "a");
  EXPECT_EQ(decoded.items[0].count, 0);

  // Null counts as missing: an optional keeps its default, a required one is an error.
  const auto nulls = decode_message<EchoMessage>(encode({{"text", "t"}, {"note", nullptr}, {"number", nullptr}}, codec), codec);
  EXPECT_FALSE(nulls.note.has_value());
  EXPECT_EQ(nulls.number, 0);

  const auto missing = [&](const nlohmann::json& doc) {
    try {
      decode_message<AppendRequest>(encode(doc, codec), codec);
    } catch (const SchemaError& e) {
      return std::make_pair(e.field(), std::string(e.what()));
    }
    return std::make_pair(std::string("<no error>"), std::string());
  };
  EXPECT_EQ(missing({{"key", "k"}}), std::make_pair(std::string("value"), std::string("field 'value': missing required field")));
  EXPECT_EQ(missing({{"key", "k"}, {"value", nullptr}}).first, "value");

  nlohmann::json doc = to_document(sample());
  doc["items"][1].erase("name");
  EXPECT_EQ(decode_error(encode(doc, codec), codec).field(), "items[1].name");
  doc = to_document(sample());
  doc["tags"]["y"] = "seven";
  const auto tag_error = decode_error(encode(doc, codec), codec);
  EXPECT_EQ(tag_error.field(), "tags.y");
  EXPECT_NE(std::string(tag_error.what()).find("expected an integer, got string"), std::string::npos) << tag_error.what();
  doc = to_document(sample());
  doc["items"][0]["count"] = 5'000'000'000LL;
  const auto range_error = decode_error(encode(doc, codec), codec);
  EXPECT_EQ(range_error.field(), "items[0].count");
  EXPECT_NE(std::string(range_error.what()).find("out of range"), std::string::npos);
  doc = to_document(sample());
  doc["tags"]["x"] = -1;
  EXPECT_EQ(decode_error(encode(doc, codec), codec).field(), "tags.x");
  doc = to_document(sample());
  doc["items"] = "not a list";
  const auto array_error = decode_error(encode(doc, codec), codec);
  EXPECT_EQ(array_error.field(), "items");
  EXPECT_EQ(std::string(array_error.what()), "field 'items': expected an array, got string");
  doc = to_document(sample());
  doc["ratio"] = true;
  EXPECT_EQ(decode_error(encode(doc, codec), codec).field(), "ratio");
  doc["ratio"] = 3;  // an integer is a number
  doc["flag"] = 1;
  EXPECT_EQ(decode_error(encode(doc, codec), codec).field(), "flag");
  const auto top = decode_error(encode(nlohmann::json::array({1}), codec), codec);
  EXPECT_EQ(top.field(), "");
  EXPECT_NE(std::string(top.what()).find("expected an object, got array"), std::string::npos) << top.what();
}

TEST_P(MessageCodec, EveryTruncationAndTrailingGarbageIsMalformed) {
  const Codec codec = GetParam();
  EchoMessage m = sample();
  m.payload = std::string(40, 'p');  // keeps the number of prefixes small
  const std::string bytes = encode_message(m, codec);
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const auto error = decode_error(std::string_view(bytes).substr(0, length), codec);
    EXPECT_EQ(error.field(), "") << "prefix " << length;
    EXPECT_NE(std::string(error.what()).find("malformed " + std::string(to_string(codec)) + " body"), std::string::npos)
        << "prefix " << length << ": " << error.what();
  }
  const auto trailing = decode_error(bytes + (codec == Codec::json ? " {}" : "\xc0"), codec);
  EXPECT_NE(std::string(trailing.what()).find("after the message"), std::string::npos) << trailing.what();
}

TEST_P(MessageCodec, RandomMessagesRoundTripAndMutationsNeverCrash) {
  const Codec codec = GetParam();
  homestead::testing::for_each_seed(20, [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const auto pick = [&](std::uint64_t n) { return rng() % n; };
    // Valid UTF-8 (JSON needs it): ASCII including escapes, 2-byte and 4-byte characters.
    const auto text = [&](std::size_t max) {
      std::string s;
      const std::size_t n = pick(max + 1);
      for (std::size_t i = 0; i < n; ++i) {
        switch (pick(4)) {
          case 0: s += "\xc3\xa9"; break;
          case 1: s += "\xf0\x9f\x98\x80"; break;
          default: s.push_back(static_cast<char>(pick(128)));
        }
      }
      return s;
    };
    for (int round = 0; round < 50; ++round) {
      EchoMessage m;
      m.text = text(40);
      m.number = static_cast<std::int64_t>(rng());
      m.ratio = static_cast<double>(pick(1 << 20)) / 1024.0;
      m.flag = pick(2) == 1;
      for (std::size_t i = pick(5); i > 0; --i) m.items.push_back({text(8), static_cast<std::int32_t>(rng())});
      if (pick(2)) m.note = text(10);
      for (std::size_t i = pick(4); i > 0; --i) m.tags[text(6)] = static_cast<std::uint32_t>(rng());
      m.payload = text(5000);
      const std::string bytes = encode_message(m, codec);
      ASSERT_EQ(decode_message<EchoMessage>(bytes, codec), m) << "round " << round;
      ASSERT_EQ(from_document<EchoMessage>(decode(bytes, codec)), m) << "round " << round;
      // Flipped bytes: decoding succeeds or throws SchemaError, nothing else (ASan watches).
      std::string mutated = bytes;
      for (int flips = 0; flips < 4; ++flips) mutated[pick(mutated.size())] = static_cast<char>(rng());
      try {
        decode_message<EchoMessage>(mutated, codec);
      } catch (const SchemaError&) {
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Codecs, MessageCodec, ::testing::Values(Codec::json, Codec::msgpack),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(MessageCodecMsgpack, HostileSizesAndNestingAreRefusedOrSkippedWithoutBlowingUp) {
  // A map claiming 2^32-1 entries in a 6-byte body: refused before anything is reserved.
  const std::string huge_map("\xdf\xff\xff\xff\xff\xc0", 6);
  EXPECT_NE(std::string(decode_error(huge_map, Codec::msgpack).what()).find("a map of 4294967295 entries"),
            std::string::npos);
  // A string claiming more bytes than the body has.
  const std::string long_string("\x81\xa4text\xdb\x00\x10\x00\x00xx", 13);
  EXPECT_NE(std::string(decode_error(long_string, Codec::msgpack).what()).find("runs past the end"), std::string::npos);
  // An unknown field nested 200,000 arrays deep is skipped iteratively (no stack overflow).
  std::string deep("\x82\xa4text\xa1t\xa3new");
  deep += std::string(200000, '\x91');
  deep += '\xc0';
  EXPECT_EQ(decode_message<EchoMessage>(deep, Codec::msgpack).text, "t");
  // 0xc1 is never valid MessagePack.
  EXPECT_NE(std::string(decode_error(std::string("\x81\xa4text\xc1", 7), Codec::msgpack).what()).find("0xc1"),
            std::string::npos);
}

TEST(MessageCodecMsgpack, CarriesArbitraryBytesInStrings) {
  EchoMessage m;
  m.text = "bin";
  for (int i = 0; i < 4096; ++i) m.payload.push_back(static_cast<char>(i % 256));
  EXPECT_EQ(decode_message<EchoMessage>(encode_message(m, Codec::msgpack), Codec::msgpack).payload, m.payload);
}

TEST(MessageCodecJson, EscapesAsNlohmannDumpsAndUnescapesEveryForm) {
  std::string every_control;
  for (int c = 0; c < 0x20; ++c) every_control.push_back(static_cast<char>(c));
  const GetRequest request{every_control + "\"\\/\x7f caf\xc3\xa9 \xf0\x9f\x98\x80"};
  EXPECT_EQ(encode_message(request, Codec::json), encode(to_document(request), Codec::json));
  // \u escapes (including a surrogate pair) and \/ decode to UTF-8.
  const auto decoded = decode_message<GetRequest>(R"( { "key" : "a\/b\u00e9\ud83d\ude00\n" } )", Codec::json);
  EXPECT_EQ(decoded.key, "a/b\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_EQ(decode_message<GetRequest>("\xEF\xBB\xBF{\"key\":\"bom\"}", Codec::json).key, "bom");
  // Escaped keys are matched after unescaping.
  EXPECT_EQ(decode_message<GetRequest>(R"({"k\u0065y":"v"})", Codec::json).key, "v");
  for (const char* bad : {R"({"key":"\ud83d"})", R"({"key":"\x"})", "{\"key\":\"\xff\"}", "{\"key\":\"a\x01\"}",
                          R"({"key":"v","n":01})", R"({"key":"v",})", R"({"key" "v"})", R"({"key":"v","b":tru})"}) {
    const auto error = decode_error(bad, Codec::json);
    EXPECT_NE(std::string(error.what()).find("malformed json body"), std::string::npos) << bad << ": " << error.what();
  }
}

TEST(MessageCodecJson, InvalidUtf8CannotBeEncodedAsJson) {
  const GetRequest request{"ok\xff"};
  try {
    encode_message(request, Codec::json);
    FAIL() << "expected a SchemaError";
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
  }
}

TEST(MessageCodecJson, NumbersFollowNlohmannsKinds) {
  // Out-of-range integers become floating point (an error for an integer field, fine for a
  // double); exponents and fractions are floating point.
  EXPECT_EQ(decode_error(R"({"text":"t","number":18446744073709551616})", Codec::json).field(), "number");
  EXPECT_EQ(decode_error(R"({"text":"t","number":1e2})", Codec::json).field(), "number");
  EXPECT_EQ(decode_message<EchoMessage>(R"({"text":"t","number":-9223372036854775808,"ratio":-1.5e-3})", Codec::json).number,
            std::numeric_limits<std::int64_t>::min());
  EXPECT_DOUBLE_EQ(decode_message<EchoMessage>(R"({"text":"t","ratio":-1.5e-3})", Codec::json).ratio, -1.5e-3);
}

}  // namespace
}  // namespace homestead::rpc::testing
