// The gateway's view of every device, and ingest: the pure step that turns one MQTT message
// (topic, payload, receive time) into a state change, a reading to persist, an ack for the
// command tracker, or a counted rejection. No sockets, threads or clocks here; the caller
// passes the time and holds the lock.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/catalog.h"
#include "devices/payloads.h"
#include "gateway/records.h"

namespace homestead::gateway {

struct DeviceState {
  std::string id;
  const devices::KindInfo* kind = nullptr;
  nlohmann::json reported;  // null until the first report
  nlohmann::json desired = nlohmann::json::object();  // capability values commands asked for
  std::uint64_t seq = 0;
  std::int64_t device_ts_ms = 0;
  std::int64_t received_ms = 0;   // gateway time of the last accepted report or ack
  std::uint64_t version = 0;      // bumps on every change of reported or desired
  std::optional<bool> online;     // from .../status; unknown until the first status message
  std::int64_t last_seen_ms = 0;  // any valid message from the device
  // The broker link dropped while the device was online: until it is heard from again (status,
  // report or ack) it may not have reconnected and resubscribed (a restarted broker lost its
  // clean session), so a command sent now could be lost. Commands wait; they are never
  // re-sent, since a device that rebooted may have forgotten the cmd_ids it saw.
  bool awaiting_status = false;
};

// Whether a command may be published to the device now: not known offline, and not waiting
// to hear from it again after the broker link came back.
bool accepts_commands(const DeviceState& state);

// Why a message was rejected; a label of homestead_mqtt_rejected_total.
enum class Rejection { none, topic, unknown_device, not_json, schema, status_payload };
std::string_view rejection_name(Rejection r);

struct IngestResult {
  enum class Kind { state, ack, status, ignored, rejected } kind = Kind::ignored;
  std::string device;
  std::optional<Reading> reading;    // state reports: persist this
  std::optional<devices::Ack> ack;   // acks: hand to the command tracker
  bool online = false;               // status messages
  bool send_waiting = false;         // commands may go to the device now: its status changed to
                                     // online, or it was heard from again after the broker link
                                     // came back (send its waiting commands)
  Rejection rejection = Rejection::none;
  std::string detail;                // rejection message naming the field
};

class StateCache {
 public:
  explicit StateCache(std::string home) : home_(std::move(home)) {}

  const std::string& home() const { return home_; }
  // Registers (or re-kinds) a device; keeps its state when the kind is unchanged.
  void add_device(const std::string& id, const devices::KindInfo& kind);
  void remove_device(const std::string& id);
  const DeviceState* find(std::string_view id) const;
  const std::map<std::string, DeviceState, std::less<>>& all() const { return devices_; }

  IngestResult ingest(std::string_view topic, std::string_view payload, std::int64_t now_ms);

  // The broker link dropped: every device known online now awaits its next message.
  void link_lost();

  // A command was accepted: record what it asks for as desired state.
  void note_desired(const std::string& id, const nlohmann::json& args);

 private:
  std::string home_;
  std::map<std::string, DeviceState, std::less<>> devices_;
};

// The JSON the API returns for GET /devices/{id}/state. `link_up` false marks it stale.
nlohmann::json state_json(const DeviceState& state, std::int64_t now_ms, std::int64_t stale_after_ms, bool link_up);

}  // namespace homestead::gateway
