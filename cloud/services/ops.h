// Builders for the operations ServicesState::apply() takes: one JSON object per operation,
// {"op": "<name>", ...}. The adapters (cloudd's REST routes and Sync RPC handlers) build
// them, cloudd carries them through Raft unchanged, every replica applies them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cloud/services/sync_api.h"

namespace homestead::services::ops {

using nlohmann::json;

inline json create_home(const std::string& id, const std::string& name) {
  return {{"op", "create_home"}, {"id", id}, {"name", name}};
}
// Only the hash of the gateway's token enters the log: the token never leaves the API
// process that generated it.
inline json add_gateway(const std::string& home, const std::string& id, const std::string& token_sha256) {
  return {{"op", "add_gateway"}, {"home", home}, {"id", id}, {"token_sha256", token_sha256}};
}
inline json remove_gateway(const std::string& home, const std::string& id) {
  return {{"op", "remove_gateway"}, {"home", home}, {"id", id}};
}
inline json add_device(const std::string& home, const std::string& id, const std::string& type) {
  return {{"op", "add_device"}, {"home", home}, {"id", id}, {"type", type}};
}
inline json set_desired(const std::string& home, const std::string& device, const json& desired,
                        std::optional<std::uint64_t> if_match) {
  json op{{"op", "set_desired"}, {"home", home}, {"device", device}, {"desired", desired}};
  if (if_match) op["if_match"] = *if_match;
  return op;
}
inline json push(const sync_api::PushRequest& request) {
  return {{"op", "push"}, {"request", rpc::to_document(request)}};
}
inline json acquire_lease(const std::string& home, const std::string& holder, const std::string& name,
                          std::uint32_t ttl_ms) {
  return {{"op", "acquire_lease"}, {"home", home}, {"holder", holder}, {"name", name}, {"ttl_ms", ttl_ms}};
}
inline json release_lease(const std::string& home, const std::string& holder, const std::string& name) {
  return {{"op", "release_lease"}, {"home", home}, {"holder", holder}, {"name", name}};
}

}  // namespace homestead::services::ops
