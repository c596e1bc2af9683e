// IDL and codecs: every codec round-trips the typed messages; schema versioning (unknown
// fields ignored, missing required fields rejected with the field named); descriptions.
#include <gtest/gtest.h>

#include "cloud/rpc/codec.h"
#include "cloud/rpc/schema.h"
#include "cloud/rpc/service.h"
#include "tests/rpc/test_service.h"

namespace homestead::rpc::testing {
namespace {

EchoMessage sample() {
  EchoMessage m;
  m.text = "hello";
  m.number = -42;
  m.ratio = 0.25;
  m.flag = true;
  m.items = {{"a", 1}, {"b", 2}};
  m.note = "n";
  m.tags = {{"x", 7}};
  m.payload = std::string(64, 'p');
  return m;
}

class CodecRoundTrip : public ::testing::TestWithParam<Codec> {};

TEST_P(CodecRoundTrip, TypedMessageSurvivesEncodeDecode) {
  const EchoMessage original = sample();
  const std::string bytes = encode(to_document(original), GetParam());
  const auto decoded = from_document<EchoMessage>(decode(bytes, GetParam()));
  EXPECT_EQ(decoded, original);
  EXPECT_EQ(decoded.items[1].name, "b");
  EXPECT_EQ(*decoded.note, "n");
}

TEST_P(CodecRoundTrip, MissingOptionalKeepsDefault) {
  const auto decoded = from_document<EchoMessage>(decode(encode({{"text", "t"}}, GetParam()), GetParam()));
  EXPECT_EQ(decoded.text, "t");
  EXPECT_EQ(decoded.number, 0);
  EXPECT_FALSE(decoded.note.has_value());
  EXPECT_TRUE(decoded.items.empty());
}

TEST_P(CodecRoundTrip, MalformedBodyIsASchemaError) {
  try {
    decode("\xc1not a body{", GetParam());
    FAIL() << "expected a SchemaError";
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.field(), "");
    EXPECT_NE(std::string(e.what()).find("malformed"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecRoundTrip, ::testing::Values(Codec::json, Codec::msgpack),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Schema, UnknownFieldsAreIgnored) {
  const nlohmann::json newer = {{"key", "k"}, {"value", "v"}, {"added_in_v2", {1, 2, 3}}};
  const auto decoded = from_document<AppendRequest>(newer);
  EXPECT_EQ(decoded.key, "k");
  EXPECT_EQ(decoded.value, "v");
}

TEST(Schema, MissingRequiredFieldIsNamed) {
  try {
    from_document<AppendRequest>(nlohmann::json{{"key", "k"}});
    FAIL() << "expected a SchemaError";
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.field(), "value");
    EXPECT_EQ(std::string(e.what()), "field 'value': missing required field");
  }
}

TEST(Schema, NestedFieldErrorsCarryThePath) {
  nlohmann::json doc = to_document(sample());
  doc["items"][1].erase("name");
  try {
    from_document<EchoMessage>(doc);
    FAIL() << "expected a SchemaError";
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.field(), "items[1].name");
  }
}

TEST(Schema, WrongTypeAndRangeAreNamed) {
  try {
    from_document<SleepRequest>(nlohmann::json{{"millis", "ten"}});
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.field(), "millis");
    EXPECT_NE(std::string(e.what()).find("expected an integer, got string"), std::string::npos) << e.what();
  }
  try {
    from_document<SleepRequest>(nlohmann::json{{"millis", -1}});
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.field(), "millis");
  }
  try {
    from_document<Item>(nlohmann::json{{"name", "x"}, {"count", 5'000'000'000LL}});
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.field(), "count");
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos);
  }
}

TEST(Schema, NotAnObjectIsRejected) {
  EXPECT_THROW(from_document<AppendRequest>(nlohmann::json::array()), SchemaError);
}

TEST(Describe, ServiceDescriptionListsMethodsSemanticsAndFields) {
  const auto d = describe_service<KvService>();
  EXPECT_EQ(d["name"], "Kv");
  EXPECT_EQ(d["version"], 1);
  ASSERT_EQ(d["methods"].size(), 6u);
  EXPECT_EQ(d["methods"][0]["name"], "Append");
  EXPECT_EQ(d["methods"][0]["semantics"], "at_most_once");
  EXPECT_EQ(d["methods"][1]["semantics"], "at_least_once");
  const auto& fields = d["methods"][0]["request"]["fields"];
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0]["name"], "key");
  EXPECT_EQ(fields[0]["type"], "string");
  EXPECT_EQ(fields[0]["required"], true);
  const auto& echo = d["methods"][3]["request"]["fields"];
  EXPECT_EQ(echo[1]["type"], "int64");
  EXPECT_EQ(echo[4]["type"]["array"]["fields"][1]["type"], "int32");
  EXPECT_EQ(echo[4]["type"]["array"]["fields"][1]["required"], false);
}

TEST(Codec, ContentTypeNegotiation) {
  EXPECT_EQ(codec_from_content_type("application/json; charset=utf-8"), Codec::json);
  EXPECT_EQ(codec_from_content_type("application/msgpack"), Codec::msgpack);
  EXPECT_EQ(codec_from_content_type("application/x-msgpack"), Codec::msgpack);
  EXPECT_EQ(codec_from_content_type("text/plain"), std::nullopt);
  EXPECT_EQ(content_type(Codec::msgpack), "application/msgpack");
}

}  // namespace
}  // namespace homestead::rpc::testing
