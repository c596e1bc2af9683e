#include "cloud/cloudd/snapshot_state.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace homestead::cloudd {
namespace {

void put_field(std::string& out, const char* name, std::uint64_t value) {
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(value);
  out += ',';
}

}  // namespace

std::string cloud_snapshot_state(const RaftServer& raft, std::uint64_t node_id) {
  // Written as text, not built as a JSON document: a member records this once per snapshot,
  // on the thread that carries Raft frames (snapshot_channels.h).
  std::string out = "{";
  // The applied position is read under the same reader lock as the digest: the state hash
  // is the state after exactly that entry.
  raft.read_applied([&](const KvStateMachine& machine, const RaftServer::AppliedPosition& applied) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(machine.state_hash()));
    put_field(out, "node", node_id);
    put_field(out, "applied_index", applied.index);
    put_field(out, "applied_term", applied.term);
    put_field(out, "revision", machine.revision());
    out += "\"state_hash\":\"";
    out += hash;
    out += "\",";
    put_field(out, "keys", machine.size());
    out += "\"sync\":{";
    bool first = true;
    for (const auto& [home_id, home] : machine.services().homes()) {
      for (const auto* gateway : machine.services().gateways(home_id)) {
        if (!first) out += ',';
        first = false;
        out += nlohmann::json(gateway->home + "/" + gateway->id).dump();  // ids are escaped like any JSON string
        out += ':';
        out += std::to_string(gateway->applied_through);
      }
    }
    out += "},";
  });
  put_field(out, "leader_hint", raft.leader_hint());
  put_field(out, "recorded_at_ms",
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()));
  out.back() = '}';  // the last field's comma
  return out;
}

}  // namespace homestead::cloudd
