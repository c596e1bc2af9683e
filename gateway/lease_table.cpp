#include "gateway/lease_table.h"

namespace homestead::gateway {

std::optional<std::uint64_t> LeaseTable::use(const std::string& device, std::uint64_t waiter, std::int64_t now_ms) {
  auto& e = entries_[device];
  e.last_used_ms = now_ms;
  if (valid(e, now_ms)) return e.fencing_token;
  e.waiters.push_back({waiter, now_ms + timing_.deadline_ms});
  return std::nullopt;
}

std::vector<LeaseAction> LeaseTable::due(std::int64_t now_ms) {
  std::vector<LeaseAction> out;
  for (auto& [device, e] : entries_) {
    if (e.in_flight) continue;
    const bool is_valid = valid(e, now_ms);
    const bool idle = now_ms - e.last_used_ms > timing_.idle_release_ms;
    if (!e.waiters.empty() && !is_valid) {
      out.push_back({LeaseAction::Kind::acquire, device});
    } else if (is_valid && !idle && now_ms >= e.granted_sent_ms + timing_.ttl_ms / 3) {
      out.push_back({LeaseAction::Kind::acquire, device});  // renewal: same token, later expiry
    } else if (e.held && idle && e.waiters.empty()) {
      // Stop using it before the cloud hears of it: a release that fails just lets it expire.
      e.held = false;
      out.push_back({LeaseAction::Kind::release, device});
    } else {
      continue;
    }
    e.in_flight = true;
  }
  return out;
}

std::vector<LeaseOutcome> LeaseTable::settle(const std::string& device, Entry& e, bool granted, std::uint64_t token,
                                             const std::string& reason) {
  std::vector<LeaseOutcome> out;
  for (const auto& w : e.waiters) out.push_back({w.id, device, granted, granted ? token : 0, granted ? "" : reason});
  e.waiters.clear();
  return out;
}

std::vector<LeaseOutcome> LeaseTable::on_reply(const std::string& device, std::int64_t sent_ms,
                                               const LeaseAnswer& answer) {
  auto& e = entries_[device];
  e.in_flight = false;
  if (!answer.granted) {
    e.held = false;
    return settle(device, e, false, 0, kLeaseHeldByPrefix + answer.holder);
  }
  e.held = true;
  e.fencing_token = answer.fencing_token;
  e.granted_sent_ms = sent_ms;
  e.valid_until_ms = sent_ms + timing_.ttl_ms - timing_.ttl_ms / 10;
  return settle(device, e, true, e.fencing_token, "");
}

std::vector<LeaseOutcome> LeaseTable::on_failed(const std::string& device) {
  auto& e = entries_[device];
  e.in_flight = false;
  return settle(device, e, false, 0, kLeaseUnavailable);
}

void LeaseTable::on_released(const std::string& device) { entries_[device].in_flight = false; }

std::vector<LeaseOutcome> LeaseTable::expire(std::int64_t now_ms) {
  std::vector<LeaseOutcome> out;
  for (auto& [device, e] : entries_) {
    for (auto it = e.waiters.begin(); it != e.waiters.end();) {
      if (it->deadline_ms > now_ms) {
        ++it;
        continue;
      }
      out.push_back({it->id, device, false, 0, kLeaseUnavailable});
      it = e.waiters.erase(it);
    }
  }
  return out;
}

bool LeaseTable::holds(const std::string& device, std::int64_t now_ms) const {
  const auto it = entries_.find(device);
  return it != entries_.end() && valid(it->second, now_ms);
}

std::size_t LeaseTable::held_count(std::int64_t now_ms) const {
  std::size_t n = 0;
  for (const auto& [device, e] : entries_) n += valid(e, now_ms) ? 1 : 0;
  return n;
}

std::vector<std::string> LeaseTable::held_devices(std::int64_t now_ms) const {
  std::vector<std::string> out;
  for (const auto& [device, e] : entries_)
    if (valid(e, now_ms)) out.push_back(device);
  return out;
}

std::optional<std::uint64_t> LeaseTable::token(const std::string& device, std::int64_t now_ms) const {
  const auto it = entries_.find(device);
  if (it == entries_.end() || !valid(it->second, now_ms)) return std::nullopt;
  return it->second.fencing_token;
}

}  // namespace homestead::gateway
