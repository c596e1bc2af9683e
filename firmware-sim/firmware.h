// The firmware of one simulated device, as a pure state machine: no sockets, threads or
// clocks. The MQTT adapter (fleet.h) feeds it connection events, command payloads, sensor
// values and the current time, and publishes what it returns.
//
// Behaviour, as real Tasmota / Shelly / Zigbee2MQTT devices show it:
//  - on (re)connect: retained "online" status, retained HA discovery document, state report;
//  - state reports on change and every report_interval_ms while connected;
//  - a command is decoded with devices/, actuated after the kind's latency, then acked;
//  - recent cmd_ids (kMemory) are remembered with their ack: a repeat gets the same ack
//    again and no second actuation; a repeat of a command still in progress is ignored
//    (its one ack is on the way);
//  - "status" queries report done (with the ack) / pending / unknown for a cmd_id;
//  - reconnect with exponential backoff and jitter after a failed connect or a lost link;
//  - faults (faults.h), hard offline periods and reboots on demand.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/sim/rng.h"
#include "devices/home.h"
#include "devices/payloads.h"
#include "devices/topics.h"
#include "firmware-sim/faults.h"
#include "firmware-sim/latency.h"

namespace homestead::firmware {

struct FirmwareSettings {
  LatencyMode latency = LatencyMode::realistic;
  std::int64_t report_interval_ms = 30'000;
  std::int64_t boot_ms = 1'000;             // offline time of a reboot
  std::int64_t backoff_min_ms = 250;        // first reconnect delay
  std::int64_t backoff_max_ms = 10'000;     // cap (Tasmota retries every 10 s)
};

struct Publish {
  devices::Channel channel;  // state, ack, status; retained per devices::channel_retained
  std::string payload;
  bool discovery = false;  // true: the HA discovery topic instead of `channel`
};

struct Output {
  std::vector<Publish> publishes;
  bool drop_connection = false;  // the adapter must cut the TCP connection hard (no DISCONNECT), so the LWT fires
};

enum class LinkState { disconnected, connecting, connected };

class Firmware {
 public:
  static constexpr std::size_t kMemory = 256;  // recent cmd_ids remembered

  Firmware(std::string home, devices::DeviceDescription device, FirmwareSettings settings, std::uint64_t seed);

  // --- connection lifecycle ---
  bool wants_connect(std::int64_t now) const;
  void connect_started(std::int64_t now);
  void connected(std::int64_t now, Output& out);
  void connect_failed(std::int64_t now);
  void connection_lost(std::int64_t now);
  LinkState link() const { return link_; }

  // --- inputs ---
  void command(std::int64_t now, std::string_view payload, Output& out);
  void tick(std::int64_t now, Output& out);
  // A sensor reading from the environment; published if it changes the state.
  void sense(std::int64_t now, const std::string& capability, const nlohmann::json& value, Output& out);
  // When tick() next has something to do (a due actuation, ack, report or reconnect).
  std::int64_t next_wakeup() const;

  // --- faults ---
  void set_faults(const Faults& faults);
  const Faults& faults() const { return faults_; }
  // Hard offline for `duration_ms`: connection cut without DISCONNECT, no reconnect until then.
  void go_offline(std::int64_t now, std::int64_t duration_ms, Output& out);
  // Power cycle: volatile state (on/off of lights, plugs, sirens; pending actuations; seq;
  // RAM cmd_id memory of kinds that do not persist it) is lost; offline for boot_ms.
  void reboot(std::int64_t now, Output& out);

  // --- observation (control API, tests) ---
  const devices::DeviceDescription& description() const { return device_; }
  const nlohmann::json& state() const { return state_; }
  // Actuations per cmd_id since the process started (the harness's count, kept across
  // reboots, unlike the device's own memory), including failed (jammed) attempts.
  const std::map<std::string, int>& actuations() const { return actuations_; }
  std::uint64_t commands_received() const { return commands_received_; }
  std::uint64_t commands_dropped() const { return commands_dropped_; }
  std::uint64_t commands_rejected() const { return commands_rejected_; }
  std::int64_t offline_until() const { return offline_until_; }
  std::uint64_t seq() const { return seq_; }

 private:
  struct Pending {
    devices::Command command;
    std::int64_t due;
  };
  struct DueAck {
    std::string payload;
    std::int64_t due;
  };
  void report(std::int64_t now, Output& out);
  void actuate(std::int64_t now, const devices::Command& command, Output& out);
  void apply(const devices::Command& command);
  void remember(const std::string& cmd_id, nlohmann::json ack);
  void answer_status(std::int64_t now, const devices::Command& query, Output& out);
  void schedule_reconnect(std::int64_t now);
  std::string malformed_report(std::int64_t now);
  std::int64_t device_clock(std::int64_t now) const { return now - faults_.stale_ms; }

  std::string home_;
  devices::DeviceDescription device_;
  const devices::KindInfo& kind_;
  FirmwareSettings settings_;
  sim::Rng rng_;

  nlohmann::json state_;
  nlohmann::json frozen_state_;  // what "stuck" reports
  std::uint64_t seq_ = 0;
  std::int64_t next_report_ = 0;
  Faults faults_;
  int malformed_variant_ = 0;

  LinkState link_ = LinkState::disconnected;
  std::int64_t next_connect_ = 0;
  std::int64_t backoff_ms_ = 0;
  std::int64_t offline_until_ = 0;

  std::vector<Pending> pending_;
  std::vector<DueAck> due_acks_;
  std::unordered_map<std::string, nlohmann::json> memory_;  // cmd_id -> ack
  std::deque<std::string> memory_order_;

  std::map<std::string, int> actuations_;
  std::uint64_t commands_received_ = 0;
  std::uint64_t commands_dropped_ = 0;
  std::uint64_t commands_rejected_ = 0;
};

}  // namespace homestead::firmware
