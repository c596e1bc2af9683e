// encode_record (the hand-written serialiser on the commit path) against to_json, the
// reference: every record shape the runtime produces, and values that need escaping.
#include <gtest/gtest.h>

#include "transactuation/record.h"
#include "transactuation/runtime.h"

namespace homestead::transactuation {
namespace {

constexpr Time kStart = 1000 * kSecond;

void expect_same(const TransactuationRecord& record) {
  const std::string text = encode_record(record);
  const Json parsed = Json::parse(text);  // throws (fails the test) on malformed text
  EXPECT_EQ(parsed, to_json(record)) << text;
  // And it reads back into the same record.
  EXPECT_EQ(to_json(record_from_json(parsed)), to_json(record));
}

TransactuationRecord odd_record() {
  TransactuationRecord r;
  r.id = (std::uint64_t{7} << 32) | 42;
  r.app = "quote\" backslash\\ tab\t newline\n bell\x07 utf8 caf\xc3\xa9 \xe2\x9c\x93";
  r.trigger = Json{{"kind", "api"}, {"payload", {{"x", 1.5}, {"list", {1, -2, nullptr, "s"}}, {"nested", {{"a", false}}}}}};
  r.triggered_at = -5;  // a skewed clock can give negative differences; they must survive
  r.logic_at = std::numeric_limits<Time>::max();
  r.finished_at = std::numeric_limits<Time>::min();
  r.status = Status::committed_partial;
  r.reason = Reason::actuating;
  r.detail = "lamp1/on: device: \"jammed\"";
  r.readings.push_back(ReadingUsed{Reading{"t\x01", "v", 21.25, 3, 4}, 1});
  r.readings.push_back(ReadingUsed{Reading{"door", "open", Json(), 0, 9}, 9});
  r.readings.push_back(ReadingUsed{Reading{"big", "n", std::numeric_limits<std::uint64_t>::max(), 0, 0}, 0});
  r.state_read = {{"armed", true}, {"", "empty key"}, {"k\"ey", Json::array()}, {"obj", Json::object()}};
  ActuationRun run;
  run.actuation = Actuation{"lamp1", "set", Json{{"level", 0.5}}, Compensation{"off", Json{{"why", "undo"}}},
                            {{"claim", true}, {"count", -3}}};
  run.cmd_id = "7.0";
  run.seq = std::numeric_limits<std::uint64_t>::max();
  run.state = ActuationState::failed;
  run.attempts = 3;
  run.error = "timeout: no ack after 3 attempt(s)";
  run.sent_at = 10;
  run.resolved_at = 20;
  r.actuations.push_back(run);
  run.actuation = Actuation{"lamp2", "on"};
  run.state = ActuationState::skipped;
  r.actuations.push_back(run);
  run.actuation = Actuation{"lamp1", "off", Json::array({1, 2})};
  run.state = ActuationState::ok;
  r.compensations.push_back(run);
  r.state_writes = {{"lightsOn", "yes"}, {"level", 0.25}, {"none", nullptr}};
  r.actuating.require = Quorum::at_least(2);
  r.actuating.timeout = 2 * kSecond;
  r.actuating.retries = 4;
  r.actuating.on_failure = OnFailure::commit_partial;
  r.actuating.compensate = true;
  r.actuating.sequential = true;
  r.locks = {{"device:lamp1", LockMode::exclusive}, {"state:armed", LockMode::shared}};
  r.recovered = true;
  return r;
}

TEST(RecordText, EmptyRecordMatchesToJson) { expect_same(TransactuationRecord{}); }

TEST(RecordText, EveryFieldAndEscapesMatchToJson) { expect_same(odd_record()); }

TEST(RecordText, InvalidUtf8IsRefusedAsToJsonDumpRefusesIt) {
  TransactuationRecord r;
  r.detail = "bad \xff byte";
  EXPECT_THROW(encode_record(r), Json::type_error);
  EXPECT_THROW(to_json(r).dump(), Json::type_error);
}

// Every intent, compensate and outcome record a real run produces, as the Ready carries them.
TEST(RecordText, RecordsOfARunMatchToJson) {
  Runtime runtime;
  runtime.install(AppBuilder("lights")
                      .actuates({"lamp1", "lamp2"})
                      .writes_state({"lightsOn", "lamp1Claim"})
                      .logic([](const LogicInput&) {
                        LogicResult result;
                        result.actuations.push_back(
                            Actuation{"lamp1", "on", Json{{"level", 3}}, Compensation{"off"}, {{"lamp1Claim", true}}});
                        result.actuations.push_back(Actuation{"lamp2", "on", Json::object(), Compensation{"off"}, {}});
                        result.state_writes["lightsOn"] = true;
                        return result;
                      })
                      .actuation_timeout(1 * kSecond, 0)
                      .build());
  runtime.trigger("lights", {{"who", "test"}}, kStart);
  Ready first = runtime.take_ready();
  ASSERT_EQ(first.records.size(), 1u);
  ASSERT_EQ(first.commands.size(), 2u);
  ASSERT_NE(runtime.find_active(first.records[0].txn), nullptr);
  expect_same(*runtime.find_active(first.records[0].txn));
  // The intent is the snapshot from before its commands left, parsed back whole.
  const Json intent = Json::parse(first.records[0].text);
  ASSERT_EQ(intent.at("actuations").size(), 2u);
  EXPECT_EQ(intent.at("actuations").at(0).at("state"), "pending");
  EXPECT_EQ(intent.at("actuations").at(0).at("args"), Json({{"level", 3}}));
  EXPECT_EQ(intent.at("state_writes"), Json({{"lightsOn", true}}));
  EXPECT_EQ(to_json(record_from_json(intent)), intent);
  runtime.on_ack(Ack{"lamp1", first.commands[0].cmd_id, true, ""}, kStart + 1);
  runtime.tick(kStart + 2 * kSecond);  // lamp2 times out: abort, compensate lamp1
  Ready second = runtime.take_ready();
  ASSERT_EQ(second.records.size(), 1u);
  EXPECT_EQ(second.records[0].kind, LogKind::compensate);
  // The snapshot from before the compensation left (it must be durable first), parsed back whole.
  const Json compensate = Json::parse(second.records[0].text);
  EXPECT_EQ(compensate.at("compensations").at(0).at("state"), "pending");
  EXPECT_EQ(compensate.at("actuations").at(1).at("state"), "failed");
  EXPECT_EQ(to_json(record_from_json(compensate)), compensate);
  ASSERT_EQ(second.commands.size(), 1u);
  runtime.on_ack(Ack{"lamp1", second.commands[0].cmd_id, true, ""}, kStart + 3 * kSecond);
  Ready third = runtime.take_ready();
  ASSERT_EQ(third.records.size(), 1u);
  ASSERT_EQ(third.finished.size(), 1u);
  EXPECT_TRUE(third.records[0].text.empty());  // left for serialise_outcomes, off the commit path
  third.serialise_outcomes();
  EXPECT_EQ(Json::parse(third.records[0].text), to_json(third.finished[0]));
  expect_same(third.finished[0]);
  EXPECT_EQ(third.finished[0].compensations.size(), 1u);
}

}  // namespace
}  // namespace homestead::transactuation
