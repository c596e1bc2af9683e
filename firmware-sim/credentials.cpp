#include "firmware-sim/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "devices/topics.h"

namespace homestead::firmware {
namespace {

void write_private(const std::filesystem::path& path, const std::string& content) {
  // Create with 0600 from the start, so the secret is never readable by others, not even briefly.
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) throw CredentialsError(tmp + ": cannot create");
  const bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) throw CredentialsError(path.string() + ": cannot write");
}

}  // namespace

std::string random_secret(std::size_t length) {
  static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::random_device device;
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out += alphabet[device() % (sizeof alphabet - 1)];
  return out;
}

Credentials load_credentials(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw CredentialsError(path.string() + ": cannot open credentials file (use --generate-credentials to create it)");
  if (st.st_mode & 077) throw CredentialsError(path.string() + ": credentials file must not be readable by group or others (chmod 600)");
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(buffer.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw CredentialsError(path.string() + ": expected a JSON object {\"name\": \"password\"}");
  Credentials creds;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (!it.value().is_string() || it.value().get<std::string>().empty()) {
      throw CredentialsError(path.string() + ": field '" + it.key() + "': expected a non-empty password string");
    }
    creds[it.key()] = it.value();
  }
  return creds;
}

Credentials ensure_credentials(const std::filesystem::path& path, const devices::Home& home) {
  Credentials creds = std::filesystem::exists(path) ? load_credentials(path) : Credentials{};
  bool changed = !std::filesystem::exists(path);
  for (const auto& d : home.devices) {
    if (!creds.count(d.credentials)) {
      creds[d.credentials] = random_secret();
      changed = true;
    }
  }
  if (changed) write_private(path, nlohmann::json(creds).dump(2) + "\n");
  return creds;
}

void check_credentials(const Credentials& creds, const devices::Home& home, const std::filesystem::path& path) {
  for (std::size_t i = 0; i < home.devices.size(); ++i) {
    const auto& d = home.devices[i];
    if (!creds.count(d.credentials)) {
      throw CredentialsError(path.string() + ": no entry '" + d.credentials + "' for devices[" + std::to_string(i) + "] (id '" + d.id +
                             "') (use --generate-credentials to add missing ones)");
    }
  }
}

void write_broker_auth(const std::filesystem::path& dir, const devices::Home& home, const Credentials& creds) {
  std::filesystem::create_directories(dir);
  std::string passwd, acl;
  for (const auto& d : home.devices) {
    passwd += d.credentials + ":" + creds.at(d.credentials) + "\n";
    acl += "user " + d.credentials + "\n";
    for (const auto& rule : devices::device_acl(home.id, d.id, d.kind->home_assistant.component)) {
      acl += "topic " + std::string(devices::access_name(rule.access)) + " " + rule.topic + "\n";
    }
    acl += "\n";
  }
  write_private(dir / "passwd", passwd);
  write_private(dir / "acl", acl);
}

}  // namespace homestead::firmware
