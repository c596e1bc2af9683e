// Live snapshot benchmark (issue 10 item 4): what Chandy-Lamport snapshots cost a running
// system. Three cloudd members (fsync on) take KV puts from N clients while --gateways (2)
// gateways (tests/snapshot/sim_gateway.*: the gateway's own snapshot agent on a Sync client)
// push outbox batches to the leader as fast as it applies them; every snapshot has the
// gateways as participants (checked: a report without them counts as missing). Every round
// runs the same load for the same time in each phase, the order alternating between rounds:
//   - without snapshots (the baseline);
//   - one snapshot at a time at an operator's rate: one every --interval-ms (default 1000),
//     started and its gathered report waited for in one request (POST
//     /api/v1/snapshots?wait_ms=5000, as homectl does), or with --poll-ms N started and its
//     report polled every N ms until complete;
//   - back to back: the next snapshot is POSTed as soon as the last report says complete
//     (the worst case: dozens of snapshots a second);
//   - with --attribution, back to back again but polling only the initiator's own part
//     (GET .../{id}/local, no gathering): the difference is the report gathering's share.
// Prints every round's puts/s and gateway items/s and their costs (against the same round's
// baseline), the median of the per-round costs and its 95% interval beside the target (< 5%
// while a snapshot runs: met, not met, or not shown when the interval spans it), snapshots
// per second and completion times, and fails on any inconsistent report or one missing a
// gateway. Beside the throughputs it prints the cloudd members' CPU
// per request (KV puts and Sync pushes) against the baseline, which other load on a shared
// machine disturbs far less. With --slice-ms it measures the back-to-back cost instead in one
// continuous run of alternating slices (run_sliced), which this machine's drift disturbs
// far less than phases apart in time.
//
// Usage: snapshot_bench [--seconds N] [--rounds N] [--clients N] [--gateways N] [--poll-ms N]
//                       [--interval-ms N] [--marker-linger-ms N] [--slice-ms N] [--slice-guard-ms N]
//                       [--attribution] [--json FILE]
#include <algorithm>
#include <atomic>
#include <cmath>
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
#include "tests/snapshot/sim_gateway.h"
#include "tests/bench/snapshot/median_stats.h"
#include "tests/support/prometheus_text.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace ct = homestead::cloud_testing;
using homestead::bench::cost_percent;
using homestead::bench::median;
using homestead::bench::median_interval;
using homestead::bench::percentile;

struct Settings {
  double seconds = 2;
  int rounds = 8;
  int clients = 16;
  int gateways = 2;
  int poll_ms = 0;  // 0: long poll (?wait_ms)
  int interval_ms = 1000;
  int marker_linger_ms = -1;  // cloudd's snapshot_marker_linger_ms (-1: its default)
  int slice_ms = 0;           // > 0: interleaved slices instead of phases (run_sliced)
  int slice_guard_ms = 100;   // unmeasured start of every slice (run_sliced)
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

// The members' Raft loop counters (GET /metrics), summed: what the snapshot traffic does to
// the loops' batching (turns and log writes per request).
struct RaftLoops {
  double turns = 0, persists = 0, entries = 0, marker_frames = 0;
  double slow_turns = 0;   // turns over 20 ms, summed
  double max_turn_ms = 0;  // the longest turn of any member since it started
};

RaftLoops raft_loops(ct::CloudCluster& cluster) {
  RaftLoops sum;
  for (auto id : cluster.ids()) {
    auto client = ct::make_client(cluster.http_port(id), cluster.token(), 2000);
    auto res = client->Get("/metrics");
    if (!res || res->status != 200) continue;
    const auto value = [&](const char* series) {
      return homestead::testing::prometheus_value(res->body, series).value_or(0);
    };
    sum.turns += value("homestead_raft_loop_turns_total");
    sum.persists += value("homestead_raft_loop_persists_total");
    sum.entries += value("homestead_raft_loop_entries_persisted_total");
    sum.marker_frames += value("homestead_snapshot_marker_frames_total");
    sum.slow_turns += value("homestead_raft_loop_slow_turns_total");
    sum.max_turn_ms = std::max(sum.max_turn_ms, value("homestead_raft_loop_max_turn_microseconds") / 1000);
  }
  return sum;
}

struct Phase {
  std::uint64_t puts = 0;
  std::uint64_t gateway_items = 0;   // outbox items the cloud applied for the gateways
  std::uint64_t gateway_pushes = 0;  // their Push calls
  std::uint64_t marker_pulls = 0, parts_posted = 0;  // the gateways' snapshot requests
  std::uint64_t parts_carried = 0;                   // parts that rode on their Sync requests
  double gateway_snapshot_seconds = 0;  // the wall time those took on the gateways' loops
  double push_seconds = 0;              // summed Push latency
  // When the measured window ran, in steady_clock (CLOCK_MONOTONIC) seconds: to slice a
  // profile taken with `perf record -k CLOCK_MONOTONIC` by phase (perf report --time).
  double window_start = 0, window_end = 0;
  RaftLoops loops;                      // the members' Raft loop counters over the phase
  double seconds = 0;
  double cpu_seconds = 0;  // the cloudd members' CPU over the phase
  std::vector<double> snapshot_ms;  // completion times of the snapshots in this phase
  std::uint64_t inconsistent = 0;
  std::uint64_t missing_gateways = 0;  // complete reports without every gateway's part
  double rate() const { return seconds > 0 ? static_cast<double>(puts) / seconds : 0; }
  double gateway_rate() const { return seconds > 0 ? static_cast<double>(gateway_items) / seconds : 0; }
  double requests_per_cpu_second() const {
    return cpu_seconds > 0 ? static_cast<double>(puts + gateway_pushes) / cpu_seconds : 0;
  }
};

using Gateways = std::vector<std::unique_ptr<ct::SimGateway>>;


struct GatewayTotals {
  std::uint64_t items = 0, pushes = 0, push_ns = 0, marker_pulls = 0, parts = 0, carried = 0, snapshot_work_ns = 0;
};

GatewayTotals gateway_totals(const Gateways& gateways) {
  GatewayTotals t;
  for (const auto& g : gateways) {
    t.items += g->applied();
    t.pushes += g->pushes();
    t.push_ns += g->push_ns();
    t.marker_pulls += g->marker_pulls();
    t.parts += g->parts_posted();
    t.carried += g->parts_carried();
    t.snapshot_work_ns += g->snapshot_work_ns();
  }
  return t;
}

// Starts one snapshot on `client`'s member and waits for its report until complete (or
// stop): long-polled (started and waited for in one POST ?wait_ms, then GET ?wait_ms while
// not complete), or polled every poll_ms.
void run_one_snapshot(httplib::Client& client, const Settings& s, Mode mode, const std::atomic<bool>& stop,
                      Phase& phase) {
  const auto t0 = Clock::now();
  const bool start_and_wait = s.poll_ms == 0 && mode != Mode::own_part;
  auto started = client.Post(start_and_wait ? "/api/v1/snapshots?wait_ms=5000" : "/api/v1/snapshots");
  if (!started || started->status != (start_and_wait ? 200 : 202)) return;
  json report = json::parse(started->body);
  const std::string id = report["id"];
  // Whether `report` says complete; a complete one is counted and checked.
  const auto done = [&](const json& answer) {
    const bool complete =
        mode == Mode::own_part ? answer.value("complete", false) : answer.value("status", "") == "complete";
    if (!complete) return false;
    phase.snapshot_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (mode != Mode::own_part) {
      if (!answer["consistency"]["consistent"].get<bool>()) ++phase.inconsistent;
      int gateway_parts = 0;
      for (const auto& [name, part] : answer["participants"].items()) gateway_parts += name.rfind("gateway:", 0) == 0;
      if (gateway_parts < s.gateways) ++phase.missing_gateways;
    }
    return true;
  };
  if (start_and_wait && done(report)) return;
  const std::string path = "/api/v1/snapshots/" + id + (mode == Mode::own_part ? "/local" : "") +
                           (s.poll_ms == 0 ? "?wait_ms=5000" : "");
  while (!stop) {
    auto got = client.Get(path.c_str());
    if (got && got->status == 200 && done(json::parse(got->body))) return;
    // An operator's poll of the report, part of the measured cost (a long poll that timed
    // out asks again at once).
    if (s.poll_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(s.poll_ms));
  }
}

// One KV client: puts 100 B values to the leader (1000 keys of its own, round robin) until
// stop, calling accepted() after each put the leader answered 200.
template <class Accepted>
void put_until_stopped(const ct::CloudCluster& cluster, int leader_port, int client_index,
                       const std::atomic<bool>& stop, Accepted accepted) {
  auto client = ct::make_client(leader_port, cluster.token(), 10000);
  const std::string body = json{{"value", std::string(100, 'v')}}.dump();
  for (std::uint64_t i = 0; !stop; ++i) {
    const std::string path = "/api/v1/kv/bench/" + std::to_string(client_index) + "/" + std::to_string(i % 1000);
    auto r = client->Put(path.c_str(), body, "application/json");
    if (r && r->status == 200) accepted();
  }
}

Phase run_phase(ct::CloudCluster& cluster, const Gateways& gateways, const Settings& s, Mode mode) {
  const int leader_port = cluster.http_port(cluster.wait_for_leader(20s));
  std::atomic<std::uint64_t> puts{0};
  std::atomic<bool> stop{false};
  Phase phase;
  std::vector<std::thread> threads;
  for (int c = 0; c < s.clients; ++c) {
    threads.emplace_back([&, c] {
      put_until_stopped(cluster, leader_port, c, stop, [&] {
        if (!stop) ++puts;
      });
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
  const auto before = gateway_totals(gateways);
  const RaftLoops loops_before = raft_loops(cluster);
  std::this_thread::sleep_for(std::chrono::duration<double>(s.seconds));
  phase.puts = puts.load();
  const auto after = gateway_totals(gateways);
  const RaftLoops loops_after = raft_loops(cluster);
  phase.loops = {loops_after.turns - loops_before.turns, loops_after.persists - loops_before.persists,
                 loops_after.entries - loops_before.entries, loops_after.marker_frames - loops_before.marker_frames};
  phase.gateway_items = after.items - before.items;
  phase.gateway_pushes = after.pushes - before.pushes;
  phase.marker_pulls = after.marker_pulls - before.marker_pulls;
  phase.parts_posted = after.parts - before.parts;
  phase.parts_carried = after.carried - before.carried;
  phase.gateway_snapshot_seconds = static_cast<double>(after.snapshot_work_ns - before.snapshot_work_ns) / 1e9;
  phase.push_seconds = static_cast<double>(after.push_ns - before.push_ns) / 1e9;
  phase.cpu_seconds = cloudd_cpu_seconds() - cpu_start;
  phase.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  phase.window_start = std::chrono::duration<double>(start.time_since_epoch()).count();
  phase.window_end = phase.window_start + phase.seconds;
  stop = true;
  for (auto& t : threads) t.join();
  if (snapshotter.joinable()) snapshotter.join();
  return phase;
}

void usage(std::ostream& out) {
  out << "Usage: snapshot_bench [--seconds N] [--rounds N] [--clients N] [--gateways N] [--poll-ms N]\n"
         "                      [--interval-ms N] [--marker-linger-ms N] [--slice-ms N]\n"
         "                      [--slice-guard-ms N] [--attribution] [--json FILE]\n"
         "Starts 3 cloudd (HOMESTEAD_BUILD_DIR/cloud/cloudd/cloudd, fsync on) and --gateways (2) simulated\n"
         "gateways pushing outbox batches over Sync, and measures KV puts/s from --clients (16) clients and\n"
         "the gateways' applied items/s in --rounds (8) rounds; each round runs every phase for --seconds\n"
         "(2), the order alternating: without snapshots, one snapshot per --interval-ms (1000), snapshots\n"
         "back to back, and with --attribution back to back polling the initiator's own part only (/local).\n"
         "Reports are asked with a long poll (?wait_ms), or polled every --poll-ms N (0). Prints per-round\n"
         "throughputs and costs against the same round's baseline, the median and its 95% interval, and\n"
         "the < 5% target: met (interval under 5%), NOT met (interval at or over), or not shown (the\n"
         "interval spans 5%: this machine's rounds scatter by tens of percent, run more).\n"
         "Exit 1 on an inconsistent report or a complete one without every gateway's part.\n"
         "On stderr, each phase's measured window in CLOCK_MONOTONIC seconds, to slice a profile by phase\n"
         "(perf record -a -g -k CLOCK_MONOTONIC ...; perf report --time START,END).\n"
         "--marker-linger-ms N sets the members' snapshot_marker_linger_ms (default: cloudd's).\n"
         "--slice-ms N: instead of the phases, one continuous run alternating N ms slices without\n"
         "snapshots and with snapshots back to back (--rounds of the latter between --rounds + 1 of the\n"
         "former), each compared with the mean of its two neighbours: it cancels the machine's drift\n"
         "over seconds that the phases, apart in time, pick up as noise. --slice-guard-ms N (100): the\n"
         "first N ms of every slice go unmeasured (what the slice before left running). It also counts\n"
         "stalled slices (puts under a quarter of the usual) of each kind, with the Raft term before and\n"
         "after and the members' Raft loop turns over 20 ms, to tell a stall's cause.\n";
}

struct Series {
  Mode mode;
  std::vector<double> rates;          // puts/s per round
  std::vector<double> costs;          // percent against the same round's baseline
  std::vector<double> gateway_rates;  // gateway items/s per round
  std::vector<double> gateway_costs;
  std::vector<double> cpu_costs;  // extra cloudd CPU per request, percent, against the same round's baseline
  Phase total;
};

// The leader's Raft term as it reports it (0 if it does not answer).
std::uint64_t raft_term(ct::CloudCluster& cluster, std::uint64_t leader) {
  if (leader == 0) return 0;
  const auto status = cluster.cluster_status(leader);
  return status && status->contains("term") ? (*status)["term"].get<std::uint64_t>() : 0;
}

// --slice-ms N: one continuous run under the same load instead of phases apart, slices of N
// ms alternating without snapshots and with snapshots back to back (2 x --rounds + 1
// slices, starting and ending without). This machine's throughput drifts over seconds (the
// phases' per-round costs scatter by tens of percent, and adjacent phases correlate); each
// slice with snapshots is compared with the mean of its two neighbours, which cancels a
// drift linear over the three. Puts are counted in 10 ms buckets by completion time and the
// gateways' applied items sampled every 10 ms, so a slice without snapshots is measured
// only from when the last snapshot of the slice before it completed (no spill counted).
int run_sliced(ct::CloudCluster& cluster, const Gateways& gateways, const Settings& s) {
  constexpr auto kBucket = 10ms;
  const int slices = 2 * s.rounds + 1;
  const int buckets_per_slice = std::max(1, static_cast<int>(s.slice_ms / 10));
  const std::size_t buckets = static_cast<std::size_t>(slices) * static_cast<std::size_t>(buckets_per_slice);
  std::vector<std::atomic<std::uint64_t>> puts(buckets);
  std::vector<std::uint64_t> applied_at(buckets + 1, 0);  // the gateways' applied items at each bucket's start
  std::vector<std::size_t> measured_from(static_cast<std::size_t>(slices), 0);  // first bucket counted per slice
  // Each slice's first --slice-guard-ms go unmeasured: what the slice before left running
  // (work after a snapshot completes, a backlog) would otherwise count against the next.
  const int guard_buckets = std::min(buckets_per_slice - 1, s.slice_guard_ms / 10);
  for (int k = 0; k < slices; ++k) measured_from[k] = static_cast<std::size_t>(k) * buckets_per_slice + guard_buckets;
  Phase snapshots;  // completion times and checks of every snapshot
  std::atomic<bool> stop{false};
  const auto leader = cluster.wait_for_leader(20s);
  const int leader_port = cluster.http_port(leader);
  cluster.wait_converged(30s);
  const std::uint64_t term_before = raft_term(cluster, leader);
  const RaftLoops loops_before = raft_loops(cluster);
  const auto start = Clock::now() + 200ms;  // the clients connect before it
  const auto bucket_of = [&](Clock::time_point t) {
    return t < start ? buckets : static_cast<std::size_t>((t - start) / kBucket);
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < s.clients; ++c) {
    threads.emplace_back([&, c] {
      put_until_stopped(cluster, leader_port, c, stop, [&] {
        const std::size_t b = bucket_of(Clock::now());
        if (b < buckets) ++puts[b];
      });
    });
  }
  threads.emplace_back([&] {
    for (std::size_t b = 0; b <= buckets; ++b) {
      std::this_thread::sleep_until(start + b * kBucket);
      applied_at[b] = gateway_totals(gateways).items;
    }
  });
  // The snapshotter runs on this thread: initiators rotate over the members.
  const auto ids = cluster.ids();
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (auto id : ids) clients.push_back(ct::make_client(cluster.http_port(id), cluster.token(), 10000));
  std::size_t n = 0;
  for (int k = 0; k < slices; ++k) {
    const auto slice_end = start + static_cast<std::size_t>(k + 1) * buckets_per_slice * kBucket;
    if (k % 2 == 1) {
      while (Clock::now() < slice_end) run_one_snapshot(*clients[n++ % clients.size()], s, Mode::back_to_back, stop, snapshots);
      if (k + 1 < slices) {
        measured_from[k + 1] = std::max(measured_from[k + 1], bucket_of(Clock::now()) + 1);
      }
    } else {
      std::this_thread::sleep_until(slice_end);
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  const auto rate = [&](int k, auto&& count) {
    const std::size_t from = measured_from[k], to = static_cast<std::size_t>(k + 1) * buckets_per_slice;
    if (from >= to) return -1.0;  // a snapshot outlasted the whole slice after it
    return static_cast<double>(count(from, to)) / (std::chrono::duration<double>(kBucket).count() * (to - from));
  };
  const auto put_count = [&](std::size_t from, std::size_t to) {
    std::uint64_t sum = 0;
    for (std::size_t b = from; b < to; ++b) sum += puts[b];
    return sum;
  };
  const auto item_count = [&](std::size_t from, std::size_t to) { return applied_at[to] - applied_at[from]; };
  std::vector<double> costs, gateway_costs, on_rates, off_rates;
  std::printf("%-6s %28s %28s\n", "pair", "puts/s without | with", "items/s without | with");
  for (int k = 1; k < slices; k += 2) {
    const double before = rate(k - 1, put_count), after = rate(k + 1, put_count), with = rate(k, put_count);
    const double g_before = rate(k - 1, item_count), g_after = rate(k + 1, item_count), g_with = rate(k, item_count);
    if (before < 0 || after < 0) continue;
    const double base = (before + after) / 2, g_base = (g_before + g_after) / 2;
    costs.push_back(cost_percent(with, base));
    gateway_costs.push_back(cost_percent(g_with, g_base));
    on_rates.push_back(with);
    off_rates.push_back(base);
    std::printf("%-6d %12.0f | %6.0f (%+5.1f%%) %12.0f | %6.0f (%+5.1f%%)\n", (k + 1) / 2, base, with, costs.back(),
                g_base, g_with, gateway_costs.back());
  }
  // Stalls (a measured slice with under a quarter of the usual puts) counted per kind: a
  // pair's cost is a median, which a stall does not move, so they are shown apart, with
  // what can explain them: the elections of the run (a stall with the term unchanged is not
  // a leader change) and the members' Raft loop turns over 20 ms (slow fdatasyncs, Raft
  // snapshots; their log lines say which).
  std::vector<double> slice_rates, off_slice_rates;
  for (int k = 0; k < slices; ++k) {
    slice_rates.push_back(rate(k, put_count));
    if (k % 2 == 0 && slice_rates.back() >= 0) off_slice_rates.push_back(slice_rates.back());
  }
  const double usual = median(off_slice_rates);
  int stalled_on = 0, stalled_off = 0;
  for (int k = 0; k < slices; ++k) {
    if (slice_rates[k] >= 0 && slice_rates[k] < usual / 4) ++(k % 2 == 1 ? stalled_on : stalled_off);
  }
  const std::uint64_t term_after = raft_term(cluster, cluster.wait_for_leader(20s));
  const RaftLoops loops_after = raft_loops(cluster);
  const double on_seconds = s.rounds * s.slice_ms / 1000.0;
  const auto [lo, hi] = median_interval(costs);
  const auto [glo, ghi] = median_interval(gateway_costs);
  const double cost = median(costs), gateway_cost = median(gateway_costs);
  const bool with_gateways = s.gateways > 0;
  const char* verdict = costs.empty()                                    ? "not shown (no slice measured)"
                        : hi < 5.0 && (!with_gateways || ghi < 5.0)    ? "met"
                        : lo >= 5.0 || (with_gateways && glo >= 5.0) ? "NOT met"
                                                                     : "not shown (95% interval spans 5%)";
  std::printf("\nLive snapshot cost, interleaved (3 cloudd, fsync on, loopback, %d clients putting 100 B values, %d "
              "gateways pushing outbox batches; %d slices of %d ms with snapshots back to back between %d without, "
              "first %d ms of each unmeasured, marker linger %s)\n",
              s.clients, s.gateways, s.rounds, s.slice_ms, s.rounds + 1, guard_buckets * 10,
              s.marker_linger_ms < 0 ? "cloudd's default" : (std::to_string(s.marker_linger_ms) + " ms").c_str());
  std::printf("puts/s p50 without %.0f, with %.0f; items/s cost p50 %.1f%%; snapshots/s %.1f, complete p50 %.1f ms, "
              "p99 %.1f ms\n",
              median(off_rates), median(on_rates), gateway_cost,
              static_cast<double>(snapshots.snapshot_ms.size()) / on_seconds, percentile(snapshots.snapshot_ms, 0.5),
              percentile(snapshots.snapshot_ms, 0.99));
  std::printf("target < 5%% while a snapshot runs, snapshots back to back, interleaved: median cost puts %5.1f%% "
              "[%.1f, %.1f], gateway items %5.1f%% [%.1f, %.1f] -> %s\n",
              cost, lo, hi, gateway_cost, glo, ghi, verdict);
  std::printf("stalled slices (puts under a quarter of the median slice without, %.0f/s): with snapshots %d of %d, "
              "without %d of %d; Raft term %llu -> %llu; the members' Raft loop turns over 20 ms: %.0f, longest "
              "since start %.0f ms\n",
              usual, stalled_on, s.rounds, stalled_off, s.rounds + 1, static_cast<unsigned long long>(term_before),
              static_cast<unsigned long long>(term_after), loops_after.slow_turns - loops_before.slow_turns,
              loops_after.max_turn_ms);
  std::printf("inconsistent reports: %llu; complete reports without every gateway: %llu\n",
              static_cast<unsigned long long>(snapshots.inconsistent),
              static_cast<unsigned long long>(snapshots.missing_gateways));
  for (const auto& g : gateways) g->stop();
  if (!s.json_out.empty()) {
    const json out = {{"mode", "interleaved"},
                      {"slice_ms", s.slice_ms},
                      {"slice_guard_ms", guard_buckets * 10},
                      {"pairs", s.rounds},
                      {"clients", s.clients},
                      {"gateways", s.gateways},
                      {"marker_linger_ms", s.marker_linger_ms},
                      {"target_percent", 5},
                      {"cost_percent_rounds", costs},
                      {"cost_percent_median", cost},
                      {"cost_percent_median_ci95", median_interval(costs)},
                      {"gateway_cost_percent_rounds", gateway_costs},
                      {"gateway_cost_percent_median", gateway_cost},
                      {"gateway_cost_percent_median_ci95", median_interval(gateway_costs)},
                      {"target_verdict", verdict},
                      {"snapshots", snapshots.snapshot_ms.size()},
                      {"completion_p50_ms", percentile(snapshots.snapshot_ms, 0.5)},
                      {"stalled_slices_with", stalled_on},
                      {"stalled_slices_without", stalled_off},
                      {"raft_term_before", term_before},
                      {"raft_term_after", term_after},
                      {"inconsistent", snapshots.inconsistent},
                      {"missing_gateways", snapshots.missing_gateways}};
    std::ofstream(s.json_out) << out.dump(2) << '\n';
  }
  return snapshots.inconsistent == 0 && snapshots.missing_gateways == 0 ? 0 : 1;
}

int run_bench(const Settings& s) {
  ct::ClusterOptions options;
  options.members = 3;
  options.snapshot_entries = 100000;
  options.http_threads = 2 * s.clients + 4 * s.gateways + 32;
  options.snapshot_marker_linger_ms = s.marker_linger_ms;
  ct::CloudCluster cluster(options);
  cluster.start_all();
  if (cluster.wait_for_leader(30s) == 0) {
    std::cerr << "snapshot_bench: no leader\n";
    return 1;
  }
  Gateways gateways;
  for (int g = 1; g <= s.gateways; ++g) {
    const std::string id = "gw" + std::to_string(g);
    gateways.push_back(std::make_unique<ct::SimGateway>(cluster, "bench", id, ct::register_sim_gateway(cluster, "bench", id)));
  }
  Settings warm_up = s;
  warm_up.seconds = 1;
  run_phase(cluster, gateways, warm_up, Mode::off);
  for (const auto& g : gateways) {
    if (g->applied() == 0) {
      std::cerr << "snapshot_bench: gateway " << g->process() << " applied nothing: " << g->last_error() << "\n";
      return 1;
    }
  }
  if (s.slice_ms > 0) return run_sliced(cluster, gateways, s);
  std::vector<Series> series{{Mode::off, {}, {}, {}, {}, {}, {}}, {Mode::paced, {}, {}, {}, {}, {}, {}},
                             {Mode::back_to_back, {}, {}, {}, {}, {}, {}}};
  if (s.attribution) series.push_back({Mode::own_part, {}, {}, {}, {}, {}, {}});
  std::printf("%-6s", "round");
  for (const auto& x : series) std::printf(" %46s", mode_name(x.mode));
  std::printf("\n");
  for (int r = 0; r < s.rounds; ++r) {
    // Alternate the order so a drift over the run (other load on the machine, the log
    // growing) does not favour any phase.
    std::vector<std::size_t> order(series.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (r % 2 == 1) std::reverse(order.begin(), order.end());
    std::vector<Phase> phases(series.size());
    for (std::size_t i : order) {
      cluster.wait_converged(30s);
      const Phase p = run_phase(cluster, gateways, s, series[i].mode);
      phases[i] = p;
      std::fprintf(stderr, "round %d %s: monotonic %.6f,%.6f\n", r + 1, mode_name(series[i].mode), p.window_start,
                   p.window_end);
      Phase& total = series[i].total;
      total.puts += p.puts;
      total.gateway_items += p.gateway_items;
      total.gateway_pushes += p.gateway_pushes;
      total.marker_pulls += p.marker_pulls;
      total.parts_posted += p.parts_posted;
      total.parts_carried += p.parts_carried;
      total.gateway_snapshot_seconds += p.gateway_snapshot_seconds;
      total.push_seconds += p.push_seconds;
      total.loops.turns += p.loops.turns;
      total.loops.persists += p.loops.persists;
      total.loops.entries += p.loops.entries;
      total.loops.marker_frames += p.loops.marker_frames;
      total.seconds += p.seconds;
      total.cpu_seconds += p.cpu_seconds;
      total.snapshot_ms.insert(total.snapshot_ms.end(), p.snapshot_ms.begin(), p.snapshot_ms.end());
      total.inconsistent += p.inconsistent;
      total.missing_gateways += p.missing_gateways;
    }
    std::printf("%-6d", r + 1);
    const Phase& base = phases[0];
    for (std::size_t i = 0; i < series.size(); ++i) {
      const Phase& p = phases[i];
      series[i].rates.push_back(p.rate());
      series[i].gateway_rates.push_back(p.gateway_rate());
      const double cost = cost_percent(p.rate(), base.rate());
      const double gateway_cost = cost_percent(p.gateway_rate(), base.gateway_rate());
      const double per_cpu = p.requests_per_cpu_second();
      const double cpu_cost = per_cpu > 0 ? 100.0 * (base.requests_per_cpu_second() / per_cpu - 1.0) : 0;
      series[i].costs.push_back(cost);
      series[i].gateway_costs.push_back(gateway_cost);
      series[i].cpu_costs.push_back(cpu_cost);
      if (i == 0) {
        std::printf(" %7.0f puts/s %6.0f items/s %7.0f req/cpu-s", p.rate(), p.gateway_rate(), per_cpu);
      } else {
        std::printf("  %6.0f (%+5.1f%%) %6.0f (%+5.1f%%) cpu %+5.1f%%", p.rate(), cost, p.gateway_rate(), gateway_cost,
                    cpu_cost);
      }
    }
    std::printf("\n");
    std::fflush(stdout);
  }

  std::printf("\nLive snapshot cost (3 cloudd, fsync on, loopback, %d clients putting 100 B values, %d gateways pushing "
              "outbox batches; %d rounds x %.1f s per phase, reports %s, marker linger %s)\n",
              s.clients, s.gateways, s.rounds, s.seconds,
              s.poll_ms == 0 ? "asked with a long poll" : ("polled every " + std::to_string(s.poll_ms) + " ms").c_str(),
              s.marker_linger_ms < 0 ? "cloudd's default" : (std::to_string(s.marker_linger_ms) + " ms").c_str());
  std::printf("%-30s %10s %9s %17s %11s %10s %17s %11s %11s %13s\n", "phase", "puts/s p50", "cost p50", "p50 95% CI",
              "items/s p50", "cost p50", "p50 95% CI", "cpu/req p50", "snapshots/s", "complete p50");
  json out = json::object();
  std::uint64_t inconsistent = 0, missing = 0;
  for (const auto& x : series) {
    const double snapshots_per_s = static_cast<double>(x.total.snapshot_ms.size()) / x.total.seconds;
    inconsistent += x.total.inconsistent;
    missing += x.total.missing_gateways;
    if (x.mode == Mode::off) {
      std::printf("%-30s %10.0f %9s %17s %11.0f\n", mode_name(x.mode), median(x.rates), "", "", median(x.gateway_rates));
    } else {
      const auto [lo, hi] = median_interval(x.costs);
      const auto [glo, ghi] = median_interval(x.gateway_costs);
      std::printf("%-30s %10.0f %8.1f%% %7.1f%%..%6.1f%% %11.0f %9.1f%% %7.1f%%..%6.1f%% %10.1f%% %11.1f %10.1f ms\n",
                  mode_name(x.mode), median(x.rates), median(x.costs), lo, hi, median(x.gateway_rates),
                  median(x.gateway_costs), glo, ghi, median(x.cpu_costs), snapshots_per_s,
                  percentile(x.total.snapshot_ms, 0.5));
    }
    out[mode_name(x.mode)] = {{"puts_per_s_rounds", x.rates},
                              {"puts_per_s_median", median(x.rates)},
                              {"cost_percent_rounds", x.costs},
                              {"cost_percent_median", median(x.costs)},
                              {"cost_percent_median_ci95", median_interval(x.costs)},
                              {"gateway_items_per_s_rounds", x.gateway_rates},
                              {"gateway_items_per_s_median", median(x.gateway_rates)},
                              {"gateway_cost_percent_rounds", x.gateway_costs},
                              {"gateway_cost_percent_median", median(x.gateway_costs)},
                              {"gateway_cost_percent_median_ci95", median_interval(x.gateway_costs)},
                              {"cpu_per_request_cost_percent_rounds", x.cpu_costs},
                              {"cpu_per_request_cost_percent_median", median(x.cpu_costs)},
                              {"cloudd_cpu_seconds", x.total.cpu_seconds},
                              {"explicit_marker_frames", x.total.loops.marker_frames},
                              {"snapshots", x.total.snapshot_ms.size()},
                              {"snapshots_per_s", snapshots_per_s},
                              {"completion_p50_ms", percentile(x.total.snapshot_ms, 0.5)},
                              {"completion_p99_ms", percentile(x.total.snapshot_ms, 0.99)},
                              {"inconsistent", x.total.inconsistent},
                              {"gateway_marker_pulls", x.total.marker_pulls},
                              {"gateway_parts_posted", x.total.parts_posted},
                              {"gateway_parts_carried", x.total.parts_carried},
                              {"gateway_snapshot_work_seconds", x.total.gateway_snapshot_seconds},
                              {"missing_gateways", x.total.missing_gateways}};
  }
  // The cloudd CPU a snapshot costs: the phase's cloudd CPU beyond what its requests cost at
  // the baseline's CPU per request, per snapshot (summed over the three members).
  const Phase& baseline = series[0].total;
  for (const auto& x : series) {
    if (x.mode == Mode::off || x.mode == Mode::paced || x.total.snapshot_ms.empty() ||
        baseline.requests_per_cpu_second() <= 0) {
      continue;  // paced: a handful of snapshots, lost in the noise
    }
    const double requests = static_cast<double>(x.total.puts + x.total.gateway_pushes);
    const double extra = x.total.cpu_seconds - requests / baseline.requests_per_cpu_second();
    const double per_snapshot_ms = 1000.0 * extra / static_cast<double>(x.total.snapshot_ms.size());
    out[mode_name(x.mode)]["cloudd_cpu_ms_per_snapshot"] = per_snapshot_ms;
    std::printf("cloudd CPU per snapshot, %-30s: %.2f ms (all three members, beyond the requests' own)\n",
                mode_name(x.mode), per_snapshot_ms);
  }
  for (const auto& x : series) {
    if (x.mode == Mode::off) continue;
    // Met when the median's whole interval is under the target, not met when its whole
    // interval is at or over it; otherwise the rounds cannot tell (run more of them).
    const double cost = median(x.costs), gateway_cost = median(x.gateway_costs);
    const auto [lo, hi] = median_interval(x.costs);
    const auto [glo, ghi] = median_interval(x.gateway_costs);
    const bool with_gateways = s.gateways > 0;
    const char* verdict = hi < 5.0 && (!with_gateways || ghi < 5.0)    ? "met"
                          : lo >= 5.0 || (with_gateways && glo >= 5.0) ? "NOT met"
                                                                       : "not shown (95% interval spans 5%)";
    out[mode_name(x.mode)]["target_verdict"] = verdict;
    std::printf("target < 5%% while a snapshot runs, %-30s: median cost puts %5.1f%% [%.1f, %.1f], gateway items "
                "%5.1f%% [%.1f, %.1f] -> %s (cloudd CPU per request %+.1f%%)\n",
                mode_name(x.mode), cost, lo, hi, gateway_cost, glo, ghi, verdict, median(x.cpu_costs));
  }
  if (s.gateways > 0) {
    std::printf("gateways' Push latency (mean) and snapshot work (explicit marker Pulls and part POSTs on their push "
                "loops):\n");
    for (const auto& x : series) {
      const double push_ms = x.total.gateway_pushes > 0 ? 1000.0 * x.total.push_seconds / x.total.gateway_pushes : 0;
      if (x.mode == Mode::off) {
        std::printf("  %-30s: Push %.2f ms\n", mode_name(x.mode), push_ms);
        continue;
      }
      const double loop_seconds = x.total.seconds * s.gateways;
      const double snapshots = static_cast<double>(x.total.snapshot_ms.size());
      const auto per_snapshot = [&](std::uint64_t n) {
        return snapshots > 0 ? static_cast<double>(n) / snapshots / s.gateways : 0;
      };
      std::printf("  %-30s: Push %.2f ms; %5.1f%% of the loops' time; per snapshot and gateway %.2f marker Pulls, "
                  "%.2f parts POSTed, %.2f carried on Pushes\n",
                  mode_name(x.mode), push_ms, 100.0 * x.total.gateway_snapshot_seconds / loop_seconds,
                  per_snapshot(x.total.marker_pulls), per_snapshot(x.total.parts_posted),
                  per_snapshot(x.total.parts_carried));
    }
  }
  std::printf("the members' Raft loops (summed over the three):\n");
  for (const auto& x : series) {
    const double requests = static_cast<double>(x.total.puts + x.total.gateway_pushes);
    const double snapshots = static_cast<double>(x.total.snapshot_ms.size());
    std::printf("  %-30s: %8.0f turns/s, %7.0f log writes/s, %5.1f entries per write, %.2f turns per request, "
                "%.2f explicit marker frames per snapshot\n",
                mode_name(x.mode), x.total.loops.turns / x.total.seconds, x.total.loops.persists / x.total.seconds,
                x.total.loops.persists > 0 ? x.total.loops.entries / x.total.loops.persists : 0,
                requests > 0 ? x.total.loops.turns / requests : 0,
                snapshots > 0 ? x.total.loops.marker_frames / snapshots : 0);
  }
  std::printf("inconsistent reports: %llu; complete reports without every gateway: %llu\n",
              static_cast<unsigned long long>(inconsistent), static_cast<unsigned long long>(missing));
  for (const auto& g : gateways) g->stop();
  out["target_percent"] = 5;
  out["clients"] = s.clients;
  out["gateways"] = s.gateways;
  out["poll_ms"] = s.poll_ms;
  out["interval_ms"] = s.interval_ms;
  out["marker_linger_ms"] = s.marker_linger_ms;
  out["inconsistent"] = inconsistent;
  out["missing_gateways"] = missing;
  if (!s.json_out.empty()) std::ofstream(s.json_out) << out.dump(2) << '\n';
  return inconsistent == 0 && missing == 0 ? 0 : 1;
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
      } else if (a == "--gateways") {
        s.gateways = std::stoi(value());
      } else if (a == "--poll-ms") {
        s.poll_ms = std::stoi(value());
      } else if (a == "--interval-ms") {
        s.interval_ms = std::stoi(value());
      } else if (a == "--marker-linger-ms") {
        s.marker_linger_ms = std::stoi(value());
      } else if (a == "--slice-ms") {
        s.slice_ms = std::stoi(value());
      } else if (a == "--slice-guard-ms") {
        s.slice_guard_ms = std::stoi(value());
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
  if (s.rounds < 1 || s.seconds <= 0 || s.clients < 1 || s.gateways < 0 || s.poll_ms < 0 || s.interval_ms < 0 ||
      s.slice_ms < 0 || s.slice_guard_ms < 0) {
    std::cerr << "snapshot_bench: --rounds, --seconds, --clients must be positive, --gateways, --poll-ms, "
                 "--interval-ms, --slice-ms and --slice-guard-ms >= 0\n";
    return 2;
  }
  try {
    return run_bench(s);
  } catch (const std::exception& e) {
    std::cerr << "snapshot_bench: " << e.what() << "\n";  // caught so the cluster's destructor ran
    return 1;
  }
}
