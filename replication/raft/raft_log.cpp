#include "replication/raft/raft_log.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace homestead::raft {

void RaftLog::reset(Index snapshot_index, Term snapshot_term, std::vector<Entry> entries) {
  snapshot_index_ = snapshot_index;
  snapshot_term_ = snapshot_term;
  entries_ = std::move(entries);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].index != snapshot_index + 1 + i) {
      throw std::invalid_argument("raft log: entry " + std::to_string(entries_[i].index) + " is not contiguous after " +
                                  std::to_string(snapshot_index + i));
    }
  }
  unstable_from_ = last_index() + 1;
}

std::optional<Term> RaftLog::term(Index i) const {
  if (i == snapshot_index_) return snapshot_term_;
  if (i < snapshot_index_ || i > last_index()) return std::nullopt;
  return entries_[i - first_index()].term;
}

bool RaftLog::is_up_to_date(Index last, Term last_t) const {
  return last_t > last_term() || (last_t == last_term() && last >= last_index());
}

std::optional<Index> RaftLog::maybe_append(Index prev_index, Term prev_term, const std::vector<Entry>& entries) {
  if (!match_term(prev_index, prev_term)) {
    // An entry at or below our snapshot is committed, so it matches whatever the leader says.
    if (prev_index >= snapshot_index_ || prev_index == 0) return std::nullopt;
  }
  for (const Entry& e : entries) {
    if (e.index <= snapshot_index_) continue;  // already covered by the snapshot
    const auto existing = term(e.index);
    if (existing == e.term) continue;
    if (existing) {
      // Conflict: drop this entry and everything after it (Raft figure 2, receiver rule 3).
      entries_.resize(e.index - first_index());
      unstable_from_ = std::min(unstable_from_, e.index);
    }
    if (e.index != last_index() + 1) throw std::logic_error("raft log: gap while appending");
    entries_.push_back(e);
  }
  return prev_index + entries.size();
}

void RaftLog::append(Entry entry) {
  if (entry.index != last_index() + 1) throw std::logic_error("raft log: append out of order");
  entries_.push_back(std::move(entry));
}

std::vector<Entry> RaftLog::slice(Index lo, Index hi, std::size_t max_bytes, std::size_t max_count) const {
  std::vector<Entry> out;
  std::size_t bytes = 0;
  for (Index i = std::max(lo, first_index()); i <= std::min(hi, last_index()) && out.size() < max_count; ++i) {
    const Entry& e = at(i);
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

Index RaftLog::find_conflict_by_term(Index index, Term t) const {
  index = std::min(index, last_index());
  while (index > snapshot_index_) {
    if (at(index).term <= t) return index;
    --index;
  }
  return index;
}

void RaftLog::compact(Index index) {
  if (index <= snapshot_index_) return;
  if (index > last_index()) throw std::logic_error("raft log: compact beyond the last index");
  const Term t = at(index).term;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - snapshot_index_));
  snapshot_index_ = index;
  snapshot_term_ = t;
  unstable_from_ = std::max(unstable_from_, index + 1);
}

std::vector<Entry> RaftLog::unstable_entries() const {
  if (!has_unstable()) return {};
  return {entries_.begin() + static_cast<std::ptrdiff_t>(unstable_from_ - first_index()), entries_.end()};
}

}  // namespace homestead::raft
