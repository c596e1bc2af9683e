// Runs a parsed event script on a TokenNetwork and prints the snapshots in snapshot-sim's
// stable text format (see README.md): per snapshot, in id order and separated by a blank
// line, the id, then "<node> <tokens>" per node in ascending id order, then
// "<src> <dst> token(<n>)" per recorded in-flight message, by (src, dst) then arrival order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cloud/snapshot/sim_input.h"
#include "cloud/snapshot/token_network.h"

namespace homestead::snapshot {

// Plays the events in file order at the current time (a tick advances it), then ticks until
// every snapshot is complete. A send of more tokens than the node holds is an InputError at
// that event's line.
void play_script(TokenNetwork& network, const std::vector<ScriptEvent>& events,
                 const std::string& events_file = "events");

std::string format_snapshot(const TokenSnapshot& snapshot);
// Every snapshot of the network, in id order, separated by blank lines.
std::string format_snapshots(const TokenNetwork& network);

}  // namespace homestead::snapshot
