#include "cloud/rpc/duplicate_filter.h"

#include <stdexcept>

namespace homestead::rpc {

DuplicateFilter::Client& DuplicateFilter::touch(Lru::iterator it, std::int64_t now_us) {
  it->last_seen_us = std::max(it->last_seen_us, now_us);
  lru_.splice(lru_.begin(), lru_, it);
  return *it;
}

void DuplicateFilter::drop_saved(Client& client, std::map<std::uint64_t, SavedReply>::iterator it) {
  --saved_replies_;
  saved_bytes_ -= it->second.body.size();
  client.saved.erase(it);
}

void DuplicateFilter::raise_ack(Client& client, std::uint64_t ack) {
  if (ack <= client.acked_through) return;
  client.acked_through = ack;
  while (!client.saved.empty() && client.saved.begin()->first <= ack) drop_saved(client, client.saved.begin());
}

void DuplicateFilter::forget(Lru::iterator it) {
  while (!it->saved.empty()) drop_saved(*it, it->saved.begin());
  clients_.erase(it->id);
  lru_.erase(it);
}

void DuplicateFilter::expire(std::int64_t now_us) {
  // The LRU tail is the least recently seen client; stop at the first one still fresh.
  // Clients with a request still running are kept (their reply is about to be saved).
  auto it = lru_.end();
  while (it != lru_.begin()) {
    --it;
    if (now_us - it->last_seen_us <= options_.ttl_us) break;
    if (!it->running.empty()) continue;
    forget(it++);
  }
}

DuplicateFilter::Decision DuplicateFilter::check(std::uint64_t client_id, std::uint64_t seq, std::uint64_t ack,
                                                 std::int64_t now_us) {
  expire(now_us);
  auto found = clients_.find(client_id);
  if (found == clients_.end()) {
    if (ack > 0) {
      return {Verdict::stale, {}, "session expired: the server no longer remembers client " +
                                      std::to_string(client_id) + "; start a new session"};
    }
    if (clients_.size() >= options_.max_clients) {
      // Evict the least recently active idle client to make room.
      for (auto it = std::prev(lru_.end());; --it) {
        if (it->running.empty()) {
          forget(it);
          break;
        }
        if (it == lru_.begin()) break;
      }
    }
    lru_.push_front(Client{client_id, 0, now_us, {}, {}});
    found = clients_.emplace(client_id, lru_.begin()).first;
  }
  Client& client = touch(found->second, now_us);
  raise_ack(client, ack);
  if (seq <= client.acked_through) {
    return {Verdict::stale, {}, "sequence " + std::to_string(seq) + " already acknowledged (ack " +
                                    std::to_string(client.acked_through) + ")"};
  }
  if (auto saved = client.saved.find(seq); saved != client.saved.end()) {
    return {Verdict::duplicate, saved->second, {}};
  }
  if (client.running.count(seq) != 0) return {Verdict::in_progress, {}, {}};
  client.running.insert(seq);
  return {Verdict::execute, {}, {}};
}

void DuplicateFilter::complete(std::uint64_t client_id, std::uint64_t seq, SavedReply reply, std::int64_t now_us) {
  const auto found = clients_.find(client_id);
  if (found == clients_.end()) return;
  Client& client = touch(found->second, now_us);
  client.running.erase(seq);
  if (seq <= client.acked_through) return;
  saved_bytes_ += reply.body.size();
  ++saved_replies_;
  client.saved[seq] = std::move(reply);
  if (client.saved.size() > options_.max_saved_per_client) {
    // Raising the floor keeps the guarantee: a late repeat of the dropped one is refused.
    raise_ack(client, client.saved.begin()->first);
  }
}

void DuplicateFilter::abandon(std::uint64_t client_id, std::uint64_t seq) {
  const auto found = clients_.find(client_id);
  if (found != clients_.end()) found->second->running.erase(seq);
}

nlohmann::json DuplicateFilter::to_json() const {
  nlohmann::json clients = nlohmann::json::array();
  // Oldest first, so from_json() rebuilds the same LRU order by pushing to the front.
  for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
    nlohmann::json saved = nlohmann::json::array();
    for (const auto& [seq, reply] : it->saved) {
      saved.push_back({{"seq", seq}, {"kind", to_string(reply.kind)}, {"body", nlohmann::json::binary({reply.body.begin(), reply.body.end()})}});
    }
    // Running requests are not saved: a restored filter has not started them.
    clients.push_back({{"id", it->id}, {"acked_through", it->acked_through}, {"last_seen_us", it->last_seen_us}, {"saved", saved}});
  }
  return {{"max_clients", options_.max_clients},
          {"max_saved_per_client", options_.max_saved_per_client},
          {"ttl_us", options_.ttl_us},
          {"clients", clients}};
}

DuplicateFilter DuplicateFilter::from_json(const nlohmann::json& document) {
  auto field = [](const nlohmann::json& object, const char* name, const std::string& where) -> const nlohmann::json& {
    if (!object.is_object() || !object.contains(name)) {
      throw std::invalid_argument("duplicate filter snapshot: missing field '" + where + name + "'");
    }
    return object.at(name);
  };
  try {
    Options options;
    options.max_clients = field(document, "max_clients", "").get<std::size_t>();
    options.max_saved_per_client = field(document, "max_saved_per_client", "").get<std::size_t>();
    options.ttl_us = field(document, "ttl_us", "").get<std::int64_t>();
    DuplicateFilter filter(options);
    const auto& clients = field(document, "clients", "");
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const std::string where = "clients[" + std::to_string(i) + "].";
      const auto& c = clients[i];
      Client client{field(c, "id", where).get<std::uint64_t>(), field(c, "acked_through", where).get<std::uint64_t>(),
                    field(c, "last_seen_us", where).get<std::int64_t>(), {}, {}};
      const auto& saved = field(c, "saved", where);
      for (std::size_t j = 0; j < saved.size(); ++j) {
        const std::string at = where + "saved[" + std::to_string(j) + "].";
        const auto kind = parse_error_kind(field(saved[j], "kind", at).get<std::string>());
        if (!kind) throw std::invalid_argument("duplicate filter snapshot: bad field '" + at + "kind'");
        const auto& bytes = field(saved[j], "body", at).get_binary();
        SavedReply reply{*kind, std::string(bytes.begin(), bytes.end())};
        filter.saved_bytes_ += reply.body.size();
        ++filter.saved_replies_;
        client.saved.emplace(field(saved[j], "seq", at).get<std::uint64_t>(), std::move(reply));
      }
      filter.lru_.push_front(std::move(client));
      filter.clients_.emplace(filter.lru_.front().id, filter.lru_.begin());
    }
    return filter;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("duplicate filter snapshot: ") + e.what());
  }
}

}  // namespace homestead::rpc
