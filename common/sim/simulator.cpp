#include "common/sim/simulator.h"

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

}  // namespace homestead::sim
