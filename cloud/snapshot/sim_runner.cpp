#include "cloud/snapshot/sim_runner.h"

#include <sstream>
#include <stdexcept>

namespace homestead::snapshot {

void play_script(TokenNetwork& network, const std::vector<ScriptEvent>& events, const std::string& events_file) {
  for (const auto& event : events) {
    switch (event.kind) {
      case EventKind::send:
        try {
          network.send_tokens(event.from, event.to, event.amount);
        } catch (const InputError&) {
          throw;  // e.g. the delays file ran out: already names its file
        } catch (const std::runtime_error& error) {
          throw InputError(events_file, event.line, error.what());
        }
        break;
      case EventKind::snapshot:
        network.start_snapshot(event.from);
        break;
      case EventKind::tick:
        for (std::int64_t i = 0; i < event.amount; ++i) network.tick();
        break;
    }
  }
  network.run_until_snapshots_complete();
}

std::string format_snapshot(const TokenSnapshot& snapshot) {
  std::ostringstream out;
  out << snapshot.id << '\n';
  for (const auto& [node, tokens] : snapshot.states) out << node << ' ' << tokens << '\n';
  for (const auto& [link, messages] : snapshot.channels) {
    for (const auto& message : messages) {
      out << link.first << ' ' << link.second << " token(" << message.tokens << ")\n";
    }
  }
  return out.str();
}

std::string format_snapshots(const TokenNetwork& network) {
  std::string out;
  for (SnapshotId id = 0; id < network.snapshot_count(); ++id) {
    if (id > 0) out += '\n';
    out += format_snapshot(network.snapshot(id));
  }
  return out;
}

}  // namespace homestead::snapshot
