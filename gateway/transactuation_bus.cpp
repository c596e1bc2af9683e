#include "gateway/transactuation_bus.h"

#include "devices/topics.h"

namespace homestead::gateway {

bool is_transactuation_cmd_id(const std::string& cmd_id) {
  const auto dot = cmd_id.find('.');
  if (dot == std::string::npos || dot == 0) return false;
  for (std::size_t i = 0; i < dot; ++i)
    if (cmd_id[i] < '0' || cmd_id[i] > '9') return false;
  return true;
}

std::string catalog_command(const devices::KindInfo& kind, const std::string& plain) {
  if (kind.command(plain) == nullptr && (plain == "on" || plain == "off") && kind.command("turn_" + plain) != nullptr) {
    return "turn_" + plain;
  }
  return plain;
}

bool is_status_query_id(const std::string& cmd_id) { return !cmd_id.empty() && cmd_id[0] == 'q'; }

MqttDeviceBus::MqttDeviceBus(std::string home, KindOf kind_of, Publish publish, Refuse refuse)
    : home_(std::move(home)), kind_of_(std::move(kind_of)), publish_(std::move(publish)), refuse_(std::move(refuse)) {}

void MqttDeviceBus::send(const tx::Command& command) {
  const auto* kind = kind_of_(command.device);
  devices::Command wire;
  try {
    if (kind == nullptr) throw devices::PayloadError("device", "unknown device '" + command.device + "'");
    // Apps write `{}` for "no arguments", which nlohmann makes null; the wire wants an object.
    const auto args = command.args.is_null() ? nlohmann::json::object() : command.args;
    wire = devices::command_from_json(
        *kind, {{"cmd_id", command.cmd_id}, {"command", catalog_command(*kind, command.command)}, {"args", args}});
  } catch (const devices::PayloadError& e) {
    ++refused_;
    refuse_(tx::Ack{command.device, command.cmd_id, false, std::string("not sent: ") + e.what()});
    return;
  }
  // A publish refused while the link is down is not retried here: the runtime's per-attempt
  // timeout resends with the same cmd_id, which the device deduplicates.
  if (publish_(devices::device_topic(home_, command.device, devices::Channel::cmd), devices::encode(wire))) ++published_;
}

void MqttDeviceBus::query(const tx::StatusQuery& query) {
  // Each query gets its own id: the firmware answers a repeated cmd_id with the earlier ack,
  // which for a query would be a stale answer.
  // Appended piece by piece: g++ 12 -O3 warns a false -Wrestrict on "lit" + std::string.
  std::string id = "q";
  id += std::to_string(++next_query_);
  id += '-';
  id += query.cmd_id;
  if (id.size() > devices::kMaxCmdIdLength) id.resize(devices::kMaxCmdIdLength);
  devices::Command wire{id, std::string(devices::kStatusCommand), {{"cmd_id", query.cmd_id}}};
  if (publish_(devices::device_topic(home_, query.device, devices::Channel::cmd), devices::encode(wire))) ++published_;
}

std::optional<DeviceAnswer> answer_from_ack(const std::string& device, const devices::Ack& ack) {
  if (ack.status_of) {
    if (!is_transactuation_cmd_id(ack.status_of->cmd_id)) return std::nullopt;
    DeviceAnswer answer;
    tx::StatusReply reply{device, ack.status_of->cmd_id, tx::CommandStatus::unknown, ""};
    switch (ack.status_of->outcome) {
      case devices::CommandOutcome::pending:
        return answer;  // nothing to tell yet
      case devices::CommandOutcome::unknown:
        break;
      case devices::CommandOutcome::done: {
        const auto& earlier = ack.status_of->ack;
        const bool ok = earlier.is_object() && earlier.value("result", "") == "ok";
        reply.status = ok ? tx::CommandStatus::ok : tx::CommandStatus::error;
        if (!ok && earlier.is_object()) reply.reason = earlier.value("reason", "");
        break;
      }
    }
    answer.status = reply;
    return answer;
  }
  if (!is_transactuation_cmd_id(ack.cmd_id)) return std::nullopt;
  DeviceAnswer answer;
  answer.ack = tx::Ack{device, ack.cmd_id, ack.ok, ack.reason};
  return answer;
}

std::vector<tx::Reading> readings_from_report(const std::string& device, const nlohmann::json& state,
                                              std::int64_t device_ts_ms, std::int64_t received_ms) {
  std::vector<tx::Reading> out;
  if (!state.is_object()) return out;
  for (const auto& [attribute, value] : state.items()) {
    out.push_back({device, attribute, value, device_ts_ms * tx::kMillisecond, received_ms * tx::kMillisecond});
  }
  return out;
}

}  // namespace homestead::gateway
