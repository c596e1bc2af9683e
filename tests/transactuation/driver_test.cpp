// The Driver's ordering with the outcome serialisation moved off the commit path: intents
// are durable before their commands leave; an outcome is reported first and appended right
// after in the same pump (also when the report throws); an outcome sharing a Ready with an
// intent that read its writes goes to disk with that intent's sync.
#include <gtest/gtest.h>

#include <stdexcept>

#include "transactuation/driver.h"

namespace homestead::transactuation {
namespace {

constexpr Time kStart = 1000 * kSecond;

// Everything the Driver did, in order, as "append outcome 1", "sync", "send lamp 1.0", ...
struct Trace : IntentLog, DeviceBus {
  std::vector<std::string> events;
  std::vector<LogRecord> stored;
  std::size_t durable = 0;
  void append(const std::vector<LogRecord>& records) override {
    for (const auto& record : records) {
      // What a real log stores: the text must be there (or a body) by the time it appends.
      EXPECT_FALSE(record.text.empty() && record.body.is_null()) << "record of " << record.txn << " has no body";
      LogRecord copy = record;
      copy.body = Json::parse(body_text(record));
      copy.text.clear();
      stored.push_back(std::move(copy));
      events.push_back(std::string("append ") + to_string(record.kind) + " " + std::to_string(record.txn));
    }
  }
  void sync() override {
    durable = stored.size();
    events.push_back("sync");
  }
  std::vector<LogRecord> load() override { return {stored.begin(), stored.begin() + static_cast<long>(durable)}; }
  void send(const Command& command) override { events.push_back("send " + command.cmd_id); }
  void query(const StatusQuery& query) override { events.push_back("query " + query.cmd_id); }
};

AppDefinition lamp_app(const std::string& name, bool reads_flag) {
  AppBuilder builder(name);
  builder.actuates({"lamp"}).actuation_timeout(1 * kSecond, 0);
  if (reads_flag) {
    builder.reads_state({"flag"}).writes_state({"seen"}).logic([](const LogicInput& in) {
      LogicResult result;
      result.actuations.push_back(Actuation{"lamp", "off"});
      result.state_writes["seen"] = in.state_value("flag");
      return result;
    });
  } else {
    builder.writes_state({"flag"}).logic([](const LogicInput&) {
      LogicResult result;
      result.actuations.push_back(Actuation{"lamp", "on"});
      result.state_writes["flag"] = true;
      return result;
    });
  }
  return builder.build();
}

TEST(Driver, ReportsTheCommitThenAppendsItsOutcomeInTheSamePump) {
  Runtime runtime;
  runtime.install(lamp_app("writer", false));
  Trace trace;
  std::vector<std::size_t> stored_when_reported;
  Driver driver(runtime, trace, trace, 2 * kMillisecond,
                [&](const TransactuationRecord&) { stored_when_reported.push_back(trace.stored.size()); });
  const TxnId id = runtime.trigger("writer", {}, kStart);
  driver.pump(kStart);
  runtime.on_ack(Ack{"lamp", std::to_string(id) + ".0", true, ""}, kStart + 5);
  driver.pump(kStart + 5);
  const std::vector<std::string> expected = {"append intent 1", "sync", "send 1.0", "append outcome 1"};
  EXPECT_EQ(trace.events, expected);
  EXPECT_EQ(stored_when_reported, std::vector<std::size_t>{1});  // reported before its outcome was appended
  ASSERT_EQ(trace.stored.size(), 2u);
  EXPECT_EQ(trace.stored[1].body.at("status"), "committed");
  EXPECT_EQ(trace.stored[1].body.at("state_writes"), Json({{"flag", true}}));
  // Group commit: durable once the flush interval has passed, not before.
  driver.flush_if_due(kStart + 5 + kMillisecond);
  EXPECT_EQ(trace.durable, 1u);
  driver.flush_if_due(kStart + 5 + 2 * kMillisecond);
  EXPECT_EQ(trace.durable, 2u);
}

TEST(Driver, OutcomeIsAppendedEvenWhenTheReportThrows) {
  Runtime runtime;
  runtime.install(lamp_app("writer", false));
  Trace trace;
  Driver driver(runtime, trace, trace, 2 * kMillisecond,
                [](const TransactuationRecord&) { throw std::runtime_error("listener failed"); });
  const TxnId id = runtime.trigger("writer", {}, kStart);
  driver.pump(kStart);
  runtime.on_ack(Ack{"lamp", std::to_string(id) + ".0", true, ""}, kStart + 5);
  EXPECT_THROW(driver.pump(kStart + 5), std::runtime_error);
  ASSERT_EQ(trace.stored.size(), 2u);
  EXPECT_EQ(trace.stored[1].kind, LogKind::outcome);
  EXPECT_EQ(trace.stored[1].body.at("status"), "committed");
}

TEST(Driver, OutcomeReadByALaterIntentIsSyncedWithThatIntent) {
  Runtime runtime;
  runtime.install(lamp_app("writer", false));
  runtime.install(lamp_app("reader", true));
  Trace trace;
  Driver driver(runtime, trace, trace, 10 * kSecond);  // no group flush during the test
  const TxnId writer = runtime.trigger("writer", {}, kStart);
  const TxnId reader = runtime.trigger("reader", {}, kStart);  // queues behind the writer's lamp lock
  driver.pump(kStart);
  trace.events.clear();
  runtime.on_ack(Ack{"lamp", std::to_string(writer) + ".0", true, ""}, kStart + 5);
  driver.pump(kStart + 5);
  const std::vector<std::string> expected = {"append outcome " + std::to_string(writer),
                                             "append intent " + std::to_string(reader), "sync",
                                             "send " + std::to_string(reader) + ".0"};
  EXPECT_EQ(trace.events, expected);
  // A crash now loses nothing the reader's intent depends on.
  const auto durable = trace.load();
  ASSERT_EQ(durable.size(), 3u);
  EXPECT_EQ(durable[1].body.at("status"), "committed");
  EXPECT_EQ(durable[2].body.at("state_read"), Json({{"flag", true}, {"seen", nullptr}}));
}

}  // namespace
}  // namespace homestead::transactuation
