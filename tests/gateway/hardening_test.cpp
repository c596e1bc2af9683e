// gatewayd against hostile or heavy conditions, with a real Mosquitto and a real gatewayd:
// - slow clients (slowloris) that trickle headers cannot starve the REST API;
// - the broker link over TLS (ssl:// with a CA file), and a refused link with the wrong CA;
// - readings retention by size and by age, applied by the running daemon;
// - a broker that drops messages for a stuck subscriber: the drop counter reaches the
//   gateway's /metrics and /api/v1/health.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "tests/gateway/harness.h"

using namespace homestead::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool ping_served(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1s);
  c.set_read_timeout(2s);
  auto r = c.Get("/api/v1/ping");
  return r && r->status == 200;
}

// The gateway has subscribed once the device's first report (published at connect) shows
// in its state; reports published before that would reach it only as the retained last one.
bool first_report_seen(GatewayHarness& h, const std::string& device) {
  return wait_until([&] { return !h.get_json("/api/v1/devices/" + device + "/state")["reported"].is_null(); }, 20s);
}

json readings_of(GatewayHarness& h, const std::string& device) {
  return h.get_json("/api/v1/devices/" + device + "/readings?limit=10000")["readings"];
}

// Runs a shell command; fails the test with its output if it does not succeed.
void run_or_fail(const std::string& command, const std::filesystem::path& log) {
  const auto full = command + " >>" + log.string() + " 2>&1";
  if (std::system(full.c_str()) != 0) {
    std::ifstream in(log);
    FAIL() << "command failed: " << command << "\n" << std::string(std::istreambuf_iterator<char>(in), {});
  }
}

// A CA and a server certificate for 127.0.0.1 signed by it (EC P-256: fast to generate).
void make_ca_and_server_cert(const std::filesystem::path& dir, const std::string& ca_name) {
  const auto log = dir / "openssl.log";
  const auto p = [&](const char* f) { return (dir / f).string(); };
  run_or_fail("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=" +
                  ca_name + " -keyout " + p("ca.key") + " -out " + p("ca.crt"),
              log);
  run_or_fail("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 -keyout " +
                  p("server.key") + " -out " + p("server.csr"),
              log);
  std::ofstream(dir / "san.ext") << "subjectAltName=IP:127.0.0.1\n";
  run_or_fail("openssl x509 -req -days 2 -in " + p("server.csr") + " -CA " + p("ca.crt") + " -CAkey " + p("ca.key") +
                  " -CAcreateserial -extfile " + p("san.ext") + " -out " + p("server.crt"),
              log);
}

// A minimal MQTT 3.1.1 client on a raw socket: connects, subscribes at QoS 1 and then never
// reads or acks, so the broker's in-flight window and queue for it fill up.
class StuckSubscriber {
 public:
  StuckSubscriber(int port, const std::string& user, const std::string& password, const std::string& filter) {
    fd_ = connect_loopback(port);
    if (fd_ < 0) return;
    std::string body;
    append_string(body, "MQTT");
    body += '\x04';                // protocol level 3.1.1
    body += '\xC2';                // username, password, clean session
    body += std::string("\x00\x3C", 2);  // keepalive 60 s
    append_string(body, "stuck-subscriber");
    append_string(body, user);
    append_string(body, password);
    connected_ = send_all(fd_, packet('\x10', body)) && read_exactly(4) == std::string("\x20\x02\x00\x00", 4);
    std::string sub = std::string("\x00\x01", 2);
    append_string(sub, filter);
    sub += '\x01';
    subscribed_ = connected_ && send_all(fd_, packet('\x82', sub)) && read_exactly(5).substr(0, 1) == "\x90";
  }
  ~StuckSubscriber() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ready() const { return connected_ && subscribed_; }

 private:
  static void append_string(std::string& out, const std::string& s) {
    out += static_cast<char>(s.size() >> 8);
    out += static_cast<char>(s.size() & 0xff);
    out += s;
  }
  static std::string packet(char type, const std::string& body) {
    std::string out(1, type);
    auto len = body.size();
    do {
      char byte = static_cast<char>(len % 128);
      len /= 128;
      if (len > 0) byte = static_cast<char>(byte | 0x80);
      out += byte;
    } while (len > 0);
    return out + body;
  }
  std::string read_exactly(std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got < n) {
      const auto r = ::recv(fd_, out.data() + got, n - got, 0);
      if (r <= 0) return {};
      got += static_cast<std::size_t>(r);
    }
    return out;
  }
  int fd_ = -1;
  bool connected_ = false;
  bool subscribed_ = false;
};

}  // namespace

// Three times as many connections as workers each send a partial request and then one more
// header byte every 300 ms, below the 1.5 s read timeout, so httplib's per-read timeout
// never fires. Without the slow-client guard every worker stays taken and the ping below is
// never served; with it the stalled connections are closed and real requests get through.
TEST(GatewayHardening, SlowClientsCannotStarveTheRestApi) {
  constexpr int kWorkers = 6;
  GatewayHarness h(json{{"http", {{"threads", kWorkers}, {"read_timeout_ms", 1500}}}});
  h.start_gateway();
  ASSERT_TRUE(ping_served(h.http_port()));

  std::vector<int> slow;
  for (int i = 0; i < 3 * kWorkers; ++i) {
    const int fd = connect_loopback(h.http_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "GET /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
    slow.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> closed_by_server{0};
  std::thread trickler([&] {
    std::vector<bool> open(slow.size(), true);
    while (!stop) {
      for (std::size_t i = 0; i < slow.size(); ++i) {
        if (open[i] && !send_all(slow[i], "a")) {
          open[i] = false;
          ++closed_by_server;
        }
      }
      std::this_thread::sleep_for(300ms);  // the attack's pace, not synchronisation
    }
  });

  const bool served = wait_until([&] { return ping_served(h.http_port()); }, 30s);
  // The trickler notices a closed connection at its next send or the one after.
  const bool noticed = wait_until([&] { return closed_by_server.load() > 0; }, 10s);
  const int closed_while_attacked = closed_by_server.load();
  stop = true;
  trickler.join();
  for (int fd : slow) ::close(fd);

  EXPECT_TRUE(served) << "no request was served while slow clients held the workers\n" << h.context();
  EXPECT_TRUE(noticed);
  EXPECT_GT(closed_while_attacked, 0) << "the server never closed a trickling connection";
  EXPECT_GE(h.metric("homestead_http_slow_connections_closed_total"), 1);
  EXPECT_TRUE(h.gatewayd().running());
}

// Ordinary use never trips the guard: many quick requests over keep-alive connections,
// fewer connections than workers.
TEST(GatewayHardening, BusyButWellBehavedClientsAreNotClosed) {
  GatewayHarness h(json{{"http", {{"threads", 6}, {"read_timeout_ms", 1500}}}});
  h.start_gateway();
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", h.http_port());
      client.set_keep_alive(true);
      for (int i = 0; i < 200; ++i) {
        auto r = client.Get("/api/v1/ping");
        if (r && r->status == 200) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 800);
  EXPECT_EQ(h.metric("homestead_http_slow_connections_closed_total"), 0);
}

// gatewayd reaches the broker over TLS (ssl:// + mqtt.ca_file): device reports arrive and
// commands round-trip through the TLS link; with a CA that did not sign the broker's
// certificate the link is refused and health says so.
TEST(GatewayHardening, BrokerLinkOverTls) {
  TempDir certs("tls");
  make_ca_and_server_cert(certs.path(), "homestead-test-ca");
  TempDir other("tls-other");
  make_ca_and_server_cert(other.path(), "some-other-ca");
  if (::testing::Test::HasFatalFailure()) return;

  const int tls_port = free_tcp_port();
  MosquittoOptions broker;
  broker.extra_config = {"listener " + std::to_string(tls_port) + " 127.0.0.1",
                         "cafile " + (certs.path() / "ca.crt").string(),
                         "certfile " + (certs.path() / "server.crt").string(),
                         "keyfile " + (certs.path() / "server.key").string(), "tls_version tlsv1.2"};
  const auto tls_uri = "ssl://127.0.0.1:" + std::to_string(tls_port);
  GatewayHarness h(json{{"mqtt", {{"uri", tls_uri}, {"ca_file", (certs.path() / "ca.crt").string()}}}}, broker);
  FakeDevice lamp(h.broker().uri(), "t", "lamp", {{"on", false}, {"brightness", 0}}, GatewayHarness::kDeviceUser,
                  h.device_password());
  h.start_gateway();
  ASSERT_TRUE(lamp.connect());
  ASSERT_TRUE(first_report_seen(h, "lamp")) << h.context();
  EXPECT_EQ(h.get_json("/api/v1/health")["broker"]["connected"], true);
  lamp.publish_state({{"on", false}, {"brightness", 7}});
  ASSERT_TRUE(wait_until(
      [&] { return h.get_json("/api/v1/devices/lamp/state")["reported"].value("brightness", -1) == 7; }, 20s))
      << h.context();
  auto accepted = h.request("POST", "/api/v1/devices/lamp/commands",
                            json{{"command", "turn_on"}}.dump());
  ASSERT_TRUE(accepted && accepted->status == 202) << (accepted ? accepted->body : "no reply");
  const auto id = json::parse(accepted->body)["command_id"].get<std::string>();
  ASSERT_TRUE(wait_until([&] { return h.get_json("/api/v1/commands/" + id)["status"] == "acked"; }, 20s))
      << h.context();
  EXPECT_EQ(lamp.received_cmd_ids(), std::vector<std::string>{id});
  EXPECT_EQ(h.get_json("/api/v1/health")["broker"]["uri"], tls_uri);

  // The wrong CA: the handshake fails, the daemon keeps serving and reports the link down.
  h.stop_gateway();
  json bad = json::parse(std::ifstream(h.dir() / "gateway.json"));
  bad["mqtt"]["ca_file"] = (other.path() / "ca.crt").string();
  std::ofstream(h.dir() / "gateway.json") << bad.dump(2);
  h.start_gateway();
  ASSERT_TRUE(wait_until([&] { return h.gatewayd().log_tail(200).find("broker connect failed") != std::string::npos; },
                         20s))
      << h.context();
  const auto health = h.get_json("/api/v1/health");
  EXPECT_EQ(health["broker"]["connected"], false);
  EXPECT_EQ(health["status"], "degraded");
}

// Size retention: at most retention_max_rows readings stay, and they are the newest ones.
TEST(GatewayHardening, RetentionKeepsTheNewestRowsWithinTheLimit) {
  GatewayHarness h(json{{"storage", {{"retention_max_rows", 40}, {"retention_interval_ms", 100}}}});
  FakeDevice temp(h.broker().uri(), "t", "temp", {{"temperature", 20.0}}, GatewayHarness::kDeviceUser,
                  h.device_password());
  h.start_gateway();
  ASSERT_TRUE(temp.connect());  // publishes seq 1
  ASSERT_TRUE(first_report_seen(h, "temp")) << h.context();
  for (int i = 2; i <= 120; ++i) temp.publish_state({{"temperature", 20.0 + i / 10.0}});
  ASSERT_TRUE(wait_until([&] { return h.metric("homestead_readings_stored_total") >= 120; }, 20s))
      << h.request("GET", "/metrics")->body << h.context();
  std::set<std::int64_t> seqs;
  const bool trimmed = wait_until(
      [&] {
        seqs.clear();
        for (const auto& r : readings_of(h, "temp")) seqs.insert(r["seq"].get<std::int64_t>());
        return !seqs.empty() && *seqs.rbegin() == 120 && seqs.size() <= 40;
      },
      20s);
  ASSERT_TRUE(trimmed) << "readings: " << seqs.size() << "\n" << h.context();
  // Exactly the newest ones, no gap: the oldest kept is 120 - size + 1.
  EXPECT_EQ(*seqs.begin(), 120 - static_cast<std::int64_t>(seqs.size()) + 1);
}

// Age retention: readings older than retention_max_age_s are deleted by the running daemon.
TEST(GatewayHardening, RetentionDeletesReadingsOlderThanTheMaxAge) {
  GatewayHarness h(json{{"storage", {{"retention_max_age_s", 1}, {"retention_interval_ms", 100}}}});
  FakeDevice temp(h.broker().uri(), "t", "temp", {{"temperature", 20.0}}, GatewayHarness::kDeviceUser,
                  h.device_password());
  h.start_gateway();
  ASSERT_TRUE(temp.connect());
  ASSERT_TRUE(first_report_seen(h, "temp")) << h.context();
  for (int i = 2; i <= 20; ++i) temp.publish_state({{"temperature", 20.0 + i}});
  ASSERT_TRUE(wait_until([&] { return h.metric("homestead_readings_stored_total") >= 20; }, 20s)) << h.context();
  ASSERT_TRUE(wait_until([&] { return readings_of(h, "temp").empty(); }, 20s))
      << readings_of(h, "temp").size() << " readings left\n" << h.context();
  // The state cache keeps the last value: retention trims history, not the device's state.
  EXPECT_EQ(h.get_json("/api/v1/devices/temp/state")["reported"]["temperature"], 40.0);
}

// Mosquitto drops QoS 1 messages for a subscriber whose in-flight window and queue are full
// (QoS 1 does not protect a lagging subscriber); the gateway reads $SYS and reports it.
TEST(GatewayHardening, BrokerDropsAreReportedInMetricsAndHealth) {
  MosquittoOptions broker;
  broker.max_inflight_messages = 2;
  broker.max_queued_messages = 5;
  broker.extra_config = {"sys_interval 1"};
  GatewayHarness h(json::object(), broker);
  FakeDevice temp(h.broker().uri(), "t", "temp", {{"temperature", 20.0}}, GatewayHarness::kDeviceUser,
                  h.device_password());
  h.start_gateway();
  ASSERT_TRUE(temp.connect());
  ASSERT_TRUE(first_report_seen(h, "temp")) << h.context();
  EXPECT_EQ(h.metric("homestead_broker_messages_dropped"), 0);

  StuckSubscriber stuck(h.broker().port(), GatewayHarness::kDeviceUser, h.device_password(), "homestead/t/temp/#");
  ASSERT_TRUE(stuck.ready()) << h.broker().log_tail();
  for (int i = 2; i <= 40; ++i) temp.publish_state({{"temperature", 20.0 + i / 10.0}});

  ASSERT_TRUE(wait_until([&] { return h.metric("homestead_broker_messages_dropped") >= 1; }, 20s))
      << "the broker's drop counter never reached the gateway\n" << h.context();
  EXPECT_GE(h.get_json("/api/v1/health")["broker"]["messages_dropped"].get<double>(), 1);
  // The gateway itself still gets the device's reports. (The burst above can overflow the
  // gateway's own queue too on a loaded machine - the limits are the broker's, for every
  // subscriber - so the last burst value may be dropped for it as well: a fresh report is
  // sent until the gateway shows it; the stuck subscriber's queue stays full throughout.)
  ASSERT_TRUE(wait_until(
      [&] {
        temp.publish_state({{"temperature", 30.0}});
        return h.get_json("/api/v1/devices/temp/state")["reported"]["temperature"] == 30.0;
      },
      20s, 200ms))
      << h.context();
}
