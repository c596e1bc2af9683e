#include "tests/transactuation/history_checker.h"

#include <algorithm>
#include <functional>
#include <set>

namespace homestead::transactuation::simhome {

Json written_by(TxnId txn) { return Json{{"w", txn}}; }
std::string claim_key(const std::string& device) { return "claim_" + device; }

namespace {

struct Intended {
  std::string device;
  std::uint64_t seq;
  TxnId txn;
};

std::string txn_name(TxnId id) { return "txn " + std::to_string(id >> 32) + ":" + std::to_string(id & 0xffffffffu); }

// Finds a cycle in the graph and returns it as "a -> b -> a", or "" when acyclic.
std::string find_cycle(const std::map<TxnId, std::set<TxnId>>& edges,
                       const std::map<std::pair<TxnId, TxnId>, std::string>& why) {
  std::map<TxnId, int> color;  // 0 white, 1 on stack, 2 done
  std::vector<TxnId> stack;
  std::string found;
  std::function<bool(TxnId)> visit = [&](TxnId node) {
    color[node] = 1;
    stack.push_back(node);
    auto it = edges.find(node);
    if (it != edges.end()) {
      for (TxnId next : it->second) {
        if (color[next] == 1) {
          auto start = std::find(stack.begin(), stack.end(), next);
          for (auto p = start; p != stack.end(); ++p) {
            const TxnId to = (p + 1 == stack.end()) ? next : *(p + 1);
            found += txn_name(*p) + " -(" + why.at({*p, to}) + ")-> ";
          }
          found += txn_name(next);
          return true;
        }
        if (color[next] == 0 && visit(next)) return true;
      }
    }
    stack.pop_back();
    color[node] = 2;
    return false;
  };
  for (const auto& [node, targets] : edges) {
    if (color[node] == 0 && visit(node)) return found;
  }
  return "";
}

}  // namespace

std::vector<std::string> check_history(const std::vector<LogRecord>& durable_log, const History& history,
                                       CheckSummary* summary) {
  std::vector<std::string> violations;
  auto violation = [&](std::string text) { violations.push_back(std::move(text)); };

  std::map<TxnId, TransactuationRecord> intents;
  std::map<TxnId, TransactuationRecord> outcomes;
  std::vector<TxnId> outcome_order;
  std::map<std::string, Intended> intended;  // cmd_id -> what the log says it is
  for (const auto& log_record : durable_log) {
    if (log_record.kind == LogKind::checkpoint) continue;  // a summary; the records it replaced are archived
    TransactuationRecord rec = record_from_json(log_record.body);
    switch (log_record.kind) {
      case LogKind::intent:
        for (const auto& run : rec.actuations) intended[run.cmd_id] = Intended{run.actuation.device, run.seq, rec.id};
        intents[rec.id] = rec;
        break;
      case LogKind::compensate:
        for (const auto& run : rec.compensations) intended[run.cmd_id] = Intended{run.actuation.device, run.seq, rec.id};
        break;
      case LogKind::checkpoint: break;
      case LogKind::outcome:
        if (outcomes.count(rec.id)) violation(txn_name(rec.id) + " has two durable outcomes");
        outcome_order.push_back(rec.id);
        outcomes[rec.id] = rec;
        break;
    }
  }
  auto committed = [&](TxnId id) {
    auto it = outcomes.find(id);
    return it != outcomes.end() &&
           (it->second.status == Status::committed || it->second.status == Status::committed_partial);
  };
  auto durable = [&](TxnId id) { return intents.count(id) > 0 || committed(id); };

  // ---- 4 never twice, 5 durable before sent, 3 per-device seq order ----
  std::map<std::string, int> executed_count;
  std::map<std::string, std::uint64_t> device_last_seq;
  std::map<TxnId, std::set<std::string>> executed_by_txn;
  for (const auto& e : history.executions) {
    if (++executed_count[e.cmd_id] == 2) violation("guarantee 4: cmd_id " + e.cmd_id + " executed twice on " + e.device);
    auto it = intended.find(e.cmd_id);
    if (it == intended.end()) {
      violation("guarantee 5: " + e.device + " executed " + e.cmd_id + " which no durable intent record announces");
    } else if (it->second.device != e.device || it->second.seq != e.seq) {
      violation("guarantee 5: " + e.cmd_id + " executed on " + e.device + " seq " + std::to_string(e.seq) +
                " but the intent says " + it->second.device + " seq " + std::to_string(it->second.seq));
    }
    auto& last = device_last_seq[e.device];
    if (e.seq <= last) {
      violation("guarantee 3: " + e.device + " executed seq " + std::to_string(e.seq) + " (" + e.cmd_id +
                ") after seq " + std::to_string(last));
    }
    last = std::max(last, e.seq);
    executed_by_txn[e.txn].insert(e.cmd_id);
  }
  for (const auto& [id, rec] : intents) {
    if (!outcomes.count(id)) violation("guarantee 5: " + txn_name(id) + " has a durable intent but no outcome after recovery");
  }

  // ---- 1 sensing ----
  for (const auto& [id, seen] : history.logic) {
    for (const auto& reading : seen.readings) {
      const Time age = seen.at - reading.effective_time();
      if (reading.value.is_null()) violation("guarantee 1: " + txn_name(id) + " logic saw failed sensor " + reading.device);
      if (age > seen.sensing.freshness) {
        violation("guarantee 1: " + txn_name(id) + " logic saw " + reading.device + " aged " + std::to_string(age) +
                  " us > freshness " + std::to_string(seen.sensing.freshness));
      }
    }
    if (!seen.sensing.require.holds(seen.readings.size(), seen.sensing.sensors.size())) {
      violation("guarantee 1: " + txn_name(id) + " logic ran with " + std::to_string(seen.readings.size()) + " of " +
                std::to_string(seen.sensing.sensors.size()) + " sensors under " + seen.sensing.require.text());
    }
    if (seen.sensing.window && !seen.sensing.window->contains(seen.at, 0)) {
      violation("guarantee 1: " + txn_name(id) + " logic ran outside its window " + seen.sensing.window->text());
    }
  }
  for (const auto& [id, rec] : outcomes) {
    if (rec.status == Status::aborted && rec.reason == Reason::sensing) {
      if (executed_by_txn.count(id)) violation("guarantee 1: " + txn_name(id) + " aborted for sensing but actuated");
      if (history.logic.count(id)) violation("guarantee 1: " + txn_name(id) + " aborted for sensing but its logic ran");
    }
  }

  // ---- 2 actuating ----
  for (const auto& [id, rec] : outcomes) {
    const auto& executed = executed_by_txn[id];
    if (rec.status == Status::aborted && !rec.state_writes.empty()) {
      violation("guarantee 2: aborted " + txn_name(id) + " applied state writes");
    }
    // The policy is over the actuations the logic produced; deciding to do nothing claims nothing.
    if (rec.status == Status::committed && !rec.actuations.empty()) {
      std::size_t performed = 0;
      for (const auto& run : rec.actuations) performed += executed.count(run.cmd_id);
      if (!rec.actuating.require.holds(performed, rec.actuations.size())) {
        violation("guarantee 2: " + txn_name(id) + " committed under " + rec.actuating.require.text() + " but only " +
                  std::to_string(performed) + " of " + std::to_string(rec.actuations.size()) +
                  " actuations were performed by the devices");
      }
    }
    for (const auto& [key, value] : rec.state_writes) {
      if (key.rfind("claim_", 0) != 0) continue;
      const std::string device = key.substr(6);
      bool performed = false;
      for (const auto& run : rec.actuations) {
        if (run.actuation.device == device && executed.count(run.cmd_id)) performed = true;
      }
      if (!performed) violation("guarantee 2: " + txn_name(id) + " claims " + key + " but " + device + " never actuated for it");
    }
  }
  for (const auto& [id, seen] : history.logic) {
    if (!durable(id)) continue;
    for (const auto& [key, value] : seen.state) {
      if (value.is_null()) continue;
      const TxnId writer = value.at("w").get<TxnId>();
      if (!committed(writer)) {
        violation("guarantee 2: " + txn_name(id) + " saw " + key + " written by " + txn_name(writer) +
                  " which never durably committed");
      }
    }
  }

  // ---- 3 serializability: conflict graph ----
  std::map<TxnId, std::set<TxnId>> edges;
  std::map<std::pair<TxnId, TxnId>, std::string> why;
  auto edge = [&](TxnId from, TxnId to, const std::string& reason) {
    if (from == to) return;
    edges[from].insert(to);
    why.emplace(std::make_pair(from, to), reason);
  };
  std::map<std::string, std::vector<TxnId>> writers;  // per key, in commit (log) order
  for (TxnId id : outcome_order) {
    if (!committed(id)) continue;
    for (const auto& [key, value] : outcomes[id].state_writes) {
      auto& list = writers[key];
      if (!list.empty()) edge(list.back(), id, "ww " + key);
      list.push_back(id);
    }
  }
  for (const auto& [id, seen] : history.logic) {
    if (!durable(id)) continue;
    for (const auto& [key, value] : seen.state) {
      const auto& list = writers[key];
      std::ptrdiff_t read_index = -1;
      if (!value.is_null()) {
        const TxnId writer = value.at("w").get<TxnId>();
        auto it = std::find(list.begin(), list.end(), writer);
        if (it == list.end()) continue;  // reported above under guarantee 2
        read_index = it - list.begin();
        edge(writer, id, "wr " + key);
      }
      for (auto next = static_cast<std::size_t>(read_index + 1); next < list.size(); ++next) {
        if (list[next] != id) {
          edge(id, list[next], "rw " + key);
          break;
        }
      }
    }
  }
  std::map<std::string, TxnId> last_on_device;
  for (const auto& e : history.executions) {
    auto it = last_on_device.find(e.device);
    if (it != last_on_device.end()) edge(it->second, e.txn, "device " + e.device);
    last_on_device[e.device] = e.txn;
  }
  const std::string cycle = find_cycle(edges, why);
  if (!cycle.empty()) violation("guarantee 3: not serializable, cycle " + cycle);

  if (summary != nullptr) {
    for (const auto& [id, rec] : outcomes) {
      summary->committed += rec.status == Status::committed;
      summary->committed_partial += rec.status == Status::committed_partial;
      if (rec.status == Status::aborted) {
        ++summary->aborted;
        ++summary->aborted_by_reason[to_string(rec.reason)];
      }
      summary->recovered += rec.recovered;
    }
    summary->executions += history.executions.size();
  }
  return violations;
}

}  // namespace homestead::transactuation::simhome
