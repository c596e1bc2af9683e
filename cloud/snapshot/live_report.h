// The live snapshot's parts as JSON (what GET /api/v1/snapshots/{id} serves and what a
// node hands the initiator) and the consistency check over a set of parts.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cloud/snapshot/live_participant.h"

namespace homestead::snapshot {

nlohmann::json to_json(const LiveLocal& local);
// Throws std::invalid_argument naming the bad field.
LiveLocal live_local_from_json(const nlohmann::json& json);

// Channels in a part (cuts recorded + incoming records). They are only ever added to a
// process's record, so of two versions of one part the one with more is the newer (a
// gateway ships its part again when a channel joins it after it shipped).
inline std::size_t channel_count(const LiveLocal& part) { return part.sent_through.size() + part.incoming.size(); }
// Keeps `part` in `parts` (by process) unless a version with more channels is there: a
// gateway's part shipped again after a channel joined it has more, and versions only grow.
inline void keep_most_channels(std::map<ProcessId, LiveLocal>& parts, LiveLocal part) {
  auto it = parts.find(part.process);
  if (it == parts.end()) {
    parts.emplace(part.process, std::move(part));
  } else if (channel_count(part) >= channel_count(it->second)) {
    it->second = std::move(part);
  }
}

// Checks every channel whose two ends are both among `parts` and whose receiver closed it:
//  - the receiver learnt the sender's cut seq, equal to what the sender recorded;
//  - received-before-cut + in flight + lost = the sender's cut seq (nothing unaccounted,
//    nothing twice); lost seqs lie within the cut, apart from the in-flight ones, and late
//    seqs (lost ones that arrived after the close) are among the lost;
//  - nothing received before the receiver's cut has a seq beyond the sender's cut (no
//    orphan), and every in-flight seq lies within the sender's cut, each once.
// Returns one line per violation (empty: consistent).
std::vector<std::string> check_live_cut(const std::map<ProcessId, LiveLocal>& parts);

// The gateway outbox positions across the cut (gateway parts "gateway:<home>/<id>" record
// {"pushed_through", "acked_through"}; cloud parts record {"sync": {"<home>/<id>":
// applied_through}}):
//  - no cloud member has applied beyond what the gateway had pushed before its cut (an
//    applied push sent after the cut would be an orphan, carried there by the Sync call or
//    by Raft replication);
//  - the gateway was told nothing beyond what some member had applied at its cut (the
//    reply that told it was sent before that member's cut).
std::vector<std::string> check_sync_positions(const std::map<ProcessId, LiveLocal>& parts);

// The whole picture for the API: status (complete once every participant reported a
// complete part and none is missing), participants, channels, consistency. `missing`:
// participants without a part, with the reason (not recorded yet, unreachable).
nlohmann::json global_report(SnapshotId id, const std::map<ProcessId, LiveLocal>& parts,
                             const std::map<ProcessId, std::string>& missing);

}  // namespace homestead::snapshot
