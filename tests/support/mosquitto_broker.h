// A real Mosquitto broker for integration tests: foreground process on a free 127.0.0.1
// port, with a generated config that is secure like production (no anonymous clients,
// hashed password file, ACL file, TCP_NODELAY), so tests exercise real authentication and
// real ACLs.
//
//   MosquittoBroker broker;                                   // picks a free port, nothing runs yet
//   broker.add_user("gateway", "pw1", {{"readwrite", "#"}});
//   broker.add_user("lamp", "pw2", {{"write", "homestead/h/lamp/state"}, {"read", "homestead/h/lamp/cmd"}});
//   broker.start();                                           // throws with the log tail if it does not come up
//   ... tcp://127.0.0.1:broker.port() ...
//   broker.kill9(); broker.restart();                         // same port, same users
//
// Users and ACLs added after start() take effect at the next restart(). With
// options.persistence = true the broker keeps retained messages and sessions across
// stop()/restart() (not across kill9(), which loses what was not yet saved, as in production).
// The broker's stdout/stderr go to <dir>/mosquitto.log; log_tail() is for failure messages.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace homestead::testing {

struct BrokerAclEntry {
  std::string access;  // "read", "write" or "readwrite"
  std::string topic;   // MQTT topic filter, wildcards allowed
};

struct MosquittoOptions {
  bool persistence = false;
  // Raise Mosquitto's per-client queue limits (defaults 1000 queued / 20 in flight) so a
  // test that floods one subscriber measures the system, not the broker's drop policy.
  int max_queued_messages = 10000;
  int max_inflight_messages = 100;
  std::vector<std::string> extra_config;  // appended verbatim to mosquitto.conf
  std::string executable = "mosquitto";   // looked up in PATH, then /usr/sbin
};

class MosquittoBroker {
 public:
  explicit MosquittoBroker(MosquittoOptions options = {});
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // A user with a password and the topics it may use. Call before start() (or restart()).
  void add_user(const std::string& name, const std::string& password, std::vector<BrokerAclEntry> acl);
  // A random 24-character password for tests that do not care about its value.
  static std::string random_password();

  // Writes the config, hashes the password file with `mosquitto_passwd -U`, starts the
  // broker and waits up to `deadline` for the port. Throws std::runtime_error with the log.
  void start(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // Graceful (SIGTERM); clients see the connection close.
  void stop();
  // SIGKILL, like a crash or power cut.
  void kill9();
  // stop() if running, then start() on the same port with the current users.
  void restart(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  bool running();
  // The broker's process id while it runs (for CPU/RSS measurements), else -1.
  pid_t pid() const { return process_.pid(); }

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& dir() const { return dir_->path(); }
  std::string log_tail(std::size_t lines = 40) const;

 private:
  struct User {
    std::string name;
    std::string password;
    std::vector<BrokerAclEntry> acl;
  };
  void write_files() const;

  MosquittoOptions options_;
  std::unique_ptr<TempDir> dir_;
  int port_;
  std::vector<User> users_;
  ChildProcess process_;
  int generation_ = 0;  // a new log file per start, so log_tail shows the current run
};

}  // namespace homestead::testing
