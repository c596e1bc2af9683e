// Sync throughput benchmark (issue 8): three cloudd members (fsync on) and simulated
// gateways that speak the Sync RPC (rpc::Stub<SyncService> over http, batches of outbox
// items, following not_leader). Prints records/s from one gateway and from 50 at once, and
// the latency from "gateway commit" (the item enters the simulated outbox) to "cloud
// visibility" (the Push reply: committed through Raft and applied on the leader), p50/p99,
// beside the Raft layer's own ceiling measured in the same run (the same batches written as
// one KV put each), with the ratio.
//
// Usage: sync_bench [--seconds N] [--gateways N] [--batch N] [--json FILE]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/cloud/cloud_cluster.h"
#include "tests/cloud/sync_client.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace ct = homestead::cloud_testing;
namespace sync_api = homestead::sync_api;

struct Settings {
  double seconds = 3;
  int gateways = 50;
  std::size_t batch = 256;
  std::string json_out;
};

struct Row {
  std::string name;
  double records_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::uint64_t records = 0;
  std::uint64_t errors = 0;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// A realistic outbox item: a reported state (2 of 3) or a transactuation record (1 of 3).
sync_api::OutboxItem make_item(std::uint64_t seq) {
  if (seq % 3 == 0) {
    return {seq, "transactuation", 0,
            json{{"id", "tx-" + std::to_string(seq)}, {"app", "heating"}, {"outcome", "committed"},
                 {"actuations", json::array({{{"device", "valve1"}, {"command", "set"}, {"ok", true}}})}}
                .dump()};
  }
  return {seq, "reported", 0,
          json{{"device", "sensor" + std::to_string(seq % 8)}, {"state", {{"temperature", 20.5}, {"seq", seq}}}}.dump()};
}

// One simulated gateway: an outbox filled at `rate` items/s (0: always full) and a sync
// loop sending what is pending, up to `batch` items, back to back.
struct GatewayResult {
  std::uint64_t records = 0;
  std::uint64_t errors = 0;
  std::vector<double> latencies_ms;
};

GatewayResult run_gateway(const std::vector<int>& ports, const std::string& home, const std::string& id,
                          const std::string& token, double rate, std::size_t batch, Clock::time_point start,
                          Clock::time_point end) {
  ct::SyncClient client(ports, token);
  GatewayResult result;
  std::uint64_t next_seq = 1;       // next seq to create
  std::uint64_t applied = 0;        // cloud's applied_through
  std::map<std::uint64_t, Clock::time_point> committed_at;
  while (Clock::now() < end) {
    const auto now = Clock::now();
    // Items the gateway has committed by now (paced), or a full batch beyond what is pending.
    const std::uint64_t due = rate > 0 ? static_cast<std::uint64_t>(std::chrono::duration<double>(now - start).count() * rate)
                                       : applied + batch;
    for (; next_seq <= due; ++next_seq) {
      // Paced: the moment this item became due (item k at k / rate); full outbox: now.
      committed_at[next_seq] =
          rate > 0 ? start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(next_seq) / rate))
                   : now;
    }
    if (applied + 1 >= next_seq) {
      // The outbox is empty: sleep until the next item is due (polling would steal the
      // CPU that the three cloudd members on this machine need).
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(static_cast<double>(next_seq) / rate)));
      continue;
    }
    sync_api::PushRequest request{home, id, {}};
    for (std::uint64_t s = applied + 1; s < next_seq && request.items.size() < batch; ++s) request.items.push_back(make_item(s));
    auto reply = client.push(request, 10s);
    const auto visible = Clock::now();
    if (!reply.ok()) {
      ++result.errors;
      continue;
    }
    for (std::uint64_t s = applied + 1; s <= reply->applied_through; ++s) {
      if (visible < end) {
        result.latencies_ms.push_back(std::chrono::duration<double, std::milli>(visible - committed_at[s]).count());
        ++result.records;
      }
      committed_at.erase(s);
    }
    applied = std::max(applied, reply->applied_through);
  }
  return result;
}

Row run_sync(ct::CloudCluster& cluster, const std::vector<std::pair<std::string, std::string>>& gateways,
             const std::string& home, double rate, const Settings& s, const std::string& name) {
  std::vector<int> ports;
  for (auto id : cluster.ids()) ports.push_back(cluster.http_port(id));
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.seconds));
  std::vector<GatewayResult> results(gateways.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < gateways.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = run_gateway(ports, home, gateways[i].first, gateways[i].second, rate, s.batch, start, end);
    });
  }
  for (auto& t : threads) t.join();
  Row row{name};
  std::vector<double> all;
  for (auto& r : results) {
    row.records += r.records;
    row.errors += r.errors;
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
  }
  row.records_per_s = static_cast<double>(row.records) / s.seconds;
  row.p50_ms = percentile(all, 0.50);
  row.p99_ms = percentile(all, 0.99);
  return row;
}

// The ceiling below the services: the same batches (encoded as they travel) written as one
// KV put each, closed loop, `clients` connections to the leader.
Row run_kv_ceiling(ct::CloudCluster& cluster, int clients, const Settings& s, const std::string& name) {
  const int port = cluster.http_port(cluster.wait_for_leader(20s));
  sync_api::PushRequest request{"bench", "kv", {}};
  for (std::uint64_t i = 1; i <= s.batch; ++i) request.items.push_back(make_item(i));
  const std::string value = homestead::rpc::to_document(request).dump();
  std::atomic<std::uint64_t> batches{0}, errors{0};
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.seconds));
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::vector<double> latencies;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = ct::make_client(port, cluster.token(), 10000);
      const json body{{"value", value}};
      const std::string text = body.dump();
      std::vector<double> mine;
      for (std::uint64_t i = 0; Clock::now() < end; ++i) {
        const auto t0 = Clock::now();
        auto r = client->Put(("/api/v1/kv/bench/" + std::to_string(c) + "/" + std::to_string(i)).c_str(), text,
                             "application/json");
        if (!r || r->status != 200) {
          ++errors;
          continue;
        }
        if (Clock::now() < end) {
          ++batches;
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  Row row{name};
  row.records = batches * s.batch;
  row.errors = errors;
  row.records_per_s = static_cast<double>(row.records) / s.seconds;
  row.p50_ms = percentile(latencies, 0.50);
  row.p99_ms = percentile(latencies, 0.99);
  return row;
}

int run_bench(const Settings& s);

void usage(std::ostream& out) {
  out << "Usage: sync_bench [--seconds N] [--gateways N] [--batch N] [--json FILE]\n"
         "Starts 3 cloudd (HOMESTEAD_BUILD_DIR/cloud/cloudd/cloudd, fsync on) and measures Sync/Push\n"
         "throughput and gateway-commit -> cloud-visible latency for 1 and N simulated gateways,\n"
         "beside the Raft KV ceiling for the same batches.\n";
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "sync_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(std::cout);
      return 0;
    } else if (a == "--seconds") {
      s.seconds = std::stod(value());
    } else if (a == "--gateways") {
      s.gateways = std::stoi(value());
    } else if (a == "--batch") {
      s.batch = static_cast<std::size_t>(std::stoul(value()));
    } else if (a == "--json") {
      s.json_out = value();
    } else {
      std::cerr << "sync_bench: unknown argument '" << a << "'\n";
      usage(std::cerr);
      return 2;
    }
  }
  try {
    return run_bench(s);
  } catch (const std::exception& e) {
    // Caught so the cluster's destructor has run (it kills the cloudd processes).
    std::cerr << "sync_bench: " << e.what() << "\n";
    return 1;
  }
}

namespace {

int run_bench(const Settings& s) {
  ct::ClusterOptions options;
  options.members = 3;
  options.snapshot_entries = 100000;  // no snapshot of a growing state mid-row
  options.http_threads = 4 * s.gateways + 64;  // a keep-alive connection holds a thread
  ct::CloudCluster cluster(options);
  cluster.start_all();
  const auto leader = cluster.wait_for_leader(30s);
  if (leader == 0) {
    std::cerr << "sync_bench: no leader\n";
    return 1;
  }
  auto post = [&](const std::string& path, const json& body) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      const auto leader_now = cluster.wait_for_leader(10s);
      if (leader_now == 0) continue;
      auto a = cluster.request(leader_now, "POST", path, body);
      if (a.status == 201) return a.body;
      std::this_thread::sleep_for(100ms);
    }
    throw std::runtime_error("cannot POST " + path);
  };
  post("/api/v1/homes", {{"id", "bench"}});
  std::vector<std::pair<std::string, std::string>> gateways;
  for (int g = 0; g < std::max(s.gateways, 2); ++g) {
    const std::string id = "gw" + std::to_string(g);
    gateways.emplace_back(id, post("/api/v1/homes/bench/gateways", {{"id", id}})["token"].get<std::string>());
  }
  // Each row uses gateways not used before, so every row starts at seq 1.
  auto take = [&, next = std::size_t{0}](std::size_t n) mutable {
    std::vector<std::pair<std::string, std::string>> out(gateways.begin() + next, gateways.begin() + next + n);
    next += n;
    return out;
  };
  const int n = s.gateways;
  // Rows 1-2 and 3-4 need fresh gateways: register enough.
  for (int g = static_cast<int>(gateways.size()); g < 2 * n + 2; ++g) {
    const std::string id = "gw" + std::to_string(g);
    gateways.emplace_back(id, post("/api/v1/homes/bench/gateways", {{"id", id}})["token"].get<std::string>());
  }
  // Each row starts once every member has applied the previous row's backlog, so rows do
  // not measure each other's catch-up.
  auto settle = [&] { cluster.wait_converged(60s); };
  std::vector<Row> rows;
  rows.push_back(run_sync(cluster, take(1), "bench", 0, s, "1 gateway, outbox full (batch " + std::to_string(s.batch) + ")"));
  settle();
  rows.push_back(run_sync(cluster, take(1), "bench", 1000, s, "1 gateway, 1,000 records/s committed"));
  settle();
  rows.push_back(run_sync(cluster, take(static_cast<std::size_t>(n)), "bench", 0, s,
                          std::to_string(n) + " gateways, outboxes full"));
  settle();
  rows.push_back(run_sync(cluster, take(static_cast<std::size_t>(n)), "bench", 20, s,
                          std::to_string(n) + " gateways, 20 records/s each"));
  settle();
  const Row kv1 = run_kv_ceiling(cluster, 1, s, "Raft KV ceiling, 1 client, same batch as one put");
  settle();
  const Row kvn = run_kv_ceiling(cluster, n, s, "Raft KV ceiling, " + std::to_string(n) + " clients");

  std::printf("\nSync throughput (3 cloudd, fsync on, loopback; %.1f s per row; latency = gateway commit -> Push reply)\n",
              s.seconds);
  std::printf("%-48s %12s %9s %9s %7s\n", "workload", "records/s", "p50 ms", "p99 ms", "errors");
  for (const auto& r : rows) {
    std::printf("%-48s %12.0f %9.2f %9.2f %7llu\n", r.name.c_str(), r.records_per_s, r.p50_ms, r.p99_ms,
                static_cast<unsigned long long>(r.errors));
  }
  for (const auto* r : {&kv1, &kvn}) {
    std::printf("%-48s %12.0f %9.2f %9.2f %7llu\n", r->name.c_str(), r->records_per_s, r->p50_ms, r->p99_ms,
                static_cast<unsigned long long>(r->errors));
  }
  std::printf("ratio sync / KV ceiling: 1 gateway %.2fx, %d gateways %.2fx\n",
              kv1.records_per_s > 0 ? rows[0].records_per_s / kv1.records_per_s : 0.0, n,
              kvn.records_per_s > 0 ? rows[2].records_per_s / kvn.records_per_s : 0.0);
  if (!s.json_out.empty()) {
    json out = json::array();
    std::vector<Row> all = rows;
    all.push_back(kv1);
    all.push_back(kvn);
    for (const Row& r : all) {
      out.push_back(json{{"workload", r.name}, {"records_per_s", r.records_per_s}, {"p50_ms", r.p50_ms},
                         {"p99_ms", r.p99_ms}, {"errors", r.errors}});
    }
    std::ofstream(s.json_out) << out.dump(2) << "\n";
  }
  return 0;
}

}  // namespace
