// Desired state from the cloud, applied as a transactuation (docs/sync-protocol.md):
// the built-in app `cloud_desired` is triggered through the runtime's API trigger with the
// payload the sync client builds ({"device", "desired", "cursor", "shadow_version",
// "actuations": [{"device", "command", "args"}]}); its logic emits those actuations, its
// actuating policy is ALL with ABORT, so it takes the same device locks, ordering and
// policies as every other app. TransactuationDesiredRunner is the sync client's view of it.
#pragma once

#include <string>
#include <vector>

#include "gateway/sync_client.h"
#include "gateway/transactuation_service.h"
#include "transactuation/app.h"

namespace homestead::gateway {

inline constexpr const char* kCloudDesiredApp = "cloud_desired";

// `actuators`: every device the cloud may set (the home's actuators).
transactuation::AppDefinition cloud_desired_app(std::vector<std::string> actuators);

class TransactuationDesiredRunner : public DesiredRunner {
 public:
  explicit TransactuationDesiredRunner(TransactuationService& service) : service_(service) {}
  std::variant<std::uint64_t, std::string> start(const nlohmann::json& payload) override;
  std::optional<Outcome> outcome(std::uint64_t run_id) override;

 private:
  TransactuationService& service_;
};

}  // namespace homestead::gateway
