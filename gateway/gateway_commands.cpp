// Commands from the REST API: validation, the device's place behind transactuations (a
// hold in the runtime's lock queue), the shared-device lease, the fsynced command log and
// the publish, plus the long-poll read of a command's record. Every record is durable
// before the API reports it and before the command leaves (gateway/README.md).
#include "common/log/log.h"
#include "devices/topics.h"
#include "gateway/gateway.h"

namespace homestead::gateway {
namespace {

const log::Logger logger("gatewayd");

nlohmann::json command_json(const CommandRecord& c) {
  return {{"command_id", c.id},       {"device", c.device},         {"command", c.command},
          {"args", c.args},           {"status", status_name(c.status)}, {"reason", c.reason},
          {"origin", c.origin},       {"created_ms", c.created_ms}, {"updated_ms", c.updated_ms},
          {"expires_ms", c.expires_ms}, {"sent_ms", c.sent_ms},     {"acked_ms", c.acked_ms},
          {"fencing_token", c.fencing_token}};
}

}  // namespace

void Gateway::persist_command(const CommandRecord& record) {
  const bool final = is_final(record.status);
  {
    std::lock_guard lock(command_mutex_);
    store_->put_command(record);
    if (final) {
      // Only after the fsync: what a waiter reads here is durable.
      constexpr std::size_t kRemembered = 256;
      if (recently_final_.insert_or_assign(record.id, record).second) recently_final_order_.push_back(record.id);
      if (recently_final_order_.size() > kRemembered) {
        recently_final_.erase(recently_final_order_.front());
        recently_final_order_.pop_front();
      }
      auto& counts = final_command_counts_[record.device];
      (record.status == CommandStatus::acked ? counts.acked
       : record.status == CommandStatus::failed ? counts.failed
                                                 : counts.expired) += 1;
    }
  }
  if (final) command_done_.notify_all();
  if (final && transactuations_) release_hold(record.id);  // lets later ones go
}

void Gateway::note_hold_granted(const std::string& command_id) {
  std::lock_guard lock(holds_mutex_);
  hold_since_ms_[command_id] = wall_ms();
}

void Gateway::release_hold(const std::string& command_id) {
  {
    std::lock_guard lock(holds_mutex_);
    hold_since_ms_.erase(command_id);
  }
  transactuations_->release_device(command_id);  // a no-op when already released
}

void Gateway::release_overdue_holds() {
  std::vector<std::string> overdue;
  {
    std::lock_guard lock(holds_mutex_);
    const auto cutoff = wall_ms() - config_.commands.hold_max_ms;
    for (auto it = hold_since_ms_.begin(); it != hold_since_ms_.end();) {
      if (it->second > cutoff) {
        ++it;
        continue;
      }
      overdue.push_back(it->first);
      it = hold_since_ms_.erase(it);
    }
  }
  for (const auto& id : overdue) {
    // The command stays open (it may still be sent or acked); only its place in the
    // device's order is given up, so transactuations on the device can run.
    logger.warn("command hold released before the command settled", {{"command_id", id}});
    metrics_.add("homestead_command_holds_released_total");
    transactuations_->release_device(id);
  }
}

void Gateway::send_pending(const std::string& device) {
  std::lock_guard command_lock(command_mutex_);
  std::vector<CommandRecord> to_send;
  {
    std::lock_guard lock(core_mutex_);
    if (!link_up()) return;
    auto candidates = device.empty() ? tracker_.all_pending() : tracker_.sendable(device);
    const auto now = wall_ms();
    for (const auto& c : candidates) {
      const auto* state = cache_.find(c.device);
      if (!state || !accepts_commands(*state)) continue;  // offline or unconfirmed devices keep waiting
      // A shared device's command waits (until it expires) while the lease is not ours.
      if (leases_ && leases_->shared(c.device) && !leases_->holds(c.device)) continue;
      if (auto sent = tracker_.mark_sent(c.id, now)) to_send.push_back(std::move(*sent));
    }
  }
  for (const auto& c : to_send) {
    store_->put_command(c);  // logged as sent (fsynced) before it leaves
    devices::Command wire{c.id, c.command, c.args};
    if (link_->publish(devices::device_topic(home_.id, c.device, devices::Channel::cmd), devices::encode(wire), 1,
                       false)) {
      metrics_.add("homestead_mqtt_messages_out_total", "kind=\"command\"");
      metrics_.add("homestead_commands_total", "outcome=\"sent\"");
    }
  }
}

nlohmann::json Gateway::submit_command(const std::string& device, const nlohmann::json& body) {
  if (!body.is_object()) throw ApiError(400, "invalid_body", "expected a JSON object");
  for (const auto& [k, v] : body.items()) {
    if (k != "command" && k != "args" && k != "expires_in_s") {
      throw ApiError(400, "unknown_field", "field '" + k + "': unknown (known: command, args, expires_in_s)");
    }
  }
  const auto* kind = device_kind(device);
  std::int64_t expires_in_s = config_.commands.default_expiry_s;
  if (body.contains("expires_in_s")) {
    const auto& e = body["expires_in_s"];
    if (!e.is_number_integer() || e.get<std::int64_t>() < 1 || e.get<std::int64_t>() > config_.commands.max_expiry_s) {
      throw ApiError(400, "invalid_field", "field 'expires_in_s': expected an integer in 1.." +
                                               std::to_string(config_.commands.max_expiry_s));
    }
    expires_in_s = e.get<std::int64_t>();
  }
  CommandRecord record;
  record.id = "c" + random_hex(8);
  nlohmann::json wire = {{"cmd_id", record.id},
                         {"command", body.value("command", nlohmann::json())},
                         {"args", body.contains("args") ? body["args"] : nlohmann::json::object()}};
  devices::Command command;
  try {
    command = devices::command_from_json(*kind, wire);
  } catch (const devices::PayloadError& e) {
    throw ApiError(400, "invalid_field", e.what());
  }
  const auto now = wall_ms();
  record.device = device;
  record.command = command.command;
  record.args = command.args;
  record.created_ms = record.updated_ms = now;
  record.expires_ms = now + expires_in_s * 1000;
  if (transactuations_) {
    {
      std::lock_guard lock(core_mutex_);
      if (!cache_.find(device)) throw ApiError(404, "not_found", "device '" + device + "' not found");
    }
    // Guarantee 3 for commands outside transactuations: the command takes the device's lock
    // in the runtime's queue behind earlier transactuations and holds it until final
    // (transactuation/README.md). Granted at once (the usual case) it goes out as before;
    // otherwise it is logged as pending for the 202 and sent when granted, by whichever of
    // this thread and the runtime's comes second.
    struct Gate {
      std::mutex mutex;
      bool logged = false;
      bool granted = false;
    };
    auto gate = std::make_shared<Gate>();
    const bool granted_now = transactuations_->hold_device(device, record.id, [this, record, command, gate] {
      note_hold_granted(record.id);
      {
        std::lock_guard lock(gate->mutex);
        gate->granted = true;
        if (!gate->logged) return;
      }
      send_after_hold(record, command);
    });
    bool send_here = false;
    try {
      if (granted_now) {
        note_hold_granted(record.id);
        return dispatch_command(std::move(record), command);
      }
      persist_command(record);
      std::lock_guard lock(gate->mutex);
      gate->logged = true;
      send_here = gate->granted;
    } catch (...) {
      release_hold(record.id);
      throw;
    }
    if (send_here) send_after_hold(record, command);
    return {{"command_id", record.id}, {"status", "pending"}, {"expires_ms", record.expires_ms}};
  }
  return dispatch_command(std::move(record), command);
}

void Gateway::send_after_hold(CommandRecord record, const devices::Command& command) {
  try {
    if (wall_ms() >= record.expires_ms) {
      record.status = CommandStatus::expired;
      record.reason = "expired waiting for earlier transactuations on the device";
      record.updated_ms = wall_ms();
      persist_command(record);
      return;
    }
    dispatch_command(record, command);
  } catch (const std::exception& e) {
    record.status = CommandStatus::failed;
    record.reason = e.what();
    record.updated_ms = wall_ms();
    persist_command(record);  // final: releases the device
  }
}

nlohmann::json Gateway::dispatch_command(CommandRecord record, const devices::Command& command) {
  const auto device = record.device;
  if (leases_ && leases_->shared(device)) {
    {
      std::lock_guard lock(core_mutex_);
      if (!cache_.find(device)) throw ApiError(404, "not_found", "device '" + device + "' not found");
    }
    // Logged as pending before the lease decision, so the id answers GET at once.
    persist_command(record);
    auto token = leases_->use(device, [this, record, command](const LeaseOutcome& outcome) mutable {
      try {
        if (outcome.granted) {
          record.fencing_token = outcome.fencing_token;
          admit_command(std::move(record), command);
          return;
        }
        record.status = CommandStatus::failed;
        record.reason = outcome.reason;
        record.updated_ms = wall_ms();
        persist_command(record);
        metrics_.add("homestead_commands_total", "outcome=\"failed\"");
      } catch (const std::exception& e) {
        logger.error("shared-device command after the lease decision failed", {{"command", record.id}, {"error", e.what()}});
      }
    });
    if (!token) return {{"command_id", record.id}, {"status", "pending"}, {"expires_ms", record.expires_ms}};
    record.fencing_token = *token;
  }
  return admit_command(std::move(record), command);
}

nlohmann::json Gateway::admit_command(CommandRecord record, const devices::Command& command) {
  const auto now = wall_ms();
  const auto device = record.device;
  std::lock_guard command_lock(command_mutex_);
  bool send_now = false;
  {
    std::lock_guard lock(core_mutex_);
    const auto* state = cache_.find(device);
    if (!state) throw ApiError(404, "not_found", "device '" + device + "' not found");
    send_now = link_up() && accepts_commands(*state);
    if (send_now) {
      record.status = CommandStatus::sent;
      record.sent_ms = now;
    }
    tracker_.track(record);
    cache_.note_desired(device, record.args);
  }
  // One fsync: the record is durable, as pending or as sent, before the API answers and
  // before the command leaves.
  store_->put_command(record);
  metrics_.add("homestead_commands_total", "outcome=\"accepted\"");
  if (send_now) {
    if (link_->publish(devices::device_topic(home_.id, device, devices::Channel::cmd), devices::encode(command), 1,
                       false)) {
      metrics_.add("homestead_mqtt_messages_out_total", "kind=\"command\"");
      metrics_.add("homestead_commands_total", "outcome=\"sent\"");
    }
  }
  return {{"command_id", record.id}, {"status", status_name(record.status)}, {"expires_ms", record.expires_ms}};
}

nlohmann::json Gateway::get_command(const std::string& id, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    std::unique_lock command_lock(command_mutex_);
    std::optional<CommandRecord> found;
    {
      std::lock_guard lock(core_mutex_);
      if (const auto* open = tracker_.find(id)) found = *open;
    }
    if (!found) {
      if (auto it = recently_final_.find(id); it != recently_final_.end()) found = it->second;
    }
    if (!found) found = store_->command(id);
    if (!found) throw ApiError(404, "not_found", "command '" + id + "' not found");
    if (is_final(found->status) || std::chrono::steady_clock::now() >= deadline) return command_json(*found);
    // Final records are persisted under command_mutex_ and notified after, so waiting here
    // cannot miss one.
    command_done_.wait_until(command_lock, deadline);
  }
}

}  // namespace homestead::gateway
