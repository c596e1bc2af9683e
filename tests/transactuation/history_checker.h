// Verifies the five transactuation guarantees on one simulated history: the gateway's
// durable intent log (after a final crash, so only what was fsynced), every actuation the
// devices really performed, and what each logic function was shown. Returns a list of
// violations, each a sentence naming the transactuation, device or key involved.
//
//   1 sensing:     logic saw only fresh, readable readings meeting the policy's quorum and
//                  window; a transactuation aborted for `sensing` actuated nothing.
//   2 actuating:   committed ALL/ANY/AT_LEAST ones had enough actuations really performed;
//                  every claim key written on success names an actuation a device performed;
//                  no logic ever saw a state value written by a transactuation that did not commit.
//   3 serializable: the conflict graph over committed / actuating transactuations (state
//                  reads-from, write-write, anti-dependencies, per-device execution order)
//                  is acyclic, and each device executed commands in increasing seq order.
//   4 no undo:     no cmd_id was executed twice.
//   5 durability:  every performed command is in a durable intent or compensate record;
//                  every durable intent has a durable outcome after recovery.
#pragma once

#include <string>
#include <vector>

#include "tests/transactuation/sim_home.h"

namespace homestead::transactuation::simhome {

struct CheckSummary {
  std::size_t committed = 0;
  std::size_t committed_partial = 0;
  std::size_t aborted = 0;
  std::size_t recovered = 0;
  std::size_t executions = 0;
  std::map<std::string, std::size_t> aborted_by_reason;
};

std::vector<std::string> check_history(const std::vector<LogRecord>& durable_log, const History& history,
                                       CheckSummary* summary = nullptr);

// State values the workload writes: {"w": txn}; claim keys are "claim_<device>".
Json written_by(TxnId txn);
std::string claim_key(const std::string& device);

}  // namespace homestead::transactuation::simhome
