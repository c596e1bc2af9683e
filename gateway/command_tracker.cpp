#include "gateway/command_tracker.h"

#include <algorithm>

namespace homestead::gateway {
namespace {

void sort_by_age(std::vector<CommandRecord>& v) {
  std::sort(v.begin(), v.end(), [](const CommandRecord& a, const CommandRecord& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
  });
}

}  // namespace

void CommandTracker::track(const CommandRecord& record) {
  if (!is_final(record.status)) open_[record.id] = record;
}

const CommandRecord* CommandTracker::find(const std::string& id) const {
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : &it->second;
}

std::vector<CommandRecord> CommandTracker::sendable(const std::string& device) const {
  std::vector<CommandRecord> out;
  for (const auto& [id, c] : open_) {
    if (c.device == device && c.status == CommandStatus::pending) out.push_back(c);
  }
  sort_by_age(out);
  return out;
}

std::vector<CommandRecord> CommandTracker::all_pending() const {
  std::vector<CommandRecord> out;
  for (const auto& [id, c] : open_) {
    if (c.status == CommandStatus::pending) out.push_back(c);
  }
  sort_by_age(out);
  return out;
}

std::size_t CommandTracker::pending_count() const {
  return static_cast<std::size_t>(
      std::count_if(open_.begin(), open_.end(), [](const auto& kv) { return kv.second.status == CommandStatus::pending; }));
}

std::vector<OpenCommandView> CommandTracker::open_command_views(std::size_t max) const {
  std::vector<OpenCommandView> out;
  out.reserve(std::min(max, open_.size()));
  for (const auto& [id, c] : open_) {
    if (out.size() >= max) break;
    const bool sent = c.status == CommandStatus::sent;
    out.push_back({id, c.device, c.command, std::string(status_name(c.status)), c.origin,
                   sent ? c.sent_ms : c.created_ms, false});
  }
  return out;
}

std::optional<CommandRecord> CommandTracker::mark_sent(const std::string& id, std::int64_t now_ms) {
  auto it = open_.find(id);
  if (it == open_.end() || it->second.status != CommandStatus::pending) return std::nullopt;
  it->second.status = CommandStatus::sent;
  it->second.sent_ms = now_ms;
  it->second.updated_ms = now_ms;
  return it->second;
}

std::optional<CommandRecord> CommandTracker::on_ack(const std::string& device, const devices::Ack& ack,
                                                    std::int64_t now_ms) {
  auto it = open_.find(ack.cmd_id);
  // An ack names a cmd_id; only the device the command went to may settle it.
  if (it == open_.end() || it->second.device != device) return std::nullopt;
  CommandRecord done = std::move(it->second);
  open_.erase(it);
  done.status = ack.ok ? CommandStatus::acked : CommandStatus::failed;
  done.reason = ack.ok ? "" : ack.reason;
  done.acked_ms = now_ms;
  done.updated_ms = now_ms;
  if (done.sent_ms == 0) done.sent_ms = now_ms;  // an ack proves it arrived (sent before a crash)
  return done;
}

std::vector<CommandRecord> CommandTracker::expire(std::int64_t now_ms) {
  std::vector<CommandRecord> out;
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.expires_ms <= now_ms) {
      CommandRecord c = std::move(it->second);
      c.reason = c.status == CommandStatus::pending ? "expired before it could be sent (device offline or broker unreachable)"
                                                     : "sent but no ack before expiry";
      c.status = CommandStatus::expired;
      c.updated_ms = now_ms;
      out.push_back(std::move(c));
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  sort_by_age(out);
  return out;
}

std::vector<CommandRecord> CommandTracker::drop_device(const std::string& device, std::int64_t now_ms) {
  std::vector<CommandRecord> out;
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.device == device) {
      CommandRecord c = std::move(it->second);
      c.status = CommandStatus::expired;
      c.reason = "device deleted";
      c.updated_ms = now_ms;
      out.push_back(std::move(c));
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace homestead::gateway
