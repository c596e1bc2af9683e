// rpc_bench_server: the Bench service over tcp and http in its own process, for rpc_bench.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "cloud/rpc/http_server.h"
#include "cloud/rpc/skeleton.h"
#include "cloud/rpc/tcp_server.h"
#include "tests/bench/rpc/bench_service.h"

namespace {
std::atomic<bool> g_stop{false};
}

int main(int argc, char** argv) {
  using namespace homestead::rpc;
  int tcp_port = 0, http_port = 0;
  std::string secret_file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << "Usage: rpc_bench_server --tcp-port N --http-port N --secret-file PATH\n"
                   "  Serves Bench/Echo on 127.0.0.1 over both transports until SIGTERM.\n";
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "rpc_bench_server: " << arg << " needs a value (see --help)\n";
      return 2;
    }
    const std::string value = argv[++i];
    if (arg == "--tcp-port") {
      tcp_port = std::atoi(value.c_str());
    } else if (arg == "--http-port") {
      http_port = std::atoi(value.c_str());
    } else if (arg == "--secret-file") {
      secret_file = value;
    } else {
      std::cerr << "rpc_bench_server: unknown argument '" << arg << "' (see --help)\n";
      return 2;
    }
  }
  std::string secret;
  std::ifstream in(secret_file);
  if (tcp_port <= 0 || http_port <= 0 || !std::getline(in, secret) || secret.empty()) {
    std::cerr << "rpc_bench_server: --tcp-port, --http-port and a readable --secret-file are required\n";
    return 2;
  }
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });
  ServerOptions options;
  options.credentials = {secret};
  options.workers = 2;  // the machine has 2 cores; more threads only add switching
  options.max_request_bytes = 1 << 20;
  Server server(options);
  Skeleton<bench::BenchService> skeleton;
  skeleton.on<bench::BenchService::Echo>([](const bench::Payload& p) { return p; });
  skeleton.install(server);
  TcpListener tcp(server, "127.0.0.1", tcp_port);
  tcp.start();
  HttpListener http(server, "127.0.0.1", http_port, HttpListenerOptions{.threads = 32});
  http.start();
  std::printf("listening tcp %d http %d\n", tcp_port, http_port);
  std::fflush(stdout);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.drain(std::chrono::seconds(2));
  http.stop();
  tcp.stop();
  return 0;
}
