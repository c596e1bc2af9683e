#include "gateway/sync_rules.h"

namespace homestead::gateway {

std::optional<nlohmann::json> ReportedChanges::changed(const std::string& device, const nlohmann::json& state) {
  if (!state.is_object()) return std::nullopt;
  auto& last = last_[device];
  if (!last.is_object()) last = nlohmann::json::object();
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [attribute, value] : state.items()) {
    const auto it = last.find(attribute);
    if (it == last.end() || *it != value) out[attribute] = value;
    last[attribute] = value;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

void ConflictDetector::note_local(const std::string& device, const nlohmann::json& attributes, std::int64_t noted_ms) {
  if (!attributes.is_object()) return;
  for (const auto& [attribute, value] : attributes.items()) {
    Key key{device, attribute};
    const auto asked = asked_.find(key);
    // The device reaching what the cloud asked for is the cloud's change, not a local one.
    const bool cloud_value = asked != asked_.end() && asked->second == value;
    changes_[key] = {value, noted_ms, cloud_value ? 1 : 0};
  }
}

void ConflictDetector::cloud_caught_up(std::int64_t started_ms, std::int64_t now_ms) {
  for (auto& [key, local] : changes_) {
    if (local.seen_ms == 0 && local.noted_ms < started_ms) local.seen_ms = now_ms;
  }
}

void ConflictDetector::cloud_asked(const std::string& device, const nlohmann::json& desired) {
  if (!desired.is_object()) return;
  for (const auto& [attribute, value] : desired.items()) asked_[{device, attribute}] = value;
}

std::vector<DetectedConflict> ConflictDetector::check(const std::string& device, const nlohmann::json& desired,
                                                      std::int64_t desired_at_ms) const {
  std::vector<DetectedConflict> out;
  if (!desired.is_object()) return out;
  for (const auto& [attribute, value] : desired.items()) {
    const auto it = changes_.find({device, attribute});
    if (it == changes_.end() || it->second.value == value) continue;
    const bool seen_before_desired = it->second.seen_ms != 0 && it->second.seen_ms <= desired_at_ms;
    if (!seen_before_desired) out.push_back({attribute, it->second.value, value, it->second.noted_ms});
  }
  return out;
}

std::size_t ConflictDetector::unseen() const {
  std::size_t n = 0;
  for (const auto& [key, local] : changes_) n += local.seen_ms == 0 ? 1 : 0;
  return n;
}

namespace {

// Switch-like capabilities: the value and the no-argument command that produces it.
struct SwitchCommand {
  const char* attribute;
  nlohmann::json value;
  const char* command;
};

const std::vector<SwitchCommand>& switch_commands() {
  static const std::vector<SwitchCommand> table = {
      {"on", true, "turn_on"},   {"on", false, "turn_off"},       {"open", true, "open"},
      {"open", false, "close"},  {"lock", "locked", "lock"},       {"lock", "unlocked", "unlock"},
  };
  return table;
}

}  // namespace

std::vector<DesiredCommand> desired_commands(const devices::KindInfo& kind, const nlohmann::json& desired) {
  if (!desired.is_object() || desired.empty()) throw DesiredError("desired: expected a non-empty object");
  std::vector<DesiredCommand> out;
  for (const auto& [attribute, value] : desired.items()) {
    if (!kind.capability(attribute)) {
      throw DesiredError("desired attribute '" + attribute + "': a " + kind.name + " has no such attribute");
    }
    const devices::CommandSpec* setter = nullptr;
    for (const auto& c : kind.commands) {
      if (c.args.size() == 1 && c.args[0] == attribute) setter = &c;
    }
    if (setter) {
      out.push_back({setter->name, {{attribute, value}}});
      continue;
    }
    bool found = false;
    for (const auto& s : switch_commands()) {
      if (attribute == s.attribute && value == s.value && kind.command(s.command)) {
        out.push_back({s.command, nlohmann::json::object()});
        found = true;
        break;
      }
    }
    if (!found) {
      throw DesiredError("desired attribute '" + attribute + "': no " + kind.name + " command sets it to " +
                         value.dump());
    }
  }
  return out;
}

}  // namespace homestead::gateway
