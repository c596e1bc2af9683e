#include "tests/support/mosquitto_broker.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

namespace homestead::testing {
namespace {

std::string find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = std::string(path ? path : "") + ":/usr/sbin:/usr/local/sbin:/sbin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const auto colon = dirs.find(':', start);
    const std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  throw std::runtime_error("MosquittoBroker: '" + name + "' not found in PATH or /usr/sbin (install mosquitto)");
}

void write_private_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw std::runtime_error("MosquittoBroker: cannot write " + path.string());
  ::chmod(path.c_str(), 0600);
}

bool valid_access(const std::string& access) { return access == "read" || access == "write" || access == "readwrite"; }

}  // namespace

MosquittoBroker::MosquittoBroker(MosquittoOptions options)
    : options_(std::move(options)), dir_(std::make_unique<TempDir>("mosquitto")), port_(free_tcp_port()) {}

MosquittoBroker::~MosquittoBroker() {
  if (process_.pid() > 0 && process_.running()) process_.kill9();
}

void MosquittoBroker::add_user(const std::string& name, const std::string& password, std::vector<BrokerAclEntry> acl) {
  // ':' separates user and password in the password file; whitespace breaks the ACL file.
  if (name.empty() || name.find_first_of(": \t\n") != std::string::npos) {
    throw std::invalid_argument("MosquittoBroker::add_user: bad user name '" + name + "'");
  }
  if (password.empty() || password.find('\n') != std::string::npos) {
    throw std::invalid_argument("MosquittoBroker::add_user: empty or multi-line password for " + name);
  }
  for (const auto& entry : acl) {
    if (!valid_access(entry.access)) {
      throw std::invalid_argument("MosquittoBroker::add_user(" + name + "): access must be read, write or readwrite, got '" +
                                  entry.access + "'");
    }
  }
  users_.push_back({name, password, std::move(acl)});
}

std::string MosquittoBroker::random_password() {
  static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::random_device device;
  std::string out;
  for (int i = 0; i < 24; ++i) out += alphabet[device() % (sizeof alphabet - 1)];
  return out;
}

void MosquittoBroker::write_files() const {
  const auto& d = dir_->path();
  std::string passwords;
  std::string acl;
  for (const auto& user : users_) {
    passwords += user.name + ":" + user.password + "\n";
    acl += "user " + user.name + "\n";
    for (const auto& entry : user.acl) acl += "topic " + entry.access + " " + entry.topic + "\n";
    acl += "\n";
  }
  write_private_file(d / "passwd", passwords);
  write_private_file(d / "acl", acl);
  // `mosquitto_passwd -U` hashes a plain user:password file in place, one call for all users.
  const std::string hash = find_executable("mosquitto_passwd") + " -U " + (d / "passwd").string() + " >" +
                           (d / "passwd.log").string() + " 2>&1";
  if (std::system(hash.c_str()) != 0) {
    throw std::runtime_error("MosquittoBroker: mosquitto_passwd -U failed; see " + (d / "passwd.log").string());
  }
  std::string conf;
  conf += "listener " + std::to_string(port_) + " 127.0.0.1\n";
  conf += "allow_anonymous false\n";
  conf += "password_file " + (d / "passwd").string() + "\n";
  conf += "acl_file " + (d / "acl").string() + "\n";
  conf += "set_tcp_nodelay true\n";
  conf += "max_queued_messages " + std::to_string(options_.max_queued_messages) + "\n";
  conf += "max_inflight_messages " + std::to_string(options_.max_inflight_messages) + "\n";
  conf += "log_dest stderr\n";
  conf += "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
  conf += "connection_messages true\n";
  if (options_.persistence) {
    conf += "persistence true\n";
    conf += "persistence_location " + d.string() + "/\n";
    conf += "autosave_interval 1\n";
  } else {
    conf += "persistence false\n";
  }
  // As root, Mosquitto otherwise drops privileges to user `mosquitto`, which cannot read
  // our 0600 files.
  if (::geteuid() == 0) conf += "user root\n";
  for (const auto& line : options_.extra_config) conf += line + "\n";
  write_private_file(d / "mosquitto.conf", conf);
}

void MosquittoBroker::start(std::chrono::milliseconds deadline) {
  if (process_.pid() > 0 && process_.running()) throw std::logic_error("MosquittoBroker::start: already running");
  write_files();
  ProcessOptions opts;
  opts.executable = find_executable(options_.executable);
  opts.args = {"-c", (dir_->path() / "mosquitto.conf").string()};
  opts.log_file = dir_->path() / ("mosquitto." + std::to_string(++generation_) + ".log");
  process_ = ChildProcess(std::move(opts));
  if (!process_.wait_for_port(port_, deadline)) {
    const std::string tail = process_.log_tail();
    process_.kill9();
    throw std::runtime_error("MosquittoBroker: broker did not listen on 127.0.0.1:" + std::to_string(port_) +
                             " in time; log:\n" + tail);
  }
}

void MosquittoBroker::stop() {
  if (process_.pid() > 0 && process_.running()) process_.stop();
}

void MosquittoBroker::kill9() {
  if (process_.pid() > 0 && process_.running()) process_.kill9();
}

void MosquittoBroker::restart(std::chrono::milliseconds deadline) {
  stop();
  start(deadline);
}

bool MosquittoBroker::running() { return process_.pid() > 0 && process_.running(); }

std::string MosquittoBroker::log_tail(std::size_t lines) const {
  return generation_ > 0 ? process_.log_tail(lines) : std::string("(broker not started)");
}

}  // namespace homestead::testing
