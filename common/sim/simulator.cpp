#include "common/sim/simulator.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace homestead::sim {

const char* to_string(TraceKind kind) {
  switch (kind) {
    case TraceKind::send: return "send";
    case TraceKind::deliver: return "deliver";
    case TraceKind::drop: return "drop";
    case TraceKind::duplicate: return "duplicate";
    case TraceKind::timer: return "timer";
    case TraceKind::crash: return "crash";
    case TraceKind::restart: return "restart";
    case TraceKind::partition: return "partition";
    case TraceKind::heal: return "heal";
    case TraceKind::action: return "action";
  }
  return "?";
}

void write_trace_file(std::uint64_t seed, const std::string& text) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TMPDIR");
  const std::string path = std::string(dir && *dir ? dir : "/tmp") + "/homestead-sim-trace-seed" +
                           std::to_string(seed) + "-" + std::to_string(counter++) + ".txt";
  std::ofstream out(path);
  out << text;
  std::fprintf(stderr, "sim: trace of seed %llu written to %s\n", static_cast<unsigned long long>(seed),
               path.c_str());
}

}  // namespace homestead::sim
