// The contract every transport keeps, run over tcp and http on 127.0.0.1 with the same
// typed stubs: round trips in both codecs through sync, future and callback calls; remote
// and schema errors with their kind; a stalled server times out within deadline + 50 ms; a
// server going away mid-call is unknown_outcome (never a false success) and the channel
// reconnects; auth refusals; graceful drain. Transport-specific checks (frames, HTTP status
// codes, negotiation, pooling) live in tcp_transport_test.cpp and http_transport_test.cpp.
#include <gtest/gtest.h>

#include <future>

#include "cloud/rpc/stub.h"
#include "tests/rpc/transport_fixture.h"
#include "tests/support/process.h"

namespace homestead::rpc::testing {
namespace {

using namespace std::chrono_literals;
using homestead::testing::wait_until;

class EveryTransport : public ::testing::TestWithParam<Transport> {};
class EveryTransportAndCodec : public ::testing::TestWithParam<std::tuple<Transport, Codec>> {};

TEST_P(EveryTransportAndCodec, SyncFutureAndCallbackRoundTrip) {
  const auto [transport, codec] = GetParam();
  KvServer f(transport);
  Stub<KvService> kv(f.channel(), StubOptions{.codec = codec});
  EchoMessage m{"hi", 7, 0.5, true, {{"a", 1}}, std::nullopt, {{"t", 3}}, std::string(64, 'x')};
  const auto echoed = kv.call<KvService::Echo>(m);
  ASSERT_TRUE(echoed.ok()) << echoed.error().describe();
  EXPECT_EQ(echoed.value(), m);

  auto future = kv.call_async<KvService::Append>({"k", "one"});
  const auto appended = future.get();
  ASSERT_TRUE(appended.ok()) << appended.error().describe();
  EXPECT_EQ(appended->length, 1u);

  std::promise<Result<AppendReply>> got;
  kv.call_async<KvService::AppendAtLeastOnce>({"k", "two"}, [&](Result<AppendReply> r) { got.set_value(std::move(r)); });
  const auto second = got.get_future().get();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->length, 2u);
  EXPECT_EQ(f.store.get("k"), (std::vector<std::string>{"one", "two"}));
}

// The streaming codecs (message_codec.h) end to end: 4 KiB and 48 KiB payloads, text that
// JSON must escape and multi-byte UTF-8, and with MessagePack every byte value; a newer
// client's extra field is ignored by the server; a body cut short is refused naming the codec.
TEST_P(EveryTransportAndCodec, LargeAndAwkwardPayloadsRoundTrip) {
  const auto [transport, codec] = GetParam();
  KvServer f(transport);
  auto channel = f.channel();
  Stub<KvService> kv(channel, StubOptions{.codec = codec});
  for (const std::size_t size : {4096u, 48u * 1024u}) {  // under the fixture's 64 KiB limit
    EchoMessage m{"quote\" backslash\\ newline\n nul" + std::string(1, '\0') + " caf\xc3\xa9 \xf0\x9f\x98\x80", -5, 1.5,
                  false, {{"i", -1}}, "note", {{"k", 1}}, {}};
    for (std::size_t i = 0; i < size; ++i) {
      m.payload.push_back(codec == Codec::msgpack ? static_cast<char>(i % 256) : static_cast<char>(' ' + i % 95));
    }
    const auto echoed = kv.call<KvService::Echo>(m);
    ASSERT_TRUE(echoed.ok()) << size << ": " << echoed.error().describe();
    EXPECT_EQ(echoed.value(), m) << size;
  }
  nlohmann::json newer = {{"key", "k"}, {"value", "v"}, {"added_in_v2", {{"nested", {1, 2, 3}}}}};
  const RawReply ok = channel->call(RawRequest{"Kv/AppendAtLeastOnce", codec, encode(newer, codec)}, Clock::now() + 2s);
  ASSERT_EQ(ok.kind, ErrorKind::ok) << ok.body;
  EXPECT_EQ(decode_message<AppendReply>(ok.body, codec).length, 1u);
  const std::string full = encode(newer, codec);
  const RawReply cut = channel->call(RawRequest{"Kv/AppendAtLeastOnce", codec, full.substr(0, full.size() - 3)},
                                     Clock::now() + 2s);
  EXPECT_EQ(cut.kind, ErrorKind::bad_request);
  EXPECT_NE(cut.body.find("malformed " + std::string(to_string(codec)) + " body"), std::string::npos) << cut.body;
  EXPECT_EQ(f.store.get("k"), (std::vector<std::string>{"v"}));
}

TEST_P(EveryTransport, RemoteErrorsAndSchemaErrorsComeBackWithTheirKind) {
  KvServer f(GetParam());
  auto channel = f.channel();
  Stub<KvService> kv(channel);
  const auto failed = kv.call<KvService::Fail>({"nope"});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.kind(), ErrorKind::remote);
  EXPECT_EQ(failed.error().message, "no such key: nope");

  // A body missing a required field: the server names it.
  const RawReply reply = channel->call(RawRequest{"Kv/AppendAtLeastOnce", Codec::json, R"({"key":"k"})"}, Clock::now() + 2s);
  EXPECT_EQ(reply.kind, ErrorKind::bad_request);
  EXPECT_NE(reply.body.find("field 'value': missing required field"), std::string::npos) << reply.body;
  const RawReply missing = channel->call(RawRequest{"Kv/Nope", Codec::json, "{}"}, Clock::now() + 2s);
  EXPECT_EQ(missing.kind, ErrorKind::not_found);
  EXPECT_NE(missing.body.find("no method 'Kv/Nope'"), std::string::npos) << missing.body;
}

TEST_P(EveryTransport, StalledServerTimesOutWithinDeadlinePlus50ms) {
  KvServer f(GetParam());
  Stub<KvService> kv(f.channel());
  ASSERT_TRUE(kv.call<KvService::Get>({"warm-up"}).ok());  // connection made outside the timing
  const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  for (auto deadline : {100ms, 250ms}) {
    const auto start = Clock::now();
    const auto r = kv.call<KvService::Sleep>({60'000}, CallOptions{.timeout = deadline, .retry = RetryPolicy::none()});
    const auto took = Clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.kind(), ErrorKind::timeout) << r.error().describe();
    EXPECT_GE(took, deadline);
    EXPECT_LE(took, deadline + 50ms) << ms(took) << " ms";
  }
  const auto start = Clock::now();  // the asynchronous path
  const auto r = kv.call_async<KvService::Sleep>({60'000}, CallOptions{.timeout = 150ms, .retry = RetryPolicy::none()}).get();
  const auto took = Clock::now() - start;
  EXPECT_EQ(r.kind(), ErrorKind::timeout);
  EXPECT_GE(took, 150ms);
  EXPECT_LE(took, 150ms + 50ms) << ms(took) << " ms";
}

TEST_P(EveryTransport, ServerGoingAwayMidCallIsUnknownOutcomeThenTheChannelReconnects) {
  const int port = homestead::testing::free_tcp_port();
  auto first = std::make_unique<KvServer>(GetParam(), KvServer::base_options(), port);
  auto channel = make_channel(GetParam(), port, KvServer::kSecret);
  Stub<KvService> kv(channel);
  auto in_flight = kv.call_async<KvService::Sleep>({60'000}, CallOptions{.timeout = 10s, .retry = RetryPolicy::none()});
  ASSERT_TRUE(wait_until([&] { return first->gate.waiting() == 1; }, 5s));
  // The listener closes its connections with the call inside (http's stop then waits for
  // the stalled handler, hence another thread).
  auto stopping = std::async(std::launch::async, [&] { first->stop_listener(); });
  const auto lost = in_flight.get();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.kind(), ErrorKind::unknown_outcome) << lost.error().describe();
  first->gate.open();
  stopping.get();
  first.reset();

  // While it is down: not executed anywhere, so `transport`.
  const auto down = kv.call<KvService::Get>({"k"}, CallOptions{.timeout = 300ms, .retry = RetryPolicy::none()});
  EXPECT_EQ(down.kind(), ErrorKind::transport) << (down.ok() ? "ok" : down.error().describe());

  KvServer second(GetParam(), KvServer::base_options(), port);
  Result<AppendReply> after = RpcError{};
  ASSERT_TRUE(wait_until([&] {  // tcp reconnects once its backoff allows
    after = kv.call<KvService::Append>({"k", "after"}, CallOptions{.timeout = 1s});
    return after.ok();
  }, 5s));
  EXPECT_EQ(after->length, 1u);
}

TEST_P(EveryTransport, MissingOrWrongCredentialIsRefusedAndNothingRuns) {
  KvServer f(GetParam());
  Stub<KvService> wrong(f.channel("not-the-secret"));
  const auto r = wrong.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.kind(), ErrorKind::unauthenticated);
  EXPECT_NE(r.error().message.find("wrong credential"), std::string::npos) << r.error().message;
  Stub<KvService> none(f.channel(""));
  EXPECT_EQ(none.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()}).kind(), ErrorKind::unauthenticated);
  EXPECT_EQ(f.server.stats().refused_auth, 2u);
  EXPECT_EQ(f.server.stats().executed, 0u);
}

TEST_P(EveryTransport, GracefulShutdownDrainsInFlightCallsAndRefusesNewOnes) {
  KvServer f(GetParam());
  Stub<KvService> kv(f.channel());
  auto in_flight = kv.call_async<KvService::Sleep>({60'000});
  ASSERT_TRUE(wait_until([&] { return f.gate.waiting() == 1; }, 5s));
  auto drained = std::async(std::launch::async, [&] { return f.server.drain(10s); });
  ASSERT_TRUE(wait_until([&] { return f.server.draining(); }, 5s));
  const auto refused = kv.call<KvService::Get>({"k"}, CallOptions{.retry = RetryPolicy::none()});
  EXPECT_EQ(refused.kind(), ErrorKind::shutting_down);
  f.gate.open();
  EXPECT_TRUE(drained.get());
  const auto finished = in_flight.get();
  ASSERT_TRUE(finished.ok()) << finished.error().describe();
  EXPECT_EQ(f.server.in_flight(), 0u);
}

std::string name_of(Transport transport) { return transport_name(transport); }

INSTANTIATE_TEST_SUITE_P(Transports, EveryTransport, ::testing::Values(Transport::tcp, Transport::http),
                         [](const auto& info) { return name_of(info.param); });
INSTANTIATE_TEST_SUITE_P(TransportsAndCodecs, EveryTransportAndCodec,
                         ::testing::Combine(::testing::Values(Transport::tcp, Transport::http),
                                            ::testing::Values(Codec::json, Codec::msgpack)),
                         [](const auto& info) {
                           return name_of(std::get<0>(info.param)) + "_" + std::string(to_string(std::get<1>(info.param)));
                         });

}  // namespace
}  // namespace homestead::rpc::testing
