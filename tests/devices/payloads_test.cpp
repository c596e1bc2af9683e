#include "devices/payloads.h"

#include <gtest/gtest.h>

namespace homestead::devices {
namespace {

// Runs fn, expects a PayloadError and returns the field it names.
template <class Fn>
std::string bad_field(Fn&& fn) {
  try {
    fn();
  } catch (const PayloadError& e) {
    return e.field();
  }
  ADD_FAILURE() << "no PayloadError";
  return "<none>";
}

const KindInfo& light() { return kind_info(Kind::light); }

TEST(StatePayload, RoundTrips) {
  StateReport r{7, 1767225600123, {{"on", true}, {"brightness", 200}}};
  StateReport back = decode_state(light(), encode(r));
  EXPECT_EQ(back.seq, 7u);
  EXPECT_EQ(back.ts_ms, 1767225600123);
  EXPECT_EQ(back.state, r.state);
}

TEST(StatePayload, NamesTheBadField) {
  EXPECT_EQ(bad_field([] { decode_state(light(), R"({"seq":1,"ts":5,"state":{"on":true,"brightness":300}})"); }),
            "state.brightness");
  EXPECT_EQ(bad_field([] { decode_state(light(), R"({"seq":1,"ts":5,"state":{"on":"yes","brightness":3}})"); }),
            "state.on");
  EXPECT_EQ(bad_field([] { decode_state(light(), R"({"seq":1,"ts":5,"state":{"on":true}})"); }), "state.brightness");
  EXPECT_EQ(bad_field([] { decode_state(light(), R"({"ts":5,"state":{"on":true,"brightness":3}})"); }), "seq");
  EXPECT_EQ(bad_field([] { decode_state(light(), R"({"seq":-1,"ts":5,"state":{"on":true,"brightness":3}})"); }), "seq");
  EXPECT_EQ(bad_field([] { decode_state(light(), R"({"seq":1,"ts":"now","state":{"on":true,"brightness":3}})"); }), "ts");
  EXPECT_EQ(bad_field([] { decode_state(light(), R"({"seq":1,"ts":5,"state":{"on":true,"brightness":3,"hue":1}})"); }),
            "state.hue");
  EXPECT_EQ(bad_field([] { decode_state(light(), R"({"seq":1,"ts":5,"extra":1,"state":{}})"); }), "extra");
  EXPECT_EQ(bad_field([] { decode_state(light(), "not json"); }), "");
  EXPECT_EQ(bad_field([] { decode_state(light(), "[1,2]"); }), "");
}

TEST(StatePayload, MessageNamesFieldAndValue) {
  try {
    decode_state(light(), R"({"seq":1,"ts":5,"state":{"on":true,"brightness":300}})");
    FAIL();
  } catch (const PayloadError& e) {
    EXPECT_STREQ(e.what(), "field 'state.brightness': expected an integer in 0..255, got 300");
  }
}

TEST(StatePayload, EnumerationsAndNumbers) {
  const auto& lock = kind_info(Kind::lock);
  EXPECT_NO_THROW(decode_state(lock, R"({"seq":0,"ts":0,"state":{"lock":"jammed"}})"));
  EXPECT_EQ(bad_field([&] { decode_state(lock, R"({"seq":0,"ts":0,"state":{"lock":"open"}})"); }), "state.lock");
  const auto& temp = kind_info(Kind::temperature);
  EXPECT_NO_THROW(decode_state(temp, R"({"seq":0,"ts":0,"state":{"temperature":21}})"));  // an integer is a number
  EXPECT_EQ(bad_field([&] { decode_state(temp, R"({"seq":0,"ts":0,"state":{"temperature":120.5}})"); }),
            "state.temperature");
}

TEST(CommandPayload, ValidatesNameAndArgs) {
  Command c = decode_command(light(), R"({"cmd_id":"a1","command":"set_brightness","args":{"brightness":80}})");
  EXPECT_EQ(c.cmd_id, "a1");
  EXPECT_EQ(c.command, "set_brightness");
  EXPECT_EQ(c.args["brightness"], 80);
  EXPECT_EQ(decode_command(light(), R"({"cmd_id":"a2","command":"turn_on"})").args, nlohmann::json::object());
  EXPECT_EQ(bad_field([] { decode_command(light(), R"({"cmd_id":"a1","command":"set_brightness","args":{}})"); }),
            "args.brightness");
  EXPECT_EQ(bad_field([] { decode_command(light(), R"({"cmd_id":"a1","command":"set_brightness","args":{"brightness":-1}})"); }),
            "args.brightness");
  EXPECT_EQ(bad_field([] { decode_command(light(), R"({"cmd_id":"a1","command":"turn_on","args":{"x":1}})"); }), "args.x");
  EXPECT_EQ(bad_field([] { decode_command(light(), R"({"cmd_id":"a1","command":"lock"})"); }), "command");
  EXPECT_EQ(bad_field([] { decode_command(light(), R"({"cmd_id":"","command":"turn_on"})"); }), "cmd_id");
  EXPECT_EQ(bad_field([] { decode_command(light(), R"({"cmd_id":7,"command":"turn_on"})"); }), "cmd_id");
  EXPECT_EQ(bad_field([] { decode_command(light(), R"({"command":"turn_on"})"); }), "cmd_id");
  EXPECT_EQ(bad_field([&] { decode_command(light(), R"({"cmd_id":")" + std::string(65, 'x') + R"(","command":"turn_on"})"); }),
            "cmd_id");
}

TEST(CommandPayload, StatusQueryNeedsTheCmdIdItAsksAbout) {
  const auto& lock = kind_info(Kind::lock);
  Command q = decode_command(lock, R"({"cmd_id":"q1","command":"status","args":{"cmd_id":"a1"}})");
  EXPECT_EQ(q.args["cmd_id"], "a1");
  EXPECT_EQ(bad_field([&] { decode_command(lock, R"({"cmd_id":"q1","command":"status"})"); }), "args.cmd_id");
}

TEST(AckPayload, RoundTripsWithStatusOf) {
  const auto& lock = kind_info(Kind::lock);
  Ack earlier{"a1", false, "jammed", {{"lock", "jammed"}}, 10, std::nullopt};
  Ack query{"q1", true, "", {{"lock", "jammed"}}, 11, StatusOf{"a1", CommandOutcome::done, to_json(earlier)}};
  Ack back = decode_ack(lock, encode(query));
  ASSERT_TRUE(back.status_of.has_value());
  EXPECT_EQ(back.status_of->outcome, CommandOutcome::done);
  EXPECT_EQ(back.status_of->ack["reason"], "jammed");
  Ack e = decode_ack(lock, encode(earlier));
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.reason, "jammed");
}

TEST(AckPayload, NamesTheBadField) {
  const auto& lock = kind_info(Kind::lock);
  EXPECT_EQ(bad_field([&] { decode_ack(lock, R"({"cmd_id":"a","result":"error","state":{"lock":"locked"},"ts":1})"); }),
            "reason");
  EXPECT_EQ(bad_field([&] { decode_ack(lock, R"({"cmd_id":"a","result":"maybe","state":{"lock":"locked"},"ts":1})"); }),
            "result");
  EXPECT_EQ(bad_field([&] {
              decode_ack(lock, R"({"cmd_id":"a","result":"ok","state":{"lock":"locked"},"ts":1,
                                   "status_of":{"cmd_id":"b","outcome":"done","ack":{"cmd_id":"b","result":"ok","state":{"lock":"x"},"ts":1}}})");
            }),
            "status_of.ack.state.lock");
}

}  // namespace
}  // namespace homestead::devices
