#include "gateway/cloud_desired.h"

#include "gateway/api_error.h"

namespace homestead::gateway {

namespace tx = homestead::transactuation;

tx::AppDefinition cloud_desired_app(std::vector<std::string> actuators) {
  return tx::AppBuilder(kCloudDesiredApp)
      .actuates(std::move(actuators))
      .logic([](const tx::LogicInput& in) {
        tx::LogicResult result;
        // Runtime::trigger wraps the caller's payload: {"kind": "api", "payload": {...}}.
        const auto payload = in.trigger.value("payload", tx::Json::object());
        const auto list = payload.value("actuations", tx::Json::array());
        for (const auto& a : list) {
          result.actuations.push_back(
              {a.value("device", ""), a.value("command", ""), a.value("args", tx::Json::object()), std::nullopt, {}});
        }
        result.note = "desired change " + std::to_string(payload.value("cursor", 0)) + " from the cloud";
        return result;
      })
      .actuating(tx::Quorum::all())
      .on_failure(tx::OnFailure::abort, false)
      .build();
}

std::variant<std::uint64_t, std::string> TransactuationDesiredRunner::start(const nlohmann::json& payload) {
  try {
    return service_.trigger(kCloudDesiredApp, payload)["id"].get<std::uint64_t>();
  } catch (const ApiError& e) {
    return std::string(e.what());
  }
}

std::optional<DesiredRunner::Outcome> TransactuationDesiredRunner::outcome(std::uint64_t run_id) {
  nlohmann::json run;
  try {
    run = service_.get_run(std::to_string(run_id));
  } catch (const ApiError& e) {
    if (e.status() == 404) return Outcome{false, "run " + std::to_string(run_id) + " is no longer known"};
    return std::nullopt;  // runtime not up (yet): ask again next round
  }
  const auto status = run.value("status", "");
  if (status == "running" || status.empty()) return std::nullopt;
  std::string detail = status;
  if (!run.value("reason", "").empty()) detail += ": " + run.value("reason", "");
  if (!run.value("detail", "").empty()) detail += ": " + run.value("detail", "");
  return Outcome{status == "committed", detail};
}

}  // namespace homestead::gateway
