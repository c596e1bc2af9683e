// Per-device broker credentials. The home file names a credentials entry per device (its
// broker username); the passwords live in a separate JSON file {"name": "password", ...}
// with mode 0600, generated on first start and never logged or committed.
#pragma once

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "devices/home.h"

namespace homestead::firmware {

class CredentialsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Credentials = std::map<std::string, std::string>;  // username -> password

// Throws CredentialsError naming the file and entry; refuses a file readable by group or others.
Credentials load_credentials(const std::filesystem::path& path);
// Adds a random password for every device of the home that has none, writing the file with
// mode 0600 (creating it if needed). Returns the complete set.
Credentials ensure_credentials(const std::filesystem::path& path, const devices::Home& home);
// Every device's credentials entry must exist; throws naming the first device without one.
void check_credentials(const Credentials& creds, const devices::Home& home, const std::filesystem::path& path);
// Writes <dir>/passwd (plain "user:password" lines, mode 0600; hash it in place with
// `mosquitto_passwd -U`) and <dir>/acl confining each device to its own topics (devices::device_acl).
void write_broker_auth(const std::filesystem::path& dir, const devices::Home& home, const Credentials& creds);
std::string random_secret(std::size_t length = 24);

}  // namespace homestead::firmware
