// Lifecycle of commands sent through the gateway (pending -> sent -> acked | failed, or
// expired), as a pure state machine: the caller persists every record it returns before
// acting on it (publishing or answering the API), and supplies the time.
//
//   pending  accepted and logged; waits while the device is offline or the broker link is down
//   sent     published to .../cmd (QoS 1); waits for the device's ack
//   acked    the device answered ok            (final)
//   failed   the device answered error, reason (final)
//   expired  no ack before expires_ms, reason says whether it was ever sent (final)
//
// A sent command is not re-published by the gateway: bulbs and plugs forget cmd_ids on a
// reboot, so a repeat could actuate twice. The transactuation runtime, which knows when a
// repeat is safe, drives status queries itself through the same log.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "devices/payloads.h"
#include "gateway/records.h"
#include "gateway/snapshot_views.h"

namespace homestead::gateway {

class CommandTracker {
 public:
  // Takes over an open command (new, or recovered from the log after a restart).
  void track(const CommandRecord& record);
  const CommandRecord* find(const std::string& id) const;
  // Pending commands of `device`, oldest first, to publish now.
  std::vector<CommandRecord> sendable(const std::string& device) const;
  // Every pending command (after the broker link comes back).
  std::vector<CommandRecord> all_pending() const;
  // Returns the updated record to persist; nullopt when the id is not open.
  std::optional<CommandRecord> mark_sent(const std::string& id, std::int64_t now_ms);
  // An ack from `device`; nullopt when it answers nothing we track (late or foreign).
  std::optional<CommandRecord> on_ack(const std::string& device, const devices::Ack& ack, std::int64_t now_ms);
  // Commands past their expiry, now expired; persist them.
  std::vector<CommandRecord> expire(std::int64_t now_ms);
  // Forget every open command of a deleted device (expired with reason "device deleted").
  std::vector<CommandRecord> drop_device(const std::string& device, std::int64_t now_ms);

  std::size_t open_count() const { return open_.size(); }
  // At most `max` open commands (in id order, not by age: a cheap copy under the caller's
  // lock), for a live snapshot's gateway part.
  std::vector<OpenCommandView> open_command_views(std::size_t max) const;
  std::size_t pending_count() const;

 private:
  std::map<std::string, CommandRecord> open_;
};

}  // namespace homestead::gateway
