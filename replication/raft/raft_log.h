// The core's in-memory view of the log: a snapshot boundary followed by entries. It also
// remembers which suffix has not been handed to storage yet (the "unstable" part that the
// next Ready must persist).
#pragma once

#include <algorithm>
#include <optional>
#include <vector>

#include "replication/raft/types.h"

namespace homestead::raft {

class RaftLog {
 public:
  // Log that starts right after `snapshot_index` (0 for an empty log) and holds `entries`,
  // all already on stable storage.
  void reset(Index snapshot_index, Term snapshot_term, std::vector<Entry> entries);

  Index snapshot_index() const { return snapshot_index_; }
  Term snapshot_term() const { return snapshot_term_; }
  Index first_index() const { return snapshot_index_ + 1; }
  Index last_index() const { return snapshot_index_ + entries_.size(); }
  Term last_term() const { return entries_.empty() ? snapshot_term_ : entries_.back().term; }
  // The term of entry i, or nullopt when i is compacted away or beyond the end.
  std::optional<Term> term(Index i) const;
  bool match_term(Index i, Term t) const { return term(i) == t; }
  // Raft 5.4.1: is a candidate's log (last_index, last_term) at least as up to date as ours?
  bool is_up_to_date(Index last_index, Term last_term) const;
  const Entry& at(Index i) const { return entries_.at(i - first_index()); }

  // Follower side of AppendEntries. Returns the index of the last new entry when the entry
  // before them matches (prev_index, prev_term), else nullopt. Conflicting suffixes are cut.
  std::optional<Index> maybe_append(Index prev_index, Term prev_term, const std::vector<Entry>& entries);
  void append(Entry entry);
  // Entries [lo, hi] limited to max_bytes of payload (at least one) and max_count.
  std::vector<Entry> slice(Index lo, Index hi, std::size_t max_bytes, std::size_t max_count) const;
  // Largest index <= index whose term is <= term (fast backtracking, etcd's findConflictByTerm).
  Index find_conflict_by_term(Index index, Term term) const;
  // Drop entries up to and including index (a snapshot now covers them).
  void compact(Index index);

  // Entries appended or rewritten since the last mark_stable.
  std::vector<Entry> unstable_entries() const;
  bool has_unstable() const { return unstable_from_ <= last_index(); }
  void mark_stable() { unstable_from_ = last_index() + 1; }
  // Last index known to be on stable storage.
  Index stable_index() const { return std::min(unstable_from_ - 1, last_index()); }

 private:
  Index snapshot_index_ = 0;
  Term snapshot_term_ = 0;
  std::vector<Entry> entries_;
  Index unstable_from_ = 1;
};

}  // namespace homestead::raft
