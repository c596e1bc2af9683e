// Unit tests of gatewayd's pure parts: config, ingest + state cache, command tracker,
// auth helpers, metrics, Mosquitto password hashing.
#include <gtest/gtest.h>

#include "common/config/config.h"
#include "devices/catalog.h"
#include "devices/payloads.h"
#include "gateway/auth.h"
#include "gateway/command_tracker.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/provisioning.h"
#include "gateway/state_cache.h"

namespace hg = homestead::gateway;
namespace hd = homestead::devices;

TEST(GatewayConfig, EmptyObjectGivesDefaults) {
  const auto c = hg::parse_gateway_config("{}");
  EXPECT_EQ(c.mqtt.uri, "tcp://127.0.0.1:1883");
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.storage.batch_max_rows, 5000);
  EXPECT_EQ(c.db_path(), std::filesystem::path("/var/lib/homestead/gateway.db"));
  EXPECT_FALSE(c.provisioning.enabled);
  EXPECT_TRUE(c.cloud.shared_devices.empty());
  EXPECT_EQ(c.cloud.lease_ttl_ms, 10000);
  EXPECT_EQ(c.cloud.lease_deadline_ms, 2000);
}

TEST(GatewayConfig, BadFieldIsNamed) {
  try {
    hg::parse_gateway_config(R"({"http": {"port": "abc"}})", "gw.json");
    FAIL() << "no error";
  } catch (const homestead::config::ConfigError& e) {
    EXPECT_EQ(e.field(), "http.port");
    EXPECT_NE(std::string(e.what()).find("gw.json: field 'http.port'"), std::string::npos) << e.what();
  }
  try {
    hg::parse_gateway_config(R"({"mqtt": {"urii": "tcp://x:1"}})");
    FAIL() << "no error";
  } catch (const homestead::config::ConfigError& e) {
    EXPECT_EQ(e.field(), "mqtt.urii");
  }
  try {
    hg::parse_gateway_config(R"({"provisioning": {"enabled": true, "password_file": "/p"}})");
    FAIL() << "no error";
  } catch (const homestead::config::ConfigError& e) {
    EXPECT_EQ(e.field(), "provisioning.acl_file");
  }
  try {
    hg::parse_gateway_config(R"({"cloud": {"shared_devices": ["living_light"]}})");
    FAIL() << "no error";
  } catch (const homestead::config::ConfigError& e) {
    EXPECT_EQ(e.field(), "cloud.shared_devices");
  }
  try {
    hg::parse_gateway_config(R"({"cloud": {"lease_ttl_ms": 5}})");
    FAIL() << "no error";
  } catch (const homestead::config::ConfigError& e) {
    EXPECT_EQ(e.field(), "cloud.lease_ttl_ms");
  }
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache.add_device("lamp", *hd::find_kind("light"));
    cache.add_device("temp", *hd::find_kind("temperature"));
  }
  hg::StateCache cache{"h1"};
};

TEST_F(CacheTest, StateReportUpdatesCacheAndYieldsReading) {
  auto r = cache.ingest("homestead/h1/lamp/state", R"({"seq":7,"ts":1000,"state":{"on":true,"brightness":80}})", 5000);
  ASSERT_EQ(r.kind, hg::IngestResult::Kind::state);
  ASSERT_TRUE(r.reading);
  EXPECT_EQ(r.reading->device, "lamp");
  EXPECT_EQ(r.reading->seq, 7u);
  EXPECT_EQ(r.reading->received_ms, 5000);
  const auto* s = cache.find("lamp");
  EXPECT_EQ(s->reported["brightness"], 80);
  EXPECT_EQ(s->version, 1u);
  EXPECT_EQ(s->last_seen_ms, 5000);
  // The same state again does not bump the version.
  cache.ingest("homestead/h1/lamp/state", R"({"seq":8,"ts":1001,"state":{"on":true,"brightness":80}})", 6000);
  EXPECT_EQ(cache.find("lamp")->version, 1u);
  EXPECT_EQ(cache.find("lamp")->seq, 8u);
}

TEST_F(CacheTest, RejectionsNameTheReason) {
  EXPECT_EQ(cache.ingest("homestead/h1/lamp/state", "not json", 1).rejection, hg::Rejection::not_json);
  auto schema = cache.ingest("homestead/h1/lamp/state", R"({"seq":1,"ts":1,"state":{"on":true,"brightness":300}})", 1);
  EXPECT_EQ(schema.rejection, hg::Rejection::schema);
  EXPECT_NE(schema.detail.find("state.brightness"), std::string::npos) << schema.detail;
  EXPECT_EQ(cache.ingest("homestead/h1/ghost/state", "{}", 1).rejection, hg::Rejection::unknown_device);
  EXPECT_EQ(cache.ingest("homestead/other/lamp/state", "{}", 1).rejection, hg::Rejection::topic);
  EXPECT_EQ(cache.ingest("homestead/h1/lamp/status", "maybe", 1).rejection, hg::Rejection::status_payload);
  EXPECT_TRUE(cache.find("lamp")->reported.is_null());  // nothing rejected got in
}

TEST_F(CacheTest, StatusAndStaleness) {
  auto r = cache.ingest("homestead/h1/temp/status", "online", 100);
  EXPECT_TRUE(r.send_waiting);
  EXPECT_FALSE(cache.ingest("homestead/h1/temp/status", "online", 101).send_waiting);
  cache.ingest("homestead/h1/temp/status", "offline", 102);
  EXPECT_EQ(cache.find("temp")->online, false);
  cache.ingest("homestead/h1/temp/state", R"({"seq":1,"ts":1,"state":{"temperature":21.5}})", 1000);
  auto fresh = hg::state_json(*cache.find("temp"), 1500, 1000, true);
  EXPECT_EQ(fresh["stale"], false);
  EXPECT_EQ(fresh["age_ms"], 500);
  EXPECT_EQ(hg::state_json(*cache.find("temp"), 2500, 1000, true)["stale_reason"], "silent");
  EXPECT_EQ(hg::state_json(*cache.find("temp"), 1500, 1000, false)["stale_reason"], "broker_link_down");
}

// After the broker link drops, a device known online takes no commands until it is heard from
// again: a restarted broker lost its session, and a command published before it resubscribed
// would be lost.
TEST_F(CacheTest, ALinkLossHoldsCommandsUntilTheDeviceIsHeardAgain) {
  cache.ingest("homestead/h1/temp/status", "online", 100);
  cache.ingest("homestead/h1/lamp/status", "online", 100);
  EXPECT_TRUE(hg::accepts_commands(*cache.find("lamp")));
  cache.link_lost();
  EXPECT_FALSE(hg::accepts_commands(*cache.find("lamp")));
  EXPECT_FALSE(hg::accepts_commands(*cache.find("temp")));
  EXPECT_EQ(cache.find("lamp")->online, true);  // what the API shows does not change

  // The status message announcing it again (retained or fresh) lets the waiting commands go.
  auto again = cache.ingest("homestead/h1/lamp/status", "online", 200);
  EXPECT_TRUE(again.send_waiting);
  EXPECT_TRUE(hg::accepts_commands(*cache.find("lamp")));
  EXPECT_FALSE(cache.ingest("homestead/h1/lamp/status", "online", 201).send_waiting);

  // A report proves it connected too (firmware announces "online" without retain).
  auto report = cache.ingest("homestead/h1/temp/state", R"({"seq":1,"ts":1,"state":{"temperature":20.0}})", 300);
  EXPECT_TRUE(report.send_waiting);
  EXPECT_TRUE(hg::accepts_commands(*cache.find("temp")));
  EXPECT_FALSE(cache.ingest("homestead/h1/temp/state", R"({"seq":2,"ts":2,"state":{"temperature":20.5}})", 301).send_waiting);

  // A device that was offline stays offline until it says otherwise.
  cache.ingest("homestead/h1/lamp/status", "offline", 400);
  cache.link_lost();
  EXPECT_FALSE(cache.ingest("homestead/h1/lamp/state", R"({"seq":3,"ts":3,"state":{"on":true,"brightness":1}})", 500).send_waiting);
  EXPECT_FALSE(hg::accepts_commands(*cache.find("lamp")));
}

TEST_F(CacheTest, AckMergesStateIntoReported) {
  cache.ingest("homestead/h1/lamp/state", R"({"seq":1,"ts":1,"state":{"on":false,"brightness":0}})", 10);
  auto r = cache.ingest("homestead/h1/lamp/ack", R"({"cmd_id":"c1","result":"ok","state":{"on":true,"brightness":90},"ts":2})", 20);
  ASSERT_EQ(r.kind, hg::IngestResult::Kind::ack);
  EXPECT_EQ(r.ack->cmd_id, "c1");
  EXPECT_EQ(cache.find("lamp")->reported["brightness"], 90);
}

hg::CommandRecord command(const std::string& id, const std::string& device, std::int64_t created, std::int64_t expires) {
  hg::CommandRecord c;
  c.id = id;
  c.device = device;
  c.command = "turn_on";
  c.created_ms = created;
  c.expires_ms = expires;
  return c;
}

TEST(CommandTracker, PendingSentAcked) {
  hg::CommandTracker t;
  t.track(command("a", "lamp", 1, 100));
  t.track(command("b", "lamp", 2, 100));
  t.track(command("c", "lock", 3, 100));
  auto sendable = t.sendable("lamp");
  ASSERT_EQ(sendable.size(), 2u);
  EXPECT_EQ(sendable[0].id, "a");
  auto sent = t.mark_sent("a", 10);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->status, hg::CommandStatus::sent);
  EXPECT_FALSE(t.mark_sent("a", 11));  // not twice
  hd::Ack ack;
  ack.cmd_id = "a";
  EXPECT_FALSE(t.on_ack("lock", ack, 12));  // only the addressed device settles it
  auto done = t.on_ack("lamp", ack, 12);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, hg::CommandStatus::acked);
  EXPECT_EQ(done->acked_ms, 12);
  hd::Ack err;
  err.cmd_id = "b";
  err.ok = false;
  err.reason = "jammed";
  auto failed = t.on_ack("lamp", err, 13);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, hg::CommandStatus::failed);
  EXPECT_EQ(failed->reason, "jammed");
  EXPECT_EQ(t.open_count(), 1u);
}

TEST(CommandTracker, ExpiryNamesWhetherItWasSent) {
  hg::CommandTracker t;
  t.track(command("a", "lamp", 1, 50));
  t.track(command("b", "lamp", 2, 60));
  t.track(command("c", "lamp", 3, 500));
  t.mark_sent("b", 5);
  EXPECT_TRUE(t.expire(49).empty());
  auto out = t.expire(60);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, "a");
  EXPECT_EQ(out[0].status, hg::CommandStatus::expired);
  EXPECT_NE(out[0].reason.find("before it could be sent"), std::string::npos);
  EXPECT_NE(out[1].reason.find("no ack"), std::string::npos);
  EXPECT_EQ(t.open_count(), 1u);
  auto dropped = t.drop_device("lamp", 70);
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].reason, "device deleted");
}

TEST(Auth, TokensAreRandomAndChecked) {
  const auto a = hg::generate_token();
  const auto b = hg::generate_token();
  EXPECT_EQ(a.size(), 4u + 64u);  // hst_ + 256 bits hex
  EXPECT_NE(a, b);
  // Known vector: SHA-256("abc").
  EXPECT_EQ(hg::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  hg::TokenTable table;
  table.add({"admin", hg::sha256_hex(a), hg::Scope::admin, 0});
  table.add({"viewer", hg::sha256_hex(b), hg::Scope::read, 0});
  EXPECT_EQ(table.check(a), hg::Scope::admin);
  EXPECT_EQ(table.check(b), hg::Scope::read);
  EXPECT_FALSE(table.check(a.substr(0, a.size() - 1) + (a.back() == '0' ? "1" : "0")));  // one hex digit off
  EXPECT_FALSE(table.check(""));
  EXPECT_TRUE(hg::constant_time_equal("abc", "abc"));
  EXPECT_FALSE(hg::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(hg::constant_time_equal("abc", "abcd"));
}

TEST(Metrics, RendersPrometheusText) {
  hg::Metrics m;
  m.add("homestead_mqtt_rejected_total", "reason=\"schema\"");
  m.add("homestead_mqtt_rejected_total", "reason=\"schema\"");
  m.observe_db_write(0.0003);
  const auto text = m.render();
  EXPECT_NE(text.find("homestead_mqtt_rejected_total{reason=\"schema\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE homestead_db_write_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("homestead_db_write_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("homestead_db_write_seconds_bucket{le=\"0.00025\"} 0\n"), std::string::npos);
  EXPECT_THROW(m.add("homestead_typo_total"), std::logic_error);
}

TEST(Provisioning, MosquittoHashFormat) {
  // PBKDF2-HMAC-SHA512, 101 iterations, salt "saltsaltsalt": the layout mosquitto_passwd
  // writes; the integration test proves the broker accepts it.
  const auto h = hg::mosquitto_password_hash("secret", "saltsaltsalt");
  EXPECT_EQ(h.rfind("$7$101$c2FsdHNhbHRzYWx0$", 0), 0u) << h;
  EXPECT_EQ(h.size(), std::string("$7$101$c2FsdHNhbHRzYWx0$").size() + 88);
  EXPECT_NE(hg::mosquitto_password_hash("secret"), hg::mosquitto_password_hash("secret"));  // random salt
}
