// grpc_bench_server: the gRPC peer for rpc_bench, a synchronous unary Echo server.
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <iostream>
#include <string>
#include <thread>

#include "echo.grpc.pb.h"

namespace {
std::atomic<bool> g_stop{false};

class EchoImpl final : public homestead::bench::EchoService::Service {
  grpc::Status Echo(grpc::ServerContext*, const homestead::bench::EchoMessage* request,
                    homestead::bench::EchoMessage* reply) override {
    reply->set_data(request->data());
    return grpc::Status::OK;
  }
};
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "--port") {
    std::cout << "Usage: grpc_bench_server --port N\n  Serves a unary Echo on 127.0.0.1:N until SIGTERM.\n";
    return argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") ? 0 : 2;
  }
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });
  EchoImpl service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(std::string("127.0.0.1:") + argv[2], grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "grpc_bench_server: cannot listen on 127.0.0.1:" << argv[2] << "\n";
    return 1;
  }
  std::cout << "listening " << argv[2] << std::endl;
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server->Shutdown();
  return 0;
}
