#include "transactuation/lock_table.h"

#include <algorithm>
#include <stdexcept>

namespace homestead::transactuation {

std::string device_resource(const std::string& device) { return "device:" + device; }
std::string state_resource(const std::string& key) { return "state:" + key; }

std::vector<LockRequest> normalize_locks(std::vector<LockRequest> requests) {
  std::map<std::string, LockMode> merged;
  for (const auto& request : requests) {
    auto [it, inserted] = merged.emplace(request.resource, request.mode);
    if (!inserted && request.mode == LockMode::exclusive) it->second = LockMode::exclusive;
  }
  std::vector<LockRequest> out;
  for (const auto& [resource, mode] : merged) out.push_back(LockRequest{resource, mode});
  return out;
}

void LockTable::enqueue(TxnId txn, const std::vector<LockRequest>& requests) {
  if (requests_.count(txn)) throw std::logic_error("LockTable: txn " + std::to_string(txn) + " enqueued twice");
  const auto normalized = normalize_locks(requests);
  for (const auto& request : normalized) queues_[request.resource].push_back(Entry{txn, request.mode});
  requests_[txn] = normalized;
}

static bool compatible(LockMode a, LockMode b) { return a == LockMode::shared && b == LockMode::shared; }

bool LockTable::granted(TxnId txn) const {
  auto it = requests_.find(txn);
  if (it == requests_.end()) return false;
  for (const auto& request : it->second) {
    for (const Entry& entry : queues_.at(request.resource)) {
      if (entry.txn == txn) break;
      if (!compatible(entry.mode, request.mode)) return false;
    }
  }
  return true;
}

std::vector<TxnId> LockTable::blockers(TxnId txn) const {
  std::vector<TxnId> out;
  auto it = requests_.find(txn);
  if (it == requests_.end()) return out;
  for (const auto& request : it->second) {
    for (const Entry& entry : queues_.at(request.resource)) {
      if (entry.txn == txn) break;
      if (!compatible(entry.mode, request.mode)) out.push_back(entry.txn);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void LockTable::release(TxnId txn) {
  auto it = requests_.find(txn);
  if (it == requests_.end()) return;
  for (const auto& request : it->second) {
    auto queue = queues_.find(request.resource);
    auto& entries = queue->second;
    entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.txn == txn; }),
                  entries.end());
    if (entries.empty()) queues_.erase(queue);
  }
  requests_.erase(it);
}

}  // namespace homestead::transactuation
