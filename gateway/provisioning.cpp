#include "gateway/provisioning.h"

#include <openssl/evp.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "devices/catalog.h"
#include "devices/topics.h"
#include "gateway/auth.h"

namespace homestead::gateway {
namespace {

constexpr int kIterations = 101;  // what mosquitto_passwd writes for $7$

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string read_optional(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path);
  if (!in) throw std::runtime_error("provisioning: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  if (!s.empty() && s.back() != '\n') s += '\n';
  return s;
}

}  // namespace

std::string mosquitto_password_hash(std::string_view password, std::string_view salt) {
  unsigned char digest[64];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), kIterations,
                        EVP_sha512(), sizeof digest, digest) != 1) {
    throw std::runtime_error("PBKDF2 failed");
  }
  return "$7$" + std::to_string(kIterations) + "$" +
         base64(reinterpret_cast<const unsigned char*>(salt.data()), salt.size()) + "$" + base64(digest, sizeof digest);
}

std::string mosquitto_password_hash(std::string_view password) {
  // 12 random bytes, as mosquitto_passwd uses.
  const std::string hex = random_hex(12);
  std::string salt;
  for (std::size_t i = 0; i < hex.size(); i += 2) salt += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return mosquitto_password_hash(password, salt);
}

BrokerProvisioner::BrokerProvisioner(ProvisioningSettings settings, std::string home)
    : settings_(std::move(settings)), home_(std::move(home)) {}

void BrokerProvisioner::apply(const std::vector<DeviceRecord>& devices) const {
  if (!settings_.enabled) return;
  std::string passwords = read_optional(settings_.base_password_file);
  std::string acl = read_optional(settings_.base_acl_file);
  for (const auto& d : devices) {
    if (d.mqtt_password_hash.empty()) continue;
    const auto* kind = devices::find_kind(d.kind);
    if (!kind) continue;
    passwords += d.credentials + ":" + d.mqtt_password_hash + "\n";
    acl += "\nuser " + d.credentials + "\n";
    for (const auto& rule : devices::device_acl(home_, d.id, kind->home_assistant.component)) {
      acl += "topic " + std::string(devices::access_name(rule.access)) + " " + rule.topic + "\n";
    }
  }
  write_secret_file(settings_.password_file, passwords);
  write_secret_file(settings_.acl_file, acl);
  std::ifstream pid_in(settings_.broker_pid_file);
  long pid = 0;
  if (!(pid_in >> pid) || pid <= 1) {
    throw std::runtime_error("provisioning: no broker pid in " + settings_.broker_pid_file);
  }
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    throw std::runtime_error("provisioning: cannot SIGHUP broker pid " + std::to_string(pid) + " from " +
                             settings_.broker_pid_file + ": " + std::strerror(errno));
  }
}

}  // namespace homestead::gateway
