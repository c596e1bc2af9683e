// rpc_test_server: a KvService server in its own process, for tests that kill it with
// SIGKILL mid-call. Prints "listening <port>" once it serves and "sleep started" when a
// Sleep call begins, so a test can poll its log instead of guessing.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "cloud/rpc/http_server.h"
#include "cloud/rpc/skeleton.h"
#include "cloud/rpc/tcp_server.h"
#include "tests/rpc/kv_fixture.h"

namespace {

void usage(std::ostream& out) {
  out << "Usage: rpc_test_server --transport tcp|http --port N --secret-file PATH\n"
         "  Serves the test KvService on 127.0.0.1:N until SIGTERM/SIGINT. The secret file holds\n"
         "  the cluster secret (never passed on the command line, so it stays out of ps).\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace homestead::rpc;
  std::string transport, secret_file;
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "rpc_test_server: " << name << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return 0;
    } else if (arg == "--transport") {
      transport = value("--transport");
    } else if (arg == "--port") {
      port = std::atoi(value("--port").c_str());
    } else if (arg == "--secret-file") {
      secret_file = value("--secret-file");
    } else {
      std::cerr << "rpc_test_server: unknown argument '" << arg << "'\n";
      usage(std::cerr);
      return 2;
    }
  }
  if ((transport != "tcp" && transport != "http") || port <= 0 || port > 65535 || secret_file.empty()) {
    std::cerr << "rpc_test_server: --transport must be tcp or http, --port 1..65535, --secret-file required\n";
    return 2;
  }
  std::ifstream in(secret_file);
  std::string secret;
  if (!std::getline(in, secret) || secret.empty()) {
    std::cerr << "rpc_test_server: cannot read a secret from " << secret_file << "\n";
    return 2;
  }
  // Block the stop signals before any thread starts (threads inherit the mask), so main can
  // wait for one with sigwait instead of polling a flag.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  homestead::rpc::testing::KvStore store;
  homestead::rpc::testing::Gate gate;  // never opened: Sleep sleeps its full time
  ServerOptions options;
  options.credentials = {secret};
  Server server(options);
  homestead::rpc::testing::install_kv(server, store, gate);
  // Announce Sleep calls: the test kills the process only once one is really running.
  server.add_method("Kv/Sleep", Semantics::at_least_once,
                    make_raw_handler<homestead::rpc::testing::KvService::Sleep>(
                        [&gate](const homestead::rpc::testing::SleepRequest& r) {
                          std::printf("sleep started\n");
                          std::fflush(stdout);
                          return homestead::rpc::testing::SleepReply{gate.wait(r.millis)};
                        }));
  std::unique_ptr<TcpListener> tcp;
  std::unique_ptr<HttpListener> http;
  if (transport == "tcp") {
    tcp = std::make_unique<TcpListener>(server, "127.0.0.1", port);
    tcp->start();
  } else {
    http = std::make_unique<HttpListener>(server, "127.0.0.1", port);
    http->start();
  }
  std::printf("listening %d\n", port);
  std::fflush(stdout);
  int received = 0;
  sigwait(&stop_signals, &received);
  server.drain(std::chrono::seconds(5));
  gate.open();
  if (tcp) tcp->stop();
  if (http) http->stop();
  return 0;
}
