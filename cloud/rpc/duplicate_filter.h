// The at-most-once duplicate filter: remembers, per client, the replies to requests it has
// executed so a retried or duplicated request gets the saved reply instead of running again.
//
// Pure and serialisable on purpose: no clock (callers pass `now`), no locks, no I/O. The RPC
// server runtime keeps one for at_most_once methods; a replicated state machine embeds one
// (applying entries with the leader-assigned time as `now`) and puts to_json() in its
// snapshots, which gives exactly-once across fail-over.
//
// Memory stays bounded three ways:
//  - acknowledgements: every request carries the client's `ack`, the highest sequence below
//    which it has seen every reply; saved replies up to it are dropped, and a request at or
//    below it is `stale` (never executed);
//  - a per-client cap on saved replies: the oldest is dropped and the ack floor raised to it,
//    so a late repeat of it is refused as stale rather than executed again;
//  - TTL and a cap on clients: the least recently active client is forgotten first. A
//    forgotten client that comes back with ack > 0 is refused (`stale`, "session expired")
//    rather than treated as new, so forgetting never turns into executing twice. (A client
//    forgotten before it received any reply, ack == 0, cannot be told from a new one.)
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>

#include "cloud/rpc/error.h"

namespace homestead::rpc {

struct SavedReply {
  ErrorKind kind = ErrorKind::ok;  // ok or remote: outcomes of an execution
  std::string body;
};

class DuplicateFilter {
 public:
  struct Options {
    std::size_t max_clients = 100'000;
    std::size_t max_saved_per_client = 1'024;
    std::int64_t ttl_us = 10LL * 60 * 1'000'000;  // forget clients idle this long
  };

  enum class Verdict {
    execute,      // new: run it, then call complete() (or abandon() if it was not run)
    duplicate,    // answered before: send `saved`
    in_progress,  // the first copy is still running: tell the client to retry shortly
    stale,        // acknowledged or forgotten: refuse without executing
  };
  struct Decision {
    Verdict verdict = Verdict::execute;
    SavedReply saved;
    std::string reason;  // for stale
  };

  DuplicateFilter() : DuplicateFilter(Options{}) {}
  explicit DuplicateFilter(Options options) : options_(options) {}

  Decision check(std::uint64_t client_id, std::uint64_t seq, std::uint64_t ack, std::int64_t now_us);
  // The request check() let through has run; its reply is kept until acknowledged.
  void complete(std::uint64_t client_id, std::uint64_t seq, SavedReply reply, std::int64_t now_us);
  // The request check() let through did not run after all (e.g. its body failed to decode).
  void abandon(std::uint64_t client_id, std::uint64_t seq);
  // Forgets clients idle longer than the TTL. check() also does this as it goes.
  void expire(std::int64_t now_us);

  std::size_t client_count() const { return clients_.size(); }
  std::size_t saved_reply_count() const { return saved_replies_; }
  std::size_t saved_bytes() const { return saved_bytes_; }
  const Options& options() const { return options_; }

  nlohmann::json to_json() const;
  // Throws std::invalid_argument naming the bad field.
  static DuplicateFilter from_json(const nlohmann::json& document);
  bool operator==(const DuplicateFilter& other) const { return to_json() == other.to_json(); }

 private:
  struct Client {
    std::uint64_t id = 0;
    std::uint64_t acked_through = 0;
    std::int64_t last_seen_us = 0;
    std::map<std::uint64_t, SavedReply> saved;
    std::set<std::uint64_t> running;
  };
  using Lru = std::list<Client>;  // front = most recently active

  Client& touch(Lru::iterator it, std::int64_t now_us);
  void raise_ack(Client& client, std::uint64_t ack);
  void drop_saved(Client& client, std::map<std::uint64_t, SavedReply>::iterator it);
  void forget(Lru::iterator it);

  Options options_;
  Lru lru_;
  std::unordered_map<std::uint64_t, Lru::iterator> clients_;
  std::size_t saved_replies_ = 0;
  std::size_t saved_bytes_ = 0;
};

}  // namespace homestead::rpc
