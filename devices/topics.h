// The MQTT topic scheme of DESIGN.md section 4, and the broker ACL that confines a device
// to its own topics.
//
//   homestead/<home>/<device>/state    device -> gateway, retained, QoS 1
//   homestead/<home>/<device>/cmd      gateway -> device, not retained, QoS 1
//   homestead/<home>/<device>/ack      device -> gateway, not retained, QoS 1
//   homestead/<home>/<device>/status   device -> gateway, retained "online", LWT "offline"
//   homeassistant/<component>/<home>_<device>/config   discovery, retained
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace homestead::devices {

enum class Channel { state, cmd, ack, status };

inline constexpr int kQos = 1;

std::string_view channel_name(Channel channel);
// Whether messages on this channel are published retained.
bool channel_retained(Channel channel);

std::string device_topic(std::string_view home, std::string_view device, Channel channel);
// homestead/<home>/+/<channel>: what a gateway subscribes to.
std::string home_wildcard(std::string_view home, Channel channel);

struct ParsedTopic {
  std::string home;
  std::string device;
  Channel channel = Channel::state;
};
// nullopt for anything that is not exactly homestead/<home>/<device>/<channel>.
std::optional<ParsedTopic> parse_topic(std::string_view topic);

// Home and device ids: 1..48 of [a-z0-9_-], so they are safe in topics, client ids,
// usernames and HA object ids.
bool valid_id(std::string_view id);

// A Mosquitto acl_file entry.
struct AclRule {
  enum class Access { read, write, readwrite };
  Access access = Access::readwrite;
  std::string topic;
};
std::string_view access_name(AclRule::Access access);

// What a device's user may do: publish its state/ack/status and HA discovery config, read
// its own cmd. Nothing else, so a compromised device cannot command or impersonate another.
std::vector<AclRule> device_acl(std::string_view home, std::string_view device, std::string_view ha_component);

}  // namespace homestead::devices
