// rpc_bench: loopback RPC benchmark, client here and servers in separate processes.
// For tcp and http (JSON and MessagePack) and, side by side in the same run, gRPC C++ unary
// calls: p50/p99 latency with 1 caller and calls/s with 16 concurrent callers, for 64 B and
// 4 KiB payloads. Every row prints gRPC's figure, the ratio and the issue-6 target.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cloud/rpc/http_channel.h"
#include "cloud/rpc/stub.h"
#include "cloud/rpc/tcp_channel.h"
#include "tests/bench/rpc/bench_service.h"
#include "tests/support/process.h"

#ifdef HOMESTEAD_BENCH_GRPC
#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"
#endif

namespace {

using namespace homestead;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Options {
  std::chrono::milliseconds duration{1000};
  int callers = 16;
  std::string only;  // measure only rows whose "transport/codec/bytes" contains this
  int rounds = 3;    // each figure is the best of this many interleaved rounds
};

struct Figures {
  double p50_us = 0, p99_us = 0, calls_per_s = 0;
  std::uint64_t errors = 0;
};

// One call function per caller thread (each may hold its own stub); true on success.
using CallFactory = std::function<std::function<bool()>()>;

Figures measure(const CallFactory& factory, const Options& options) {
  Figures figures;
  {  // latency: one caller
    auto call = factory();
    for (int i = 0; i < 200; ++i) call();  // warm-up: connections, allocator, caches
    std::vector<double> samples;
    const auto end = Clock::now() + options.duration;
    while (Clock::now() < end) {
      const auto start = Clock::now();
      if (!call()) ++figures.errors;
      samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    std::sort(samples.begin(), samples.end());
    figures.p50_us = samples[samples.size() / 2];
    figures.p99_us = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  }
  {  // throughput: concurrent callers for a fixed time
    std::vector<std::function<bool()>> calls;
    for (int i = 0; i < options.callers; ++i) calls.push_back(factory());
    std::atomic<bool> go{false}, stop{false};
    std::atomic<std::uint64_t> done{0}, errors{0};
    std::atomic<int> warmed_up{0};
    std::vector<std::thread> threads;
    for (auto& call : calls) {
      threads.emplace_back([&, call] {
        for (int i = 0; i < 20; ++i) call();
        ++warmed_up;
        while (!go) std::this_thread::sleep_for(1ms);
        std::uint64_t mine = 0;
        while (!stop) {
          if (!call()) ++errors;
          ++mine;
        }
        done += mine;
      });
    }
    // Time only once every caller has its connection and has warmed up.
    while (warmed_up < static_cast<int>(calls.size())) std::this_thread::sleep_for(1ms);
    const auto start = Clock::now();
    go = true;
    std::this_thread::sleep_for(options.duration);
    stop = true;
    const auto took = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& t : threads) t.join();
    figures.calls_per_s = static_cast<double>(done) / took;
    figures.errors += errors;
  }
  return figures;
}

std::string payload(std::size_t size) {
  std::string data(size, 'a');
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + i % 26);
  return data;
}

CallFactory homestead_calls(std::shared_ptr<rpc::Channel> channel, rpc::Codec codec, std::size_t size) {
  return [channel, codec, size] {
    auto stub = std::make_shared<rpc::Stub<rpc::bench::BenchService>>(
        channel, rpc::StubOptions{.codec = codec, .timeout = 5s});
    auto request = std::make_shared<rpc::bench::Payload>(rpc::bench::Payload{payload(size)});
    return [stub, request] {
      const auto r = stub->call<rpc::bench::BenchService::Echo>(*request);
      return r.ok() && r->data.size() == request->data.size();
    };
  };
}

#ifdef HOMESTEAD_BENCH_GRPC
CallFactory grpc_calls(std::shared_ptr<grpc::Channel> channel, std::size_t size) {
  return [channel, size] {
    auto stub = std::shared_ptr<homestead::bench::EchoService::Stub>(homestead::bench::EchoService::NewStub(channel));
    auto request = std::make_shared<homestead::bench::EchoMessage>();
    request->set_data(payload(size));
    return [stub, request] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 5s);
      homestead::bench::EchoMessage reply;
      return stub->Echo(&context, *request, &reply).ok() && reply.data().size() == request->data().size();
    };
  };
}
#endif

struct Row {
  std::string transport, codec;
  std::size_t size;
  Figures figures;
};

// Rounded down, so a printed ratio never looks like it meets a target it missed.
std::string ratio_text(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", std::floor(ratio * 100) / 100);
  return text;
}

// The machine is shared (other builds and tests run beside the benchmark), so every figure
// is the best of several rounds, and the rounds interleave all configurations (gRPC too) so
// a burst of outside load hurts one round of everything rather than one configuration.
void keep_best(std::optional<Figures>& best, const Figures& round) {
  if (!best) {
    best = round;
    return;
  }
  if (round.p50_us < best->p50_us) {
    best->p50_us = round.p50_us;
    best->p99_us = round.p99_us;
  }
  best->calls_per_s = std::max(best->calls_per_s, round.calls_per_s);
  best->errors += round.errors;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << "Usage: rpc_bench [--duration-ms N] [--callers N] [--rounds N] [--only TEXT]\n"
                   "  Starts rpc_bench_server (and grpc_bench_server when built) from this binary's\n"
                   "  directory, then measures 1-caller latency and N-caller (default 16) throughput\n"
                   "  for each transport, codec and payload size, N ms (default 1000) each; every\n"
                   "  figure is the best of --rounds (default 3) interleaved rounds.\n"
                   "  --only TEXT measures just the rows whose \"transport/codec/bytes\" contains TEXT\n"
                   "  (e.g. tcp/msgpack/4096), for profiling; gRPC rows are always measured.\n";
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "rpc_bench: " << arg << " needs a value\n";
      return 2;
    }
    if (arg == "--only") {
      options.only = argv[++i];
      continue;
    }
    const int value = std::atoi(argv[++i]);
    if (arg == "--duration-ms" && value > 0) {
      options.duration = std::chrono::milliseconds(value);
    } else if (arg == "--callers" && value > 0) {
      options.callers = value;
    } else if (arg == "--rounds" && value > 0) {
      options.rounds = value;
    } else {
      std::cerr << "rpc_bench: bad argument '" << arg << " " << argv[i] << "' (see --help)\n";
      return 2;
    }
  }
  const auto dir = std::filesystem::canonical("/proc/self/exe").parent_path();
  testing::TempDir tmp("rpc-bench");
  const auto secret_file = tmp / "secret";
  const std::string secret = "bench-" + std::to_string(::getpid()) + "-" +
                             std::to_string(Clock::now().time_since_epoch().count());
  std::ofstream(secret_file) << secret << "\n";
  ::chmod(secret_file.c_str(), 0600);

  const int tcp_port = testing::free_tcp_port(), http_port = testing::free_tcp_port();
  testing::ChildProcess server({.executable = (dir / "rpc_bench_server").string(),
                                .args = {"--tcp-port", std::to_string(tcp_port), "--http-port", std::to_string(http_port),
                                         "--secret-file", secret_file.string()},
                                .log_file = tmp / "rpc_bench_server.log"});
  if (!server.wait_for_port(tcp_port) || !server.wait_for_port(http_port)) {
    std::cerr << "rpc_bench: rpc_bench_server did not start:\n" << server.log_tail();
    return 1;
  }
  struct Config {
    std::string transport, codec;
    std::size_t size;
    CallFactory calls;
    std::optional<Figures> best;
  };
  std::vector<Config> configs;
  const std::vector<std::size_t> sizes = {64, 4096};
  auto tcp = std::make_shared<rpc::TcpChannel>("127.0.0.1", tcp_port, rpc::TcpChannelOptions{.credential = secret});
  auto http = std::make_shared<rpc::HttpChannel>(
      "127.0.0.1", http_port,
      rpc::HttpChannelOptions{.credential = secret, .max_connections = static_cast<std::size_t>(options.callers)});
  std::optional<testing::ChildProcess> grpc_server;
#ifdef HOMESTEAD_BENCH_GRPC
  const int grpc_port = testing::free_tcp_port();
  grpc_server.emplace(testing::ProcessOptions{.executable = (dir / "grpc_bench_server").string(),
                                              .args = {"--port", std::to_string(grpc_port)},
                                              .log_file = tmp / "grpc_bench_server.log"});
  if (!grpc_server->wait_for_port(grpc_port)) {
    std::cerr << "rpc_bench: grpc_bench_server did not start:\n" << grpc_server->log_tail();
    return 1;
  }
  auto grpc_channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials());
  for (const auto size : sizes) configs.push_back({"grpc", "protobuf", size, grpc_calls(grpc_channel, size), {}});
#endif
  for (const auto size : sizes) {
    for (const auto codec : {rpc::Codec::json, rpc::Codec::msgpack}) {
      for (const auto& [name, channel] : {std::pair<std::string, std::shared_ptr<rpc::Channel>>{"tcp", tcp}, {"http", http}}) {
        const std::string key = name + "/" + std::string(rpc::to_string(codec)) + "/" + std::to_string(size);
        if (key.find(options.only) == std::string::npos) continue;
        configs.push_back({name, std::string(rpc::to_string(codec)), size, homestead_calls(channel, codec, size), {}});
      }
    }
  }
  std::cerr << "measuring " << configs.size() << " configurations, " << options.rounds << " rounds of "
            << options.duration.count() << " ms per figure...\n";
  for (int round = 0; round < options.rounds; ++round) {
    for (auto& config : configs) keep_best(config.best, measure(config.calls, options));
  }
  std::vector<Row> rows;
  std::vector<std::optional<Figures>> grpc(sizes.size());
  for (const auto& config : configs) {
    if (config.transport == "grpc") {
      grpc[config.size == sizes[0] ? 0 : 1] = config.best;
    } else {
      rows.push_back({config.transport, config.codec, config.size, *config.best});
    }
  }

  std::printf("\nrpc benchmark: loopback, servers in separate processes, %d callers for throughput, best of %d x %lld ms\n",
              options.callers, options.rounds, static_cast<long long>(options.duration.count()));
  std::printf("%-5s %-8s %6s | %9s %9s %9s %7s %-8s | %10s %10s %7s %-9s\n", "trans", "codec", "bytes", "p50 us",
              "p99 us", "gRPC p50", "ratio", "target", "calls/s", "gRPC c/s", "ratio", "target");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (grpc[i]) {
      const auto& g = *grpc[i];
      std::printf("%-5s %-8s %6zu | %9.1f %9.1f %9.1f %7s %-8s | %10.0f %10.0f %7s %-9s\n", "grpc", "protobuf", sizes[i],
                  g.p50_us, g.p99_us, g.p50_us, "1.00x", "", g.calls_per_s, g.calls_per_s, "1.00x", "");
    }
  }
  bool all_met = true;
  std::string json = "[";
  for (const auto& row : rows) {
    const std::size_t size_index = row.size == sizes[0] ? 0 : 1;
    const auto& g = grpc[size_index];
    std::string p50_ratio = "n/a", thr_ratio = "n/a", p50_target = "-", thr_target = "-";
    if (g) {
      const double lat = row.figures.p50_us / g->p50_us, thr = row.figures.calls_per_s / g->calls_per_s;
      p50_ratio = ratio_text(lat);
      thr_ratio = ratio_text(thr);
      std::optional<double> min_thr;
      if (row.transport == "tcp") {
        min_thr = 3.0;
        const bool met = lat <= 0.6;
        all_met &= met;
        p50_target = std::string("<=0.6 ") + (met ? "ok" : "MISS");
      } else if (row.size == 64) {
        min_thr = 1.5;
      } else if (row.codec == "msgpack") {
        min_thr = 1.0;
      }
      if (min_thr) {
        const bool met = thr >= *min_thr;
        all_met &= met;
        thr_target = ">=" + ratio_text(*min_thr).substr(0, ratio_text(*min_thr).size() - 1) + " " + (met ? "ok" : "MISS");
      }
    }
    std::printf("%-5s %-8s %6zu | %9.1f %9.1f %9.1f %7s %-8s | %10.0f %10.0f %7s %-9s%s\n", row.transport.c_str(),
                row.codec.c_str(), row.size, row.figures.p50_us, row.figures.p99_us, g ? g->p50_us : 0.0,
                p50_ratio.c_str(), p50_target.c_str(), row.figures.calls_per_s, g ? g->calls_per_s : 0.0,
                thr_ratio.c_str(), thr_target.c_str(),
                row.figures.errors ? (" errors=" + std::to_string(row.figures.errors)).c_str() : "");
    char item[256];
    std::snprintf(item, sizeof item,
                  "%s{\"transport\":\"%s\",\"codec\":\"%s\",\"bytes\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                  "\"calls_per_s\":%.0f,\"grpc_p50_us\":%.1f,\"grpc_calls_per_s\":%.0f}",
                  json.size() > 1 ? "," : "", row.transport.c_str(), row.codec.c_str(), row.size, row.figures.p50_us,
                  row.figures.p99_us, row.figures.calls_per_s, g ? g->p50_us : 0.0, g ? g->calls_per_s : 0.0);
    json += item;
  }
  json += "]";
  if (!grpc[0]) std::printf("gRPC peer not built (no gRPC/Protobuf CMake packages): ratios not available\n");
  std::printf("targets (issue 6): tcp >= 3x gRPC calls/s and p50 <= 0.6x; http >= 1.5x at 64 B, >= 1x msgpack 4 KiB: %s\n",
              grpc[0] ? (all_met ? "all met" : "SOME MISSED") : "not checked");
  std::printf("json: %s\n", json.c_str());
  tcp.reset();
  http.reset();
  server.stop();
  if (grpc_server) grpc_server->stop();
  return 0;
}
