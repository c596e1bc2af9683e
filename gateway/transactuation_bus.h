// The transactuation runtime's DeviceBus on the gateway's MQTT link, and the reverse mapping
// of what devices publish (state reports, acks, status-query answers) into the runtime's
// vocabulary (transactuation/model.h). Topics and payloads are the devices/ contract
// (DESIGN.md section 4):
//   Command{device, command, args, cmd_id}  -> homestead/<home>/<device>/cmd {"cmd_id","command","args"}
//   StatusQuery{device, cmd_id}             -> .../cmd {"cmd_id": "q<n>-<cmd_id>", "command": "status",
//                                                        "args": {"cmd_id": <cmd_id>}}
//   .../ack for a transactuation cmd_id     -> Ack{device, cmd_id, ok, reason}
//   .../ack carrying status_of              -> StatusReply (done -> ok/error from the earlier ack,
//                                              unknown -> unknown; pending -> nothing: the runtime
//                                              asks again after its status-query timeout)
//   .../state {"state": {cap: value}}       -> one Reading per capability
// Plain app command names are mapped onto the catalog's (catalog_command). A command the
// device's kind cannot take (unknown command, bad args) is answered at once
// with a failed Ack instead of being published, so the runtime sees a refusal, not a timeout.
// The per-device `seq` fence of transactuation/README.md is not on the wire: devices/ has no
// field for it yet (see docs/gateway-api.md).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "devices/catalog.h"
#include "devices/payloads.h"
#include "transactuation/driver.h"

namespace homestead::gateway {

namespace tx = homestead::transactuation;

// Transactuation cmd_ids are "<txn id>.<n>" or "<txn id>.c<n>" (runtime.cpp); status-query
// ids start with "q". Commands sent through the REST API use "c<hex>", so the two never mix.
bool is_transactuation_cmd_id(const std::string& cmd_id);
bool is_status_query_id(const std::string& cmd_id);
// Apps use plain command names (builtin_apps.h: "on", "off", "lock", "close", ...); the
// catalog calls on/off "turn_on"/"turn_off" on switches, sirens and strobes.
std::string catalog_command(const devices::KindInfo& kind, const std::string& plain);

class MqttDeviceBus : public tx::DeviceBus {
 public:
  using Publish = std::function<bool(const std::string& topic, const std::string& payload)>;
  using KindOf = std::function<const devices::KindInfo*(const std::string& device)>;
  // Synthesised refusals go here (called on the caller's thread, from inside send()).
  using Refuse = std::function<void(const tx::Ack& ack)>;

  MqttDeviceBus(std::string home, KindOf kind_of, Publish publish, Refuse refuse);

  void send(const tx::Command& command) override;
  void query(const tx::StatusQuery& query) override;

  std::uint64_t published() const { return published_; }
  std::uint64_t refused() const { return refused_; }

 private:
  std::string home_;
  KindOf kind_of_;
  Publish publish_;
  Refuse refuse_;
  std::uint64_t next_query_ = 0;
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> refused_{0};
};

// What one device ack means to the runtime.
struct DeviceAnswer {
  std::optional<tx::Ack> ack;
  std::optional<tx::StatusReply> status;
};
// nullopt when the ack is not about a transactuation command (e.g. a REST command's ack).
std::optional<DeviceAnswer> answer_from_ack(const std::string& device, const devices::Ack& ack);

// One Reading per capability of a state report. Times are microseconds (the runtime's unit).
std::vector<tx::Reading> readings_from_report(const std::string& device, const nlohmann::json& state,
                                              std::int64_t device_ts_ms, std::int64_t received_ms);

}  // namespace homestead::gateway
