// Live snapshot benchmark (issue 10 item 4): what Chandy-Lamport snapshots cost a running
// cloud. Three cloudd members (fsync on) take KV puts from N clients. Every round runs the
// same load for the same time in each phase, the order alternating between rounds:
//   - without snapshots (the baseline);
//   - one snapshot at a time at an operator's rate: POST /api/v1/snapshots every
//     --interval-ms (default 1000), its gathered report (GET /api/v1/snapshots/{id}) polled
//     every --poll-ms until complete;
//   - back to back: the next snapshot is POSTed as soon as the last report says complete
//     (the worst case: dozens of snapshots a second);
//   - with --attribution, back to back again but polling only the initiator's own part
//     (GET .../{id}/local, no gathering): the difference is the report gathering's share.
// Prints every round's puts/s and cost (against the same round's baseline), the median and
// range of the per-round costs beside the target (< 5% while a snapshot runs), snapshots per
// second and completion times, and fails on any inconsistent report. Beside puts/s it prints
// the cloudd members' CPU per put against the baseline, which other load on a shared machine
// disturbs far less.
//
// Usage: snapshot_bench [--seconds N] [--rounds N] [--clients N] [--poll-ms N]
//                       [--interval-ms N] [--attribution] [--json FILE]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "tests/cloud/cloud_cluster.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace ct = homestead::cloud_testing;

struct Settings {
  double seconds = 2;
  int rounds = 8;
  int clients = 16;
  int poll_ms = 20;
  int interval_ms = 1000;
  bool attribution = false;
  std::string json_out;
};

enum class Mode { off, paced, back_to_back, own_part };

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::off: return "without snapshots";
    case Mode::paced: return "one snapshot per interval";
    case Mode::back_to_back: return "snapshots back to back";
    case Mode::own_part: return "back to back, own part polled";
  }
  return "?";
}

// CPU seconds (user + system) used so far by this bench's cloudd children, from
// /proc/<pid>/stat. Puts per CPU second is a second measure of the cost that other work on a
// shared machine disturbs far less than puts per wall-clock second: the snapshot work shows
// up as CPU spent per put, whatever else competes for the cores.
double cloudd_cpu_seconds() {
  const long ticks = sysconf(_SC_CLK_TCK);
  const std::string parent = std::to_string(getpid());
  double total = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!in || !std::getline(in, line)) continue;
    const auto close = line.rfind(')');
    const auto open = line.find('(');
    if (close == std::string::npos || open == std::string::npos) continue;
    if (line.substr(open + 1, close - open - 1) != "cloudd") continue;
    std::istringstream fields(line.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; fields >> x && f.size() < 13;) f.push_back(x);
    // Fields after the name: state(0) ppid(1) ... utime(11) stime(12).
    if (f.size() < 13 || f[1] != parent) continue;
    total += static_cast<double>(std::stoull(f[11]) + std::stoull(f[12])) / static_cast<double>(ticks);
  }
  return total;
}

struct Phase {
  std::uint64_t puts = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // the cloudd members' CPU over the phase
  std::vector<double> snapshot_ms;  // completion times of the snapshots in this phase
  std::uint64_t inconsistent = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(puts) / seconds : 0; }
  double puts_per_cpu_second() const { return cpu_seconds > 0 ? static_cast<double>(puts) / cpu_seconds : 0; }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Starts one snapshot on `client`'s member and polls its report until complete (or stop).
void run_one_snapshot(httplib::Client& client, const Settings& s, Mode mode, const std::atomic<bool>& stop,
                      Phase& phase) {
  const auto t0 = Clock::now();
  auto started = client.Post("/api/v1/snapshots");
  if (!started || started->status != 202) return;
  const std::string id = json::parse(started->body)["id"];
  const std::string path = "/api/v1/snapshots/" + id + (mode == Mode::own_part ? "/local" : "");
  while (!stop) {
    auto got = client.Get(path.c_str());
    if (got && got->status == 200) {
      const json report = json::parse(got->body);
      const bool complete = mode == Mode::own_part ? report["complete"].get<bool>() : report["status"] == "complete";
      if (complete) {
        phase.snapshot_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (mode != Mode::own_part && !report["consistency"]["consistent"].get<bool>()) ++phase.inconsistent;
        return;
      }
    }
    // An operator's poll of the report, part of the measured cost.
    std::this_thread::sleep_for(std::chrono::milliseconds(s.poll_ms));
  }
}

Phase run_phase(ct::CloudCluster& cluster, const Settings& s, Mode mode) {
  const int leader_port = cluster.http_port(cluster.wait_for_leader(20s));
  std::atomic<std::uint64_t> puts{0};
  std::atomic<bool> stop{false};
  Phase phase;
  std::vector<std::thread> threads;
  for (int c = 0; c < s.clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = ct::make_client(leader_port, cluster.token(), 10000);
      const std::string body = json{{"value", std::string(100, 'v')}}.dump();
      for (std::uint64_t i = 0; !stop; ++i) {
        const std::string path = "/api/v1/kv/bench/" + std::to_string(c) + "/" + std::to_string(i % 1000);
        auto r = client->Put(path.c_str(), body, "application/json");
        if (r && r->status == 200 && !stop) ++puts;
      }
    });
  }
  std::thread snapshotter;
  if (mode != Mode::off) {
    snapshotter = std::thread([&] {
      // Initiators rotate over the members (leader and followers alike).
      const auto ids = cluster.ids();
      std::vector<std::unique_ptr<httplib::Client>> clients;
      for (auto id : ids) clients.push_back(ct::make_client(cluster.http_port(id), cluster.token(), 10000));
      auto next = Clock::now();
      for (std::size_t n = 0; !stop; ++n) {
        if (mode == Mode::paced) {
          // Sleep in short steps so the phase ends on time.
          while (!stop && Clock::now() < next) std::this_thread::sleep_for(5ms);
          if (stop) break;
          next += std::chrono::milliseconds(s.interval_ms);
        }
        run_one_snapshot(*clients[n % clients.size()], s, mode, stop, phase);
      }
    });
  }
  const auto start = Clock::now();
  const double cpu_start = cloudd_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(s.seconds));
  phase.puts = puts.load();
  phase.cpu_seconds = cloudd_cpu_seconds() - cpu_start;
  phase.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& t : threads) t.join();
  if (snapshotter.joinable()) snapshotter.join();
  return phase;
}

void usage(std::ostream& out) {
  out << "Usage: snapshot_bench [--seconds N] [--rounds N] [--clients N] [--poll-ms N] [--interval-ms N]\n"
         "                      [--attribution] [--json FILE]\n"
         "Starts 3 cloudd (HOMESTEAD_BUILD_DIR/cloud/cloudd/cloudd, fsync on) and measures KV puts/s\n"
         "from --clients (16) clients in --rounds (8) rounds; each round runs every phase for --seconds (2),\n"
         "the order alternating: without snapshots, one snapshot per --interval-ms (1000), snapshots back\n"
         "to back, and with --attribution back to back polling the initiator's own part only (/local).\n"
         "Reports are polled every --poll-ms (20). Prints per-round puts/s and cost against the same\n"
         "round's baseline, the median and range, and the < 5% target. Exit 1 on an inconsistent report.\n";
}

struct Series {
  Mode mode;
  std::vector<double> rates;   // puts/s per round
  std::vector<double> costs;   // percent against the same round's baseline
  std::vector<double> cpu_costs;  // extra cloudd CPU per put, percent, against the same round's baseline
  Phase total;
};

int run_bench(const Settings& s) {
  ct::ClusterOptions options;
  options.members = 3;
  options.snapshot_entries = 100000;
  options.http_threads = 2 * s.clients + 32;
  ct::CloudCluster cluster(options);
  cluster.start_all();
  if (cluster.wait_for_leader(30s) == 0) {
    std::cerr << "snapshot_bench: no leader\n";
    return 1;
  }
  run_phase(cluster, Settings{1, 1, s.clients, s.poll_ms, s.interval_ms, false, ""}, Mode::off);  // warm-up
  std::vector<Series> series{{Mode::off, {}, {}, {}, {}}, {Mode::paced, {}, {}, {}, {}},
                             {Mode::back_to_back, {}, {}, {}, {}}};
  if (s.attribution) series.push_back({Mode::own_part, {}, {}, {}, {}});
  std::printf("%-6s", "round");
  for (const auto& x : series) std::printf(" %32s", mode_name(x.mode));
  std::printf("\n");
  for (int r = 0; r < s.rounds; ++r) {
    // Alternate the order so a drift over the run (other load on the machine, the log
    // growing) does not favour any phase.
    std::vector<std::size_t> order(series.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (r % 2 == 1) std::reverse(order.begin(), order.end());
    std::vector<double> rates(series.size()), per_cpu(series.size());
    for (std::size_t i : order) {
      cluster.wait_converged(30s);
      const Phase p = run_phase(cluster, s, series[i].mode);
      rates[i] = p.rate();
      per_cpu[i] = p.puts_per_cpu_second();
      Phase& total = series[i].total;
      total.puts += p.puts;
      total.seconds += p.seconds;
      total.cpu_seconds += p.cpu_seconds;
      total.snapshot_ms.insert(total.snapshot_ms.end(), p.snapshot_ms.begin(), p.snapshot_ms.end());
      total.inconsistent += p.inconsistent;
    }
    std::printf("%-6d", r + 1);
    for (std::size_t i = 0; i < series.size(); ++i) {
      series[i].rates.push_back(rates[i]);
      const double cost = 100.0 * (1.0 - rates[i] / rates[0]);
      const double cpu_cost = per_cpu[i] > 0 ? 100.0 * (per_cpu[0] / per_cpu[i] - 1.0) : 0;
      series[i].costs.push_back(cost);
      series[i].cpu_costs.push_back(cpu_cost);
      if (i == 0) {
        std::printf(" %10.0f puts/s %6.0f/cpu-s", rates[i], per_cpu[i]);
      } else {
        std::printf(" %8.0f (%+6.1f%%) cpu %+6.1f%%", rates[i], cost, cpu_cost);
      }
    }
    std::printf("\n");
    std::fflush(stdout);
  }

  std::printf("\nLive snapshot cost (3 cloudd, fsync on, loopback, %d clients putting 100 B values; %d rounds x %.1f s "
              "per phase, reports polled every %d ms)\n",
              s.clients, s.rounds, s.seconds, s.poll_ms);
  std::printf("%-32s %10s %10s %22s %14s %22s %12s %14s\n", "phase", "puts/s p50", "cost p50",
              "cost range (rounds)", "cpu/put p50", "cpu/put range", "snapshots/s", "complete p50");
  json out = json::object();
  std::uint64_t inconsistent = 0;
  for (const auto& x : series) {
    const double snapshots_per_s = static_cast<double>(x.total.snapshot_ms.size()) / x.total.seconds;
    inconsistent += x.total.inconsistent;
    if (x.mode == Mode::off) {
      std::printf("%-32s %10.0f\n", mode_name(x.mode), median(x.rates));
    } else {
      const auto [lo, hi] = std::minmax_element(x.costs.begin(), x.costs.end());
      const auto [cpu_lo, cpu_hi] = std::minmax_element(x.cpu_costs.begin(), x.cpu_costs.end());
      std::printf("%-32s %10.0f %9.1f%% %10.1f%% .. %6.1f%% %13.1f%% %10.1f%% .. %6.1f%% %12.1f %11.1f ms\n",
                  mode_name(x.mode), median(x.rates), median(x.costs), *lo, *hi, median(x.cpu_costs), *cpu_lo, *cpu_hi,
                  snapshots_per_s, percentile(x.total.snapshot_ms, 0.5));
    }
    out[mode_name(x.mode)] = {{"puts_per_s_rounds", x.rates},
                              {"puts_per_s_median", median(x.rates)},
                              {"cost_percent_rounds", x.costs},
                              {"cost_percent_median", median(x.costs)},
                              {"cpu_per_put_cost_percent_rounds", x.cpu_costs},
                              {"cpu_per_put_cost_percent_median", median(x.cpu_costs)},
                              {"cloudd_cpu_seconds", x.total.cpu_seconds},
                              {"snapshots", x.total.snapshot_ms.size()},
                              {"snapshots_per_s", snapshots_per_s},
                              {"completion_p50_ms", percentile(x.total.snapshot_ms, 0.5)},
                              {"completion_p99_ms", percentile(x.total.snapshot_ms, 0.99)},
                              {"inconsistent", x.total.inconsistent}};
  }
  for (const auto& x : series) {
    if (x.mode == Mode::off) continue;
    const double cost = median(x.costs);
    std::printf("target < 5%% while a snapshot runs, %-30s: median cost %5.1f%% -> %s (cloudd CPU per put %+.1f%%)\n",
                mode_name(x.mode), cost, cost < 5.0 ? "met" : "NOT met", median(x.cpu_costs));
  }
  std::printf("inconsistent reports: %llu\n", static_cast<unsigned long long>(inconsistent));
  out["target_percent"] = 5;
  out["poll_ms"] = s.poll_ms;
  out["interval_ms"] = s.interval_ms;
  out["inconsistent"] = inconsistent;
  if (!s.json_out.empty()) std::ofstream(s.json_out) << out.dump(2) << '\n';
  return inconsistent == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "snapshot_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--help" || a == "-h") {
        usage(std::cout);
        return 0;
      } else if (a == "--seconds") {
        s.seconds = std::stod(value());
      } else if (a == "--rounds") {
        s.rounds = std::stoi(value());
      } else if (a == "--clients") {
        s.clients = std::stoi(value());
      } else if (a == "--poll-ms") {
        s.poll_ms = std::stoi(value());
      } else if (a == "--interval-ms") {
        s.interval_ms = std::stoi(value());
      } else if (a == "--attribution") {
        s.attribution = true;
      } else if (a == "--json") {
        s.json_out = value();
      } else {
        std::cerr << "snapshot_bench: unknown argument '" << a << "'\n";
        usage(std::cerr);
        return 2;
      }
    } catch (const std::logic_error&) {
      std::cerr << "snapshot_bench: " << a << ": not a number\n";
      return 2;
    }
  }
  if (s.rounds < 1 || s.seconds <= 0 || s.clients < 1 || s.poll_ms < 0 || s.interval_ms < 0) {
    std::cerr << "snapshot_bench: --rounds, --seconds, --clients must be positive, --poll-ms and --interval-ms >= 0\n";
    return 2;
  }
  try {
    return run_bench(s);
  } catch (const std::exception& e) {
    std::cerr << "snapshot_bench: " << e.what() << "\n";  // caught so the cluster's destructor ran
    return 1;
  }
}
