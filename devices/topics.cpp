#include "devices/topics.h"

namespace homestead::devices {

std::string_view channel_name(Channel channel) {
  switch (channel) {
    case Channel::state: return "state";
    case Channel::cmd: return "cmd";
    case Channel::ack: return "ack";
    case Channel::status: return "status";
  }
  return "?";
}

bool channel_retained(Channel channel) { return channel == Channel::state || channel == Channel::status; }

std::string device_topic(std::string_view home, std::string_view device, Channel channel) {
  std::string topic = "homestead/";
  topic.append(home).append("/").append(device).append("/").append(channel_name(channel));
  return topic;
}

std::string home_wildcard(std::string_view home, Channel channel) { return device_topic(home, "+", channel); }

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 48) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<ParsedTopic> parse_topic(std::string_view topic) {
  // Every received message passes here: split into at most 4 views, no allocation.
  std::string_view parts[4];
  std::size_t count = 0, start = 0;
  while (true) {
    const auto slash = topic.find('/', start);
    if (count == 4) return std::nullopt;  // more than four levels
    parts[count++] = topic.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (count != 4 || parts[0] != "homestead" || !valid_id(parts[1]) || !valid_id(parts[2])) return std::nullopt;
  for (Channel c : {Channel::state, Channel::cmd, Channel::ack, Channel::status}) {
    if (parts[3] == channel_name(c)) return ParsedTopic{std::string(parts[1]), std::string(parts[2]), c};
  }
  return std::nullopt;
}

std::string_view access_name(AclRule::Access access) {
  switch (access) {
    case AclRule::Access::read: return "read";
    case AclRule::Access::write: return "write";
    case AclRule::Access::readwrite: return "readwrite";
  }
  return "?";
}

std::vector<AclRule> device_acl(std::string_view home, std::string_view device, std::string_view ha_component) {
  using A = AclRule::Access;
  std::string discovery = "homeassistant/";
  discovery.append(ha_component).append("/").append(home).append("_").append(device).append("/config");
  return {
      {A::write, device_topic(home, device, Channel::state)},
      {A::write, device_topic(home, device, Channel::ack)},
      {A::write, device_topic(home, device, Channel::status)},
      {A::read, device_topic(home, device, Channel::cmd)},
      {A::write, discovery},
  };
}

}  // namespace homestead::devices
