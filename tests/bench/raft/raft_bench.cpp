// Side-by-side benchmark: three cloudd members vs three etcd 3.4 members on 127.0.0.1, fsync
// on, driven through their HTTP JSON APIs by the same closed-loop client (one keep-alive
// connection per client, 256-byte values, unique keys). Prints a table with both and the
// ratios. Usage: raft_bench --cloudd PATH [--etcd PATH] [--seconds N] [--json FILE]
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/raft/bench_stores.h"
#include "tests/support/process.h"

namespace {

using namespace raft_bench;  // json, Clock, t, the two stores (bench_stores.h)

// One operation slower than --trace-slow, for the stall timeline.
struct SlowOp {
  double start_ms = 0;  // since the window opened
  double ms = 0;
  int client = 0;
  int member = 0;
  std::int64_t wall_start_us = 0;
};

// Prints slow operations merged into stalls: operations whose [start, end] overlap form one
// stall; the wall-clock time lines up with the members' log timestamps.
void print_stalls(std::vector<SlowOp> slow, std::ostream& out) {
  std::sort(slow.begin(), slow.end(), [](const SlowOp& a, const SlowOp& b) { return a.start_ms < b.start_ms; });
  std::size_t i = 0;
  while (i < slow.size()) {
    double end = slow[i].start_ms + slow[i].ms, worst = slow[i].ms;
    std::map<int, int> per_member;
    const std::size_t first = i;
    while (i < slow.size() && slow[i].start_ms <= end) {
      end = std::max(end, slow[i].start_ms + slow[i].ms);
      worst = std::max(worst, slow[i].ms);
      ++per_member[slow[i].member + 1];
      ++i;
    }
    const std::time_t wall = static_cast<std::time_t>(slow[first].wall_start_us / 1000000);
    std::tm tm{};
    gmtime_r(&wall, &tm);
    char when[32];
    std::snprintf(when, sizeof when, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(slow[first].wall_start_us / 1000 % 1000));
    out << "  stall at " << when << "Z (+" << static_cast<long>(slow[first].start_ms) << " ms): " << (i - first)
        << " ops, worst " << worst << " ms, per member asked:";
    for (const auto& [m, n] : per_member) out << " n" << m << "=" << n;
    out << "\n";
  }
}

struct Result {
  double ops_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::uint64_t errors = 0;
  double cpu_us_per_op = 0;    // all three members
  double switches_per_op = 0;  // context switches, all threads of all three members
  double client_cpu_us_per_op = 0;  // this process (the load generator shares the cores)
  std::vector<SlowOp> slow;
};

std::unique_ptr<httplib::Client> make_client(Store& store, int member) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", store.port(member));
  c->set_tcp_nodelay(true);
  c->set_keep_alive(true);
  c->set_read_timeout(5, 0);
  store.configure(*c);
  return c;
}

// Closed loop: each client sends its next request when the previous one answered.
Result run_load(Store& store, Op op, int clients, bool leader_only, double seconds, const std::string& tag,
               double trace_slow_ms) {
  const int leader = store.leader();
  const std::string value(256, 'v');
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::vector<SlowOp>> slow(clients);
  const auto window_start = Clock::now();
  std::vector<std::uint64_t> errors(clients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      const int member = leader_only ? leader : c % 3;
      auto client = make_client(store, member);
      std::uint64_t n = 0;
      while (!stop) {
        // Reads hit keys the preload wrote; puts always write a new key.
        const std::string key = op == Op::put ? tag + "-" + std::to_string(c) + "-" + std::to_string(n++)
                                              : "pre-" + std::to_string((c * 7919 + n++) % 1000);
        const auto t0 = Clock::now();
        const bool ok = store.run(*client, op, key, value);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (trace_slow_ms > 0 && ms >= trace_slow_ms) {
          const auto wall = std::chrono::system_clock::now() - std::chrono::duration<double, std::milli>(ms);
          slow[c].push_back({std::chrono::duration<double, std::milli>(t0 - window_start).count(), ms, c, member,
                             std::chrono::duration_cast<std::chrono::microseconds>(wall.time_since_epoch()).count()});
        }
        if (ok) {
          latencies[c].push_back(ms);
        } else {
          ++errors[c];
        }
      }
    });
  }
  // Threads exit at different times (task counters vanish with them), so the counters are
  // read around the window with every client running.
  const Usage before = usage_of(store.pids());
  const Usage client_before = usage_of({getpid()});
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measurement window
  const Usage after = usage_of(store.pids());
  const Usage client_after = usage_of({getpid()});
  stop = true;
  for (auto& th : threads) th.join();
  std::vector<double> all;
  Result r;
  for (int c = 0; c < clients; ++c) {
    all.insert(all.end(), latencies[c].begin(), latencies[c].end());
    r.slow.insert(r.slow.end(), slow[c].begin(), slow[c].end());
    r.errors += errors[c];
  }
  std::sort(all.begin(), all.end());
  r.ops_per_s = all.size() / seconds;
  if (!all.empty()) {
    r.cpu_us_per_op = (after.cpu_ms - before.cpu_ms) * 1000.0 / static_cast<double>(all.size());
    r.switches_per_op = (after.switches - before.switches) / static_cast<double>(all.size());
    r.client_cpu_us_per_op = (client_after.cpu_ms - client_before.cpu_ms) * 1000.0 / static_cast<double>(all.size());
  }
  if (!all.empty()) {
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

constexpr int kFailoverTrials = 5;

// kill -9 the leader; time until a put through a surviving member succeeds. Returns the
// time (-1 if none within 30 s) and the killed member.
std::pair<double, int> failover_once(Store& store) {
  const int leader = store.leader();
  const int survivor = (leader + 1) % 3;
  auto client = make_client(store, survivor);
  client->set_read_timeout(0, 300 * 1000);
  const std::string value(256, 'f');
  // Warm the connection first so the measurement is the election, not a connect.
  store.run(*client, Op::put, "failover-warm", value);
  const auto t0 = Clock::now();
  store.kill9(leader);
  for (int n = 0;; ++n) {
    if (store.run(*client, Op::put, "failover-" + std::to_string(n), value)) break;
    if (Clock::now() - t0 > 30s) return {-1, leader};
    client = make_client(store, survivor);
    client->set_read_timeout(0, 300 * 1000);
  }
  return {std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), leader};
}

// Several kill -9s of the leader (each restarted and caught up before the next): one
// election is one random draw, so a single sample says little.
std::vector<double> failover_trials(Store& store, int trials) {
  std::vector<double> out;
  const std::string value(256, 'r');
  for (int k = 0; k < trials; ++k) {
    const auto [ms, killed] = failover_once(store);
    out.push_back(ms);
    store.restart(killed);
    // Back in the cluster: a write through the restarted member succeeds.
    auto client = make_client(store, killed);
    t::wait_until([&] { return store.run(*client, Op::put, "rejoined-" + std::to_string(k), value); }, 30s, 50ms);
    std::cerr << store.name() << ": failover " << (k + 1) << "/" << trials << " " << ms << " ms\n";
  }
  std::sort(out.begin(), out.end());
  return out;
}

void preload(Store& store) {
  const int leader = store.leader();
  auto client = make_client(store, leader);
  const std::string value(256, 'p');
  for (int i = 0; i < 1000; ++i) store.run(*client, Op::put, "pre-" + std::to_string(i), value);
}

}  // namespace

int main(int argc, char** argv) {
  std::string cloudd, etcd = "/usr/bin/etcd", json_out, compare, only, frontend, compare_frontend;
  double seconds = 5, trace_slow_ms = 0;
  bool with_etcd = true, with_failover = true, etcd_first = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "Usage: raft_bench --cloudd PATH [--etcd PATH] [--seconds N] [--json FILE]\n"
                   "                  [--compare PATH] [--only TEXT] [--no-etcd] [--no-failover]\n"
                   "                  [--frontend epoll|httplib] [--compare-frontend epoll|httplib]\n"
                   "Three cloudd vs three etcd members on 127.0.0.1 (fsync on), same closed-loop HTTP client,\n"
                   "256-byte values, unique keys; prints a side-by-side table with ratios.\n"
                   "  --compare PATH  also run a second cloudd binary (column cloudd-B; A/B of a change)\n"
                   "  --frontend NAME cloudd's config \"http_frontend\" (default: the binary's default)\n"
                   "  --compare-frontend NAME  the same for cloudd-B; without --compare, B is the --cloudd binary\n"
                   "  --only TEXT     only the workloads whose name contains TEXT (e.g. put)\n"
                   "  --no-etcd       skip etcd (ratios print as 0)\n"
                   "  --no-failover   skip the kill -9 trials\n"
                   "  --etcd-first    run etcd before cloudd (the machine's load drifts: run both orders)\n"
                   "  --trace-slow MS after each row, list operations slower than MS merged into stalls (UTC\n"
                   "                  start, count, worst, member asked) and each cloudd member's loop counters\n"
                   "                  and log lines about slow turns, snapshots and elections\n";
      return 0;
    }
    if (a == "--no-etcd") {
      with_etcd = false;
      continue;
    }
    if (a == "--etcd-first") {
      etcd_first = true;
      continue;
    }
    if (a == "--no-failover") {
      with_failover = false;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "raft_bench: " << a << " needs a value\n";
      return 2;
    }
    if (a == "--cloudd") cloudd = argv[++i];
    else if (a == "--etcd") etcd = argv[++i];
    else if (a == "--seconds") seconds = std::stod(argv[++i]);
    else if (a == "--json") json_out = argv[++i];
    else if (a == "--compare") compare = argv[++i];
    else if (a == "--only") only = argv[++i];
    else if (a == "--frontend") frontend = argv[++i];
    else if (a == "--compare-frontend") compare_frontend = argv[++i];
    else if (a == "--trace-slow") trace_slow_ms = std::stod(argv[++i]);
    else {
      std::cerr << "raft_bench: unknown option " << a << "\n";
      return 2;
    }
  }
  if (cloudd.empty()) {
    std::cerr << "raft_bench: --cloudd PATH is required\n";
    return 2;
  }
  if (with_etcd && !std::filesystem::exists(etcd)) {
    std::cerr << "raft_bench: etcd not found at " << etcd << " (install etcd-server: deploy/install-deps.sh --bench)\n";
    return 2;
  }
  t::TempDir dir("raft-bench");
  struct Row {
    std::string name;
    Op op;
    int clients;
    bool leader_only;
  };
  std::vector<Row> rows = {{"put, 1 client (leader)", Op::put, 1, true},
                                 {"put, 16 clients (all members)", Op::put, 16, false},
                                 {"put, 64 clients (all members)", Op::put, 64, false},
                                 {"linearizable get, 16 clients", Op::linearizable_read, 16, false},
                                 {"serializable get, 16 clients", Op::serializable_read, 16, false}};
  std::erase_if(rows, [&](const Row& row) { return row.name.find(only) == std::string::npos; });
  std::map<std::string, std::vector<Result>> results;
  std::map<std::string, std::vector<double>> failover;
  std::vector<std::function<std::unique_ptr<Store>()>> stores;
  if (compare.empty() && !compare_frontend.empty()) compare = cloudd;
  stores.push_back([&] { return std::make_unique<CloudStore>(cloudd, dir.path(), "cloudd", frontend); });
  if (!compare.empty()) {
    stores.push_back([&] { return std::make_unique<CloudStore>(compare, dir.path(), "cloudd-B", compare_frontend); });
  }
  if (with_etcd) stores.push_back([&] { return std::make_unique<EtcdStore>(etcd, dir.path()); });
  if (etcd_first && with_etcd) std::rotate(stores.begin(), stores.end() - 1, stores.end());
  // One store at a time so they never compete for the two cores.
  for (auto& make_store : stores) {
    std::unique_ptr<Store> store = make_store();
    store->start();
    if (store->leader() < 0) {
      std::cerr << store->name() << ": no leader\n";
      return 1;
    }
    preload(*store);
    {
      // What the members cost with no load at all (timers, idle keep-alive connections).
      const Usage before = usage_of(store->pids());
      std::this_thread::sleep_for(2s);
      const Usage after = usage_of(store->pids());
      std::cerr << store->name() << ": idle " << (after.switches - before.switches) / 2 << " switches/s, "
                << (after.cpu_ms - before.cpu_ms) / 2 << " cpu ms/s\n";
    }
    for (std::size_t r = 0; r < rows.size(); ++r) {
      results[store->name()].push_back(
          run_load(*store, rows[r].op, rows[r].clients, rows[r].leader_only, seconds, "k" + std::to_string(r),
                   trace_slow_ms));
      const Result& done = results[store->name()].back();
      std::cerr << store->name() << ": " << rows[r].name << " " << static_cast<long>(done.ops_per_s) << " ops/s, "
                << static_cast<long>(done.cpu_us_per_op) << " cpu us/op, " << done.switches_per_op << " switches/op, client "
                << static_cast<long>(done.client_cpu_us_per_op) << " cpu us/op\n";
      if (trace_slow_ms > 0) {
        std::cerr << store->name() << ": " << done.slow.size() << " ops >= " << trace_slow_ms << " ms\n";
        print_stalls(done.slow, std::cerr);
        store->print_diagnostics(std::cerr);
      }
    }
    if (with_failover) failover[store->name()] = failover_trials(*store, kFailoverTrials);
  }
  results["etcd"].resize(rows.size());
  results["cloudd-B"].resize(rows.size());
  std::printf("\n%-32s | %27s | %27s | %s\n", "", "cloudd", "etcd 3.4", "cloudd/etcd");
  std::printf("%-32s | %9s %8s %8s | %9s %8s %8s | %s\n", "workload", "ops/s", "p50 ms", "p99 ms", "ops/s", "p50 ms",
              "p99 ms", "throughput (p99 etcd/cloudd)");
  json out = json::array();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const Result& c = results["cloudd"][r];
    const Result& e = results["etcd"][r];
    std::printf("%-32s | %9.0f %8.2f %8.2f | %9.0f %8.2f %8.2f | %.2fx (%.2fx)\n", rows[r].name.c_str(), c.ops_per_s,
                c.p50_ms, c.p99_ms, e.ops_per_s, e.p50_ms, e.p99_ms, e.ops_per_s > 0 ? c.ops_per_s / e.ops_per_s : 0,
                c.p99_ms > 0 ? e.p99_ms / c.p99_ms : 0);
    out.push_back({{"workload", rows[r].name},
                   {"cloudd", {{"ops_per_s", c.ops_per_s}, {"p50_ms", c.p50_ms}, {"p99_ms", c.p99_ms}, {"errors", c.errors}}},
                   {"etcd", {{"ops_per_s", e.ops_per_s}, {"p50_ms", e.p50_ms}, {"p99_ms", e.p99_ms}, {"errors", e.errors}}}});
    std::printf("%-32s | %9.0f us/op %5.1f sw/op | %9.0f us/op %5.1f sw/op | CPU of the members per op, context switches per op\n",
                "  cost", c.cpu_us_per_op, c.switches_per_op, e.cpu_us_per_op, e.switches_per_op);
    out.back()["cloudd"]["cpu_us_per_op"] = c.cpu_us_per_op;
    out.back()["cloudd"]["switches_per_op"] = c.switches_per_op;
    out.back()["etcd"]["cpu_us_per_op"] = e.cpu_us_per_op;
    out.back()["etcd"]["switches_per_op"] = e.switches_per_op;
    if (!compare.empty()) {
      const Result& b = results["cloudd-B"][r];
      std::printf("%-32s | %9.0f %8.2f %8.2f | cloudd-B (--compare); B/A %.2fx, B/etcd %.2fx\n", "  cloudd-B", b.ops_per_s,
                  b.p50_ms, b.p99_ms, c.ops_per_s > 0 ? b.ops_per_s / c.ops_per_s : 0,
                  e.ops_per_s > 0 ? b.ops_per_s / e.ops_per_s : 0);
      out.back()["cloudd-B"] = {{"ops_per_s", b.ops_per_s}, {"p50_ms", b.p50_ms}, {"p99_ms", b.p99_ms}, {"errors", b.errors}};
    }
  }
  if (!with_failover) {
    if (!json_out.empty()) std::ofstream(json_out) << out.dump(2) << "\n";
    return 0;
  }
  // Median of the trials; the range beside it. -1 (no write within 30 s) sorts first.
  auto median = [](const std::vector<double>& v) { return v.empty() ? -1.0 : v[v.size() / 2]; };
  for (const char* name : {"cloudd", "etcd"}) {
    if (failover[name].empty()) failover[name].push_back(-1);  // not run (--no-etcd)
  }
  const double fc = median(failover["cloudd"]), fe = median(failover["etcd"]);
  std::printf("%-32s | %18.0f ms        | %18.0f ms        | %.2fx (lower is better)\n",
              ("failover, median of " + std::to_string(kFailoverTrials)).c_str(), fc, fe, fe > 0 ? fc / fe : 0);
  std::printf("%-32s | %12.0f..%-5.0f ms        | %12.0f..%-5.0f ms        |\n", "failover, min..max",
              failover["cloudd"].front(), failover["cloudd"].back(), failover["etcd"].front(), failover["etcd"].back());
  std::printf("targets: put 16/64 clients >= 2x etcd with p99 no worse; failover <= etcd's\n");
  out.push_back({{"workload", "failover_ms"}, {"cloudd", failover["cloudd"]}, {"etcd", failover["etcd"]}});
  if (!json_out.empty()) std::ofstream(json_out) << out.dump(2) << "\n";
  return 0;
}
