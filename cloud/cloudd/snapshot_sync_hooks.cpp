#include "cloud/cloudd/snapshot_sync_hooks.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "cloud/services/services_state.h"
#include "cloud/snapshot/live_report.h"
#include "cloud/snapshot/stamp_codec.h"
#include "common/log/log.h"

namespace homestead::cloudd {
namespace {

constexpr const char* kStampParam = "snapshot";

const log::Logger& logger() {
  static const log::Logger instance("cloudd.snapshot");
  return instance;
}

// "Sync/Push seqs 101..150": the outbox range of a push, found without parsing the body
// (items are in ascending seq order), so recording a push as in flight stays cheap.
std::string describe_sync(const httplib::Request& req) {
  std::string kind = req.path.substr(std::string("/rpc/v1/").size());
  if (kind == "Sync/Push") {
    const std::string key = "\"seq\":";
    const auto first = req.body.find(key);
    const auto last = req.body.rfind(key);
    if (first != std::string::npos) {
      auto number_at = [&](std::size_t pos) {
        std::size_t end = pos + key.size();
        while (end < req.body.size() && std::isdigit(static_cast<unsigned char>(req.body[end]))) ++end;
        return req.body.substr(pos + key.size(), end - pos - key.size());
      };
      kind += " seqs " + number_at(first) + ".." + number_at(last);
    }
  }
  return kind;
}

}  // namespace

SyncSnapshotHooks::SyncSnapshotHooks(RaftServer& raft, std::shared_ptr<SnapshotChannels> snapshots)
    : raft_(raft), snapshots_(std::move(snapshots)) {}

std::optional<std::string> SyncSnapshotHooks::gateway_of(const httplib::Request& req) const {
  const std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string hash = services::sha256_hex(std::string_view(auth).substr(prefix.size()));
  return raft_.read([&](const KvStateMachine& state) -> std::optional<std::string> {
    const services::Gateway* gateway = state.services().gateway_by_token_hash(hash);
    if (!gateway) return std::nullopt;
    return "gateway:" + gateway->home + "/" + gateway->id;
  });
}

void SyncSnapshotHooks::on_request(const httplib::Request& req) const {
  if (!snapshots_ || !req.has_param(kStampParam)) return;
  snapshot::Stamp stamp;
  try {
    stamp = snapshot::decode_stamp_hex(req.get_param_value(kStampParam));
  } catch (const snapshot::StampError&) {
    return;  // a bad stamp does not fail the Sync call; it just does not count
  }
  if (stamp.seq == 0 || gateway_of(req) != stamp.from) return;
  snapshots_->on_receive(stamp, [&] {
    return snapshot::InFlightMessage{0, describe_sync(req), static_cast<std::uint64_t>(req.body.size())};
  });
}

void SyncSnapshotHooks::on_response(const httplib::Request& req, httplib::Response& res) const {
  if (!snapshots_ || !req.has_param(kStampParam) || res.status != 200 || res.has_header("X-Rpc-Error")) return;
  const std::string type = res.get_header_value("Content-Type");
  const bool json = type.rfind("application/json", 0) == 0;
  if (!json && type.rfind("application/msgpack", 0) != 0) return;
  snapshot::Stamp request_stamp;
  try {
    request_stamp = snapshot::decode_stamp_hex(req.get_param_value(kStampParam));
  } catch (const snapshot::StampError&) {
    return;
  }
  if (request_stamp.from.rfind("gateway:", 0) != 0) return;
  const std::string hex = snapshot::encode_stamp_hex(snapshots_->stamp(request_stamp.from));
  const bool appended =
      json ? snapshot::append_stamp_field_json(res.body, hex) : snapshot::append_stamp_field_msgpack(res.body, hex);
  if (!appended) return;  // the stamp's seq is then a gap: such a reply cannot happen for Sync (always an object)
  // The gateway counts its carried parts as delivered when this reply comes back stamped.
  if (req.has_param(std::string(snapshot::kPartsField))) take_carried_parts(req, request_stamp.from);
  // The reply's length was fixed when the Sync handler set its content.
  if (res.has_header("Content-Length")) {
    res.headers.erase("Content-Length");
    res.set_header("Content-Length", std::to_string(res.body.size()));
  }
}

std::string SyncSnapshotHooks::keep_part(const std::string& gateway, snapshot::LiveLocal part) const {
  if (part.process != gateway) return "the token of " + gateway + " cannot ship the part of " + part.process;
  const std::string id = std::to_string(part.id);
  if (!snapshots_->add_gateway_part(std::move(part))) return snapshots_->self() + " has not recorded snapshot " + id;
  return {};
}

void SyncSnapshotHooks::take_carried_parts(const httplib::Request& req, const std::string& stamped_by) const {
  const bool json = req.get_header_value("Content-Type").rfind("application/json", 0) == 0;
  const auto text = json ? snapshot::find_text_field_json(req.body, snapshot::kPartsField)
                         : snapshot::find_text_field_msgpack(req.body, snapshot::kPartsField);
  const auto gateway = gateway_of(req);
  if (!text || !gateway || *gateway != stamped_by) {
    logger().warn("snapshot parts on a Sync request not taken", {{"from", stamped_by}, {"why", !text ? "no parts field" : "not that gateway's token"}});
    return;
  }
  try {
    for (const auto& part : nlohmann::json::parse(*text)) {
      const std::string refused = keep_part(*gateway, snapshot::live_local_from_json(part));
      if (!refused.empty()) logger().warn("snapshot part on a Sync request not kept", {{"from", *gateway}, {"why", refused}});
    }
  } catch (const std::exception& e) {
    logger().warn("snapshot parts on a Sync request not taken", {{"from", *gateway}, {"why", e.what()}});
  }
}

bool SyncSnapshotHooks::is_parts_path(const std::string& path) {
  static const std::regex parts(R"(/api/v1/snapshots/[0-9]+/parts)");
  return std::regex_match(path, parts);
}

void SyncSnapshotHooks::install_parts_route(httplib::Server& s) const {
  s.Post(R"(/api/v1/snapshots/([0-9]+)/parts)", [this](const httplib::Request& req, httplib::Response& res) {
    auto error = [&](int status, const std::string& code, const std::string& message) {
      res.status = status;
      res.set_content(nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(), "application/json");
    };
    if (!snapshots_) return error(503, "unavailable", "live snapshots are not enabled on this node");
    const auto gateway = gateway_of(req);
    if (!gateway) return error(401, "unauthorized", "missing or wrong gateway token");
    snapshot::LiveLocal part;
    try {
      part = snapshot::live_local_from_json(nlohmann::json::parse(req.body));
    } catch (const std::exception& e) {
      return error(400, "bad_request", std::string("body: ") + e.what());
    }
    if (std::to_string(part.id) != req.matches[1].str()) return error(400, "bad_request", "field 'id': differs from the path");
    const bool own = part.process == *gateway;
    const std::string refused = keep_part(*gateway, std::move(part));
    if (!refused.empty()) return own ? error(404, "not_found", refused) : error(403, "forbidden", refused);
    res.status = 204;
  });
}

}  // namespace homestead::cloudd
