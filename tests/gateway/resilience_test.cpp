// gatewayd under crashes and broker outages: kill -9 during a 1,000 msg/s ingest leaves a
// sound database with every reading the API had reported; a broker restart is survived by
// reconnecting and resubscribing, with the cache served (marked stale) meanwhile.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <mqtt/async_client.h>
#include <thread>

#include "tests/gateway/harness.h"

using namespace homestead::testing;
using nlohmann::json;

namespace {

std::string query_one(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return std::string("prepare: ") + sqlite3_errmsg(db);
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  return out;
}

}  // namespace

TEST(GatewayResilience, Kill9DuringIngestLosesNothingReported) {
  GatewayHarness h;
  h.start_gateway();
  // Subscribed before the load starts, so every report published can reach the gateway.
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/health")["broker"]["connected"] == true; }, 15s));
  // A publisher at ~1,000 state reports per second on the temperature sensor.
  mqtt::async_client publisher(h.broker().uri(), "load-publisher", mqtt::create_options(MQTTVERSION_3_1_1, 100000));
  mqtt::connect_options o;
  o.set_user_name(GatewayHarness::kDeviceUser);
  o.set_password(h.device_password());
  ASSERT_TRUE(publisher.connect(o)->wait_for(5s));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> published{0};
  std::thread load([&] {
    auto next = std::chrono::steady_clock::now();
    for (std::uint64_t seq = 1; !stop; ++seq) {
      const double t = 15.0 + static_cast<double>(seq % 400) / 10.0;
      const json report = {{"seq", seq}, {"ts", 1767225600000 + static_cast<std::int64_t>(seq)}, {"state", {{"temperature", t}}}};
      try {
        publisher.publish("homestead/t/temp/state", report.dump(), 1, false);
        published = seq;
      } catch (const mqtt::exception&) {
      }
      next += 1ms;  // pacing of the load generator, not synchronisation
      std::this_thread::sleep_until(next);
    }
  });
  // Watch what the API reports as stored; the last seq seen is what must survive.
  std::uint64_t reported_seq = 0;
  ASSERT_TRUE(wait_until([&] {
    auto r = h.get_json("/api/v1/devices/temp/readings?limit=1");
    if (r.is_object() && !r["readings"].empty()) reported_seq = r["readings"][0]["seq"].get<std::uint64_t>();
    return reported_seq >= 1500;
  }, 30s)) << h.context();
  h.kill9_gateway();
  stop = true;
  load.join();
  publisher.disconnect()->wait_for(5s);
  EXPECT_GT(published.load(), reported_seq);

  // The database as kill -9 left it: opens, passes integrity_check, holds the registry and
  // the reported reading.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((h.data_dir() / "gateway.db").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(query_one(db, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query_one(db, "SELECT count(*) FROM devices"), "3");
  EXPECT_EQ(query_one(db, "SELECT count(*) FROM readings WHERE device='temp' AND seq=" + std::to_string(reported_seq)), "1");
  const auto stored = std::stoull(query_one(db, "SELECT count(*) FROM readings WHERE device='temp'"));
  EXPECT_GE(stored, reported_seq);
  sqlite3_close(db);

  h.start_gateway();
  auto devices = h.get_json("/api/v1/devices");
  EXPECT_EQ(devices["devices"].size(), 3u);
  auto window = h.get_json("/api/v1/devices/temp/readings?limit=10000");
  bool found = false;
  for (const auto& r : window["readings"]) found = found || r["seq"] == reported_seq;
  EXPECT_TRUE(found) << "seq " << reported_seq << " missing after restart";
}

TEST(GatewayResilience, BrokerRestartReconnectsAndResubscribes) {
  GatewayHarness h;
  h.start_gateway();
  auto lamp = std::make_unique<FakeDevice>(h.broker().uri(), "t", "lamp", json{{"on", false}, {"brightness", 3}},
                                           GatewayHarness::kDeviceUser, h.device_password());
  ASSERT_TRUE(lamp->connect());
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/devices/lamp/state")["reported"]["brightness"] == 3; }, 15s))
      << h.context();

  h.broker().stop();
  // Outage: the API keeps serving the cached state, marked stale, and health says degraded.
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/health")["broker"]["connected"] == false; }, 15s));
  auto cached = h.get_json("/api/v1/devices/lamp/state");
  EXPECT_EQ(cached["reported"]["brightness"], 3);
  EXPECT_EQ(cached["stale"], true);
  EXPECT_EQ(cached["stale_reason"], "broker_link_down");
  EXPECT_EQ(h.get_json("/api/v1/health")["status"], "degraded");
  // A command during the outage waits instead of being lost.
  auto queued = h.request("POST", "/api/v1/devices/lamp/commands", R"({"command":"set_brightness","args":{"brightness":44}})");
  ASSERT_EQ(queued->status, 202);
  const auto command_id = json::parse(queued->body)["command_id"].get<std::string>();
  EXPECT_EQ(json::parse(queued->body)["status"], "pending");

  h.broker().start();
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/health")["broker"]["connected"] == true; }, 20s)) << h.context();
  EXPECT_EQ(h.metric("homestead_mqtt_connects_total"), 2);
  lamp = std::make_unique<FakeDevice>(h.broker().uri(), "t", "lamp", json{{"on", true}, {"brightness", 9}},
                                      GatewayHarness::kDeviceUser, h.device_password());
  ASSERT_TRUE(lamp->connect());
  // New reports arrive, so the subscriptions are back.
  EXPECT_TRUE(wait_until([&] { return h.get_json("/api/v1/devices/lamp/state")["reported"]["on"] == true; }, 15s))
      << h.context();
  auto done = h.get_json("/api/v1/commands/" + command_id + "?wait_ms=10000");
  EXPECT_EQ(done["status"], "acked") << done.dump();
  EXPECT_EQ(h.get_json("/api/v1/devices/lamp/state")["stale"], false);
}
