// Live snapshot benchmark (issue 10 item 4): what Chandy-Lamport snapshots cost a running
// cloud. Three cloudd members (fsync on) take KV puts from N clients; the run alternates
// phases without snapshots and phases where snapshots run back to back (POST
// /api/v1/snapshots, then GET /api/v1/snapshots/{id} until complete, then the next one).
// Prints puts/s for both, the cost in percent beside the target (< 5%), and how long a
// snapshot took to complete. To attribute the cost, a third phase runs the same snapshots
// but polls only the initiator's own part (GET .../{id}/local, no gathering from every
// member): the difference between the two snapshot phases is the report gathering's share.
//
// Usage: snapshot_bench [--seconds N] [--rounds N] [--clients N] [--poll-ms N] [--json FILE]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/cloud/cloud_cluster.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace ct = homestead::cloud_testing;

struct Settings {
  double seconds = 3;
  int rounds = 3;
  int clients = 16;
  int poll_ms = 20;
  std::string json_out;
};

struct Phase {
  std::uint64_t puts = 0;
  double seconds = 0;
  std::vector<double> snapshot_ms;  // completion times of the snapshots in this phase
  std::uint64_t inconsistent = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

enum class Mode { off, gathered, local_only };

Phase run_phase(ct::CloudCluster& cluster, const Settings& s, Mode mode) {
  const bool snapshots = mode != Mode::off;
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
  if (snapshots) {
    snapshotter = std::thread([&] {
      const auto ids = cluster.ids();
      for (std::size_t n = 0; !stop; ++n) {
        const std::uint64_t member = ids[n % ids.size()];
        auto client = ct::make_client(cluster.http_port(member), cluster.token(), 10000);
        const auto t0 = Clock::now();
        auto started = client->Post("/api/v1/snapshots");
        if (!started || started->status != 202) continue;
        const std::string id = json::parse(started->body)["id"];
        const std::string path = "/api/v1/snapshots/" + id + (mode == Mode::local_only ? "/local" : "");
        while (!stop) {
          auto got = client->Get(path.c_str());
          if (got && got->status == 200) {
            const json report = json::parse(got->body);
            if (mode == Mode::local_only) {
              if (report["complete"].get<bool>()) {
                phase.snapshot_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
                break;
              }
            } else if (report["status"] == "complete") {
              phase.snapshot_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
              if (!report["consistency"]["consistent"].get<bool>()) ++phase.inconsistent;
              break;
            }
          }
          // An operator's poll of the report, part of the measured cost.
          std::this_thread::sleep_for(std::chrono::milliseconds(s.poll_ms));
        }
      }
    });
  }
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(s.seconds));
  phase.puts = puts.load();
  phase.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& t : threads) t.join();
  if (snapshotter.joinable()) snapshotter.join();
  return phase;
}

void usage(std::ostream& out) {
  out << "Usage: snapshot_bench [--seconds N] [--rounds N] [--clients N] [--poll-ms N] [--json FILE]\n"
         "Starts 3 cloudd (HOMESTEAD_BUILD_DIR/cloud/cloudd/cloudd, fsync on) and measures KV puts/s\n"
         "from N clients without snapshots and while live snapshots run back to back, alternating\n"
         "the phases for N rounds of S seconds each; prints the rates, the cost and snapshot\n"
         "completion times. Snapshot phases poll every --poll-ms (default 20): the gathered report\n"
         "(GET /api/v1/snapshots/{id}), and for attribution the initiator's own part only (/local).\n";
}

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
  run_phase(cluster, Settings{1, 1, s.clients, s.poll_ms, ""}, Mode::off);  // warm-up
  Phase off, on, local;
  for (int r = 0; r < s.rounds; ++r) {
    // Alternate the order so a drift over the run does not favour any phase.
    const std::vector<Mode> order = (r % 2 == 0) ? std::vector<Mode>{Mode::off, Mode::gathered, Mode::local_only}
                                                 : std::vector<Mode>{Mode::local_only, Mode::gathered, Mode::off};
    for (Mode mode : order) {
      cluster.wait_converged(30s);
      const Phase p = run_phase(cluster, s, mode);
      Phase& total = mode == Mode::off ? off : mode == Mode::gathered ? on : local;
      total.puts += p.puts;
      total.seconds += p.seconds;
      total.snapshot_ms.insert(total.snapshot_ms.end(), p.snapshot_ms.begin(), p.snapshot_ms.end());
      total.inconsistent += p.inconsistent;
    }
  }
  const double off_rate = static_cast<double>(off.puts) / off.seconds;
  const double on_rate = static_cast<double>(on.puts) / on.seconds;
  const double cost = 100.0 * (1.0 - on_rate / off_rate);
  const double local_rate = static_cast<double>(local.puts) / local.seconds;
  const double local_cost = 100.0 * (1.0 - local_rate / off_rate);
  std::printf("\nLive snapshot cost (3 cloudd, fsync on, loopback, %d clients putting 100 B values; %d rounds x %.1f s "
              "per phase)\n",
              s.clients, s.rounds, s.seconds);
  std::printf("%-34s %12s\n", "phase", "puts/s");
  std::printf("%-34s %12.0f\n", "without snapshots", off_rate);
  std::printf("%-34s %12.0f\n", "snapshots back to back", on_rate);
  std::printf("%-34s %12.0f\n", "back to back, own part polled", local_rate);
  std::printf("(snapshots: POST, then GET the gathered report every %d ms until complete, then the next;\n"
              " attribution: the same polling only the initiator's /local, no gathering: cost %.1f%%,\n"
              " %zu snapshots, own part complete p50 %.1f ms)\n",
              s.poll_ms, local_cost, local.snapshot_ms.size(), percentile(local.snapshot_ms, 0.5));
  std::printf("ratio with/without: %.3f, cost %.1f%% (target < 5%%: %s)\n", on_rate / off_rate, cost,
              cost < 5.0 ? "met" : "NOT met");
  std::printf("snapshots completed: %zu (%.1f/s), completion p50 %.1f ms, p99 %.1f ms, inconsistent: %llu\n",
              on.snapshot_ms.size(), static_cast<double>(on.snapshot_ms.size()) / on.seconds,
              percentile(on.snapshot_ms, 0.5), percentile(on.snapshot_ms, 0.99),
              static_cast<unsigned long long>(on.inconsistent));
  if (!s.json_out.empty()) {
    std::ofstream(s.json_out) << json{{"puts_per_s_without", off_rate},
                                      {"puts_per_s_with", on_rate},
                                      {"ratio", on_rate / off_rate},
                                      {"cost_percent", cost},
                                      {"puts_per_s_with_local_poll", local_rate},
                                      {"cost_percent_local_poll", local_cost},
                                      {"poll_ms", s.poll_ms},
                                      {"target_percent", 5},
                                      {"snapshots", on.snapshot_ms.size()},
                                      {"completion_p50_ms", percentile(on.snapshot_ms, 0.5)},
                                      {"completion_p99_ms", percentile(on.snapshot_ms, 0.99)},
                                      {"inconsistent", on.inconsistent}}
                                     .dump(2)
                              << '\n';
  }
  return on.inconsistent == 0 ? 0 : 1;
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
  try {
    return run_bench(s);
  } catch (const std::exception& e) {
    std::cerr << "snapshot_bench: " << e.what() << "\n";  // caught so the cluster's destructor ran
    return 1;
  }
}
