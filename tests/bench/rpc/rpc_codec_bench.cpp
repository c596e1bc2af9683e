// rpc_codec_bench: the in-process cost of one message through a codec (encode + decode of
// the benchmark's {data: string} message, 64 B and 4 KiB), for the streaming codecs the
// stubs use (message_codec.h), the nlohmann document path they replaced, and, when built
// with Protobuf, protobuf's SerializeToString/ParseFromString as the peer. Shows where the
// tcp transport's per-call time went before and after (cloud/rpc/README.md).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>

#include "cloud/rpc/message_codec.h"
#include "tests/bench/rpc/bench_service.h"

#ifdef HOMESTEAD_BENCH_GRPC
#include "echo.pb.h"
#endif

namespace {

using namespace homestead::rpc;
using Clock = std::chrono::steady_clock;

// Nanoseconds per call of `round_trip`, best of 3 rounds of `iterations`.
double ns_per_call(int iterations, const std::function<std::size_t()>& round_trip) {
  double best = 0;
  std::size_t sink = 0;
  for (int round = 0; round < 3; ++round) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) sink += round_trip();
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;
    if (round == 0 || ns < best) best = ns;
  }
  if (sink == 1) std::puts("");  // keeps the work observable to the optimiser
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << "Usage: rpc_codec_bench [--iterations N]\n"
                   "  Encode + decode of one {data: string} message (64 B and 4 KiB), in process:\n"
                   "  the rpc streaming codecs, the nlohmann document path, and protobuf when built.\n";
      return 0;
    }
    if (arg == "--iterations" && i + 1 < argc && std::atoi(argv[i + 1]) > 0) {
      iterations = std::atoi(argv[++i]);
    } else {
      std::cerr << "rpc_codec_bench: bad argument '" << arg << "' (see --help)\n";
      return 2;
    }
  }
  std::printf("codec cost, encode + decode of one message in process, best of 3 x %d\n", iterations);
  std::printf("%-8s %6s | %12s %12s %8s | %12s %8s\n", "codec", "bytes", "streaming ns", "nlohmann ns", "speedup",
              "protobuf ns", "ratio");
  for (const std::size_t size : {64u, 4096u}) {
    bench::Payload payload;
    for (std::size_t i = 0; i < size; ++i) payload.data.push_back(static_cast<char>('a' + i % 26));
    double protobuf_ns = 0;
#ifdef HOMESTEAD_BENCH_GRPC
    homestead::bench::EchoMessage proto;
    proto.set_data(payload.data);
    protobuf_ns = ns_per_call(iterations, [&] {
      std::string bytes;
      proto.SerializeToString(&bytes);
      homestead::bench::EchoMessage back;
      back.ParseFromString(bytes);
      return back.data().size();
    });
#endif
    for (const Codec codec : {Codec::json, Codec::msgpack}) {
      const double streaming = ns_per_call(iterations, [&] {
        return decode_message<bench::Payload>(encode_message(payload, codec), codec).data.size();
      });
      const double document = ns_per_call(iterations / 10 + 1, [&] {
        return from_document<bench::Payload>(decode(encode(to_document(payload), codec), codec)).data.size();
      });
      char ratio[32] = "-";
      if (protobuf_ns > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", streaming / protobuf_ns);
      std::printf("%-8s %6zu | %12.0f %12.0f %7.1fx | %12.0f %8s\n", std::string(to_string(codec)).c_str(), size,
                  streaming, document, document / streaming, protobuf_ns, ratio);
    }
  }
  return 0;
}
