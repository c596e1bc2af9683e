// firmware-sim with N devices (default 500), each reporting once a second at QoS 1 through a
// real Mosquitto into one subscriber (standing in for the gateway). Measures CPU (% of one
// core, from /proc/<pid>/stat utime+stime over the window) and peak RSS (VmHWM) of
// firmware-sim and of the broker, and the report rate the subscriber sees.
// Targets (issue 3): firmware-sim < 25 % of one core and < 64 MB RSS for 500 devices.
// Anchor (DESIGN.md section 5): 500 Paho clients at QoS 1 cost ~16 % of a core here.
// Afterwards: 200 sequential command -> ack round trips to one plug while the fleet reports.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <mqtt/async_client.h>

#include <algorithm>
#include <future>

#include "devices/catalog.h"
#include "devices/payloads.h"
#include "firmware-sim/socket_tuning.h"
#include "devices/topics.h"
#include "tests/firmware-sim/mqtt_observer.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/process.h"

using namespace homestead;
using namespace std::chrono_literals;

namespace {

struct Usage {
  double cpu_s = 0;
  long rss_kb = 0;
  long hwm_kb = 0;
};

Usage usage_of(pid_t pid) {
  Usage u;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  // Fields after the ")" that ends the command name; utime and stime are 14th and 15th overall.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  u.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss_kb = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) u.hwm_kb = std::stol(line.substr(6));
  }
  return u;
}

// Command -> ack round trips to one plug (zero actuation latency) while the fleet keeps
// reporting: shows TCP_NODELAY at work (DESIGN.md: 88 ms with Nagle, 0.24 ms without).
std::vector<double> command_round_trips(const std::string& uri, const std::string& password, int devices_n,
                                        const std::string& client_id) {
  const auto& kinds = devices::all_kinds();
  int plug = 0;
  while (plug < devices_n && kinds[static_cast<std::size_t>(plug) % kinds.size()].kind != devices::Kind::plug) ++plug;
  if (plug >= devices_n) return {};
  const std::string device = "d" + std::to_string(plug);
  mqtt::async_client client(uri, client_id, mqtt::create_options(MQTTVERSION_3_1_1));
  std::mutex mutex;
  std::string waiting_for;
  std::promise<void> arrived;
  client.set_message_callback([&](mqtt::const_message_ptr m) {
    std::lock_guard lock(mutex);
    if (!waiting_for.empty() && m->get_payload_str().find("\"" + waiting_for + "\"") != std::string::npos) {
      waiting_for.clear();
      arrived.set_value();
    }
  });
  client.connect(mqtt::connect_options_builder().user_name("gateway").password(password).clean_session(true).finalize())->wait();
  client.subscribe(devices::device_topic("bench", device, devices::Channel::ack), 1)->wait();
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) {
    const std::string id = "rtt-" + std::to_string(i);
    std::future<void> done;
    {
      std::lock_guard lock(mutex);
      arrived = std::promise<void>();
      done = arrived.get_future();
      waiting_for = id;
    }
    const auto t0 = std::chrono::steady_clock::now();
    client.publish(devices::device_topic("bench", device, devices::Channel::cmd),
                   devices::encode(devices::Command{id, i % 2 ? "turn_on" : "turn_off", nlohmann::json::object()}), 1, false);
    if (done.wait_for(5s) != std::future_status::ready) continue;
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  client.disconnect()->wait();
  std::sort(ms.begin(), ms.end());
  return ms;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return -1;
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
}

const char* kUsage = R"(Usage: firmware_sim_bench [--devices N] [--seconds S] [--json FILE]
Runs firmware-sim with N devices (default 500) reporting once a second through a real
Mosquitto for S seconds (default 20) and prints CPU and RSS of both, with the targets.
Needs HOMESTEAD_BUILD_DIR (the build with firmware-sim).
)";

}  // namespace

int main(int argc, char** argv) {
  int devices_n = 500, seconds = 20;
  std::string json_out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--devices" && i + 1 < argc) {
      devices_n = std::atoi(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::cerr << "firmware_sim_bench: unknown or incomplete option '" << a << "'\n" << kUsage;
      return 2;
    }
  }
  if (devices_n < 1 || devices_n > 900 || seconds < 5) {
    std::cerr << "firmware_sim_bench: --devices must be 1..900 (one socket each, select() limit) and --seconds >= 5\n";
    return 2;
  }
  testing::TempDir dir("firmware-sim-bench");
  // A home of N devices, cycling through every kind, 25 per room.
  nlohmann::json home = {{"home", "bench"}, {"rooms", nlohmann::json::array()}, {"devices", nlohmann::json::array()}};
  nlohmann::json creds = nlohmann::json::object();
  testing::MosquittoBroker broker;
  const auto kinds = devices::all_kinds();
  for (int i = 0; i < devices_n; ++i) {
    if (i % 25 == 0) home["rooms"].push_back({{"id", "room" + std::to_string(i / 25)}, {"floor", 0}});
    const auto& kind = kinds[static_cast<std::size_t>(i) % kinds.size()];
    const std::string id = "d" + std::to_string(i);
    home["devices"].push_back({{"id", id}, {"kind", kind.name}, {"room", "room" + std::to_string(i / 25)}});
    const std::string pw = testing::MosquittoBroker::random_password();
    creds[id] = pw;
    std::vector<testing::BrokerAclEntry> acl;
    for (const auto& rule : devices::device_acl("bench", id, kind.home_assistant.component)) {
      acl.push_back({std::string(devices::access_name(rule.access)), rule.topic});
    }
    broker.add_user(id, pw, acl);
  }
  const std::string observer_pw = testing::MosquittoBroker::random_password();
  broker.add_user("gateway", observer_pw, {{"readwrite", "homestead/#"}});
  std::ofstream(dir / "home.json") << home.dump();
  {
    std::ofstream out(dir / "creds.json");
    out << creds.dump();
  }
  ::chmod((dir / "creds.json").c_str(), 0600);
  broker.start();
  testing::MqttObserver gateway(broker.uri(), "gateway", "gateway", observer_pw, {"homestead/+/+/state"});

  const int control_port = testing::free_tcp_port();
  testing::ProcessOptions opts;
  opts.executable = testing::build_path("firmware-sim/firmware-sim").string();
  opts.args = {"--home", (dir / "home.json").string(), "--broker", "127.0.0.1:" + std::to_string(broker.port()), "--credentials",
               (dir / "creds.json").string(), "--report-interval-ms", "1000", "--latency", "zero", "--summary-interval-ms", "5000",
               "--control-port", std::to_string(control_port), "--control-token-file", (dir / "token").string()};
  opts.log_file = dir / "firmware-sim.log";
  const auto t0 = std::chrono::steady_clock::now();
  testing::ChildProcess sim(std::move(opts));
  // Online = every device's first report has reached the subscriber.
  const bool online = testing::wait_until(
      [&] {
        std::set<std::string> seen;
        for (const auto& m : gateway.all()) seen.insert(m.topic);
        return static_cast<int>(seen.size()) >= devices_n;
      },
      120s, 100ms);
  const double online_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!online) {
    std::cerr << "not every device reported within 120 s; log:\n" << sim.log_tail() << "\n";
    return 1;
  }
  // Let connect-time work settle, then measure a steady window.
  std::this_thread::sleep_for(2s);  // a benchmark warm-up, not test synchronisation
  const Usage sim0 = usage_of(sim.pid()), broker0 = usage_of(broker.pid());
  const std::size_t msgs0 = gateway.all().size();
  const auto w0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const Usage sim1 = usage_of(sim.pid()), broker1 = usage_of(broker.pid());
  const std::size_t msgs1 = gateway.all().size();
  // The commanding client first as Paho leaves it (Nagle on), then with TCP_NODELAY set the
  // way firmware-sim sets it (firmware-sim/socket_tuning.h) - what a gateway must do too.
  const auto rtt_nagle = command_round_trips(broker.uri(), observer_pw, devices_n, "bench-rtt-nagle");
  firmware::PahoSockets::install();
  const auto rtt = command_round_trips(broker.uri(), observer_pw, devices_n, "bench-rtt-nodelay");
  sim.stop();

  const double sim_cpu = 100.0 * (sim1.cpu_s - sim0.cpu_s) / window;
  const double broker_cpu = 100.0 * (broker1.cpu_s - broker0.cpu_s) / window;
  const double sim_rss_mb = sim1.hwm_kb / 1024.0, broker_rss_mb = broker1.hwm_kb / 1024.0;
  const double rate = static_cast<double>(msgs1 - msgs0) / window;
  std::printf("firmware-sim bench: %d devices, 1 report/s each, QoS 1, one subscriber, %.0f s window\n", devices_n, window);
  std::printf("  all devices reporting after     %8.1f s\n", online_s);
  std::printf("  reports received by subscriber  %8.0f /s   (expected %d /s)\n", rate, devices_n);
  std::printf("  %-30s %8.1f %% of one core   target < 25 %%   anchor: 500 Paho clients ~16 %%   ratio to target %.2f\n",
              "firmware-sim CPU", sim_cpu, sim_cpu / 25.0);
  std::printf("  %-30s %8.1f MB peak RSS      target < 64 MB   ratio to target %.2f\n", "firmware-sim RSS", sim_rss_mb,
              sim_rss_mb / 64.0);
  std::printf("  %-30s %8.1f %% of one core\n", "mosquitto CPU", broker_cpu);
  std::printf("  %-30s %8.1f MB peak RSS      anchor: Mosquitto runs in ~1-2 MB idle\n", "mosquitto RSS", broker_rss_mb);
  const double rtt_p50 = percentile(rtt, 0.5), rtt_p99 = percentile(rtt, 0.99);
  std::printf("  %-30s %8.2f ms p50, %.2f ms p99 (%zu/200 acked)   anchor: 0.24 ms with TCP_NODELAY on both ends\n",
              "command -> ack, NODELAY client", rtt_p50, rtt_p99, rtt.size());
  std::printf("  %-30s %8.2f ms p50, %.2f ms p99 (%zu/200 acked)   anchor: 88 ms with Nagle\n", "command -> ack, Nagle client",
              percentile(rtt_nagle, 0.5), percentile(rtt_nagle, 0.99), rtt_nagle.size());
  const bool met = sim_cpu < 25.0 && sim_rss_mb < 64.0;
  std::printf("  targets %s\n", met ? "MET" : "NOT MET");
  const nlohmann::json result = {{"bench", "firmware-sim"},        {"devices", devices_n},          {"window_s", window},
                                 {"online_s", online_s},           {"reports_per_s", rate},         {"sim_cpu_pct", sim_cpu},
                                 {"sim_rss_mb", sim_rss_mb},       {"broker_cpu_pct", broker_cpu},  {"broker_rss_mb", broker_rss_mb},
                                 {"rtt_nagle_client_p50_ms", percentile(rtt_nagle, 0.5)}, {"rtt_p50_ms", rtt_p50},          {"rtt_p99_ms", rtt_p99},         {"target_sim_cpu_pct", 25},       {"target_sim_rss_mb", 64},       {"targets_met", met}};
  std::cout << result.dump() << "\n";
  if (!json_out.empty()) std::ofstream(json_out) << result.dump(2) << "\n";
  return 0;
}
