// Broker-side device provisioning, by the simplest mechanism that works with a stock
// Mosquitto: gatewayd owns the broker's password_file and acl_file, rewrites both from a
// base part (the gateway's own user, admins: copied verbatim) plus one entry per
// API-provisioned device, then sends SIGHUP so Mosquitto reloads them. A new device can then
// connect, only to its own topics (devices::device_acl); deleting it removes the entries
// and the reload disconnects and locks it out. (The dynamic-security plugin would avoid the
// file rewrite but needs an admin MQTT client and a plugin the broker may not load.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "gateway/records.h"

namespace homestead::gateway {

// Mosquitto 2 password-file hash: "$7$101$<salt b64>$<PBKDF2-HMAC-SHA512 b64>".
std::string mosquitto_password_hash(std::string_view password);
// Same with a fixed salt, for tests against known vectors.
std::string mosquitto_password_hash(std::string_view password, std::string_view salt);

class BrokerProvisioner {
 public:
  BrokerProvisioner(ProvisioningSettings settings, std::string home);
  bool enabled() const { return settings_.enabled; }
  // Rewrites password and ACL files from the base files and `devices` (those with a password
  // hash), atomically (temp file + rename, mode 0600), then SIGHUPs the broker. Throws
  // std::runtime_error naming the file or the pid file on failure.
  void apply(const std::vector<DeviceRecord>& devices) const;

 private:
  ProvisioningSettings settings_;
  std::string home_;
};

}  // namespace homestead::gateway
