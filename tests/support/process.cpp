#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace homestead::testing {

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_tcp_port: socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("free_tcp_port: bind: " + std::string(std::strerror(errno)));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds interval) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return pred();
    std::this_thread::sleep_for(interval);
  }
}

bool port_answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  path_ = pattern;
}

TempDir::~TempDir() {
  const char* keep = std::getenv("HOMESTEAD_KEEP_TMP");
  if (keep && std::string(keep) == "1") return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path build_path(const std::string& relative) {
  const char* dir = std::getenv("HOMESTEAD_BUILD_DIR");
  if (!dir) throw std::runtime_error("HOMESTEAD_BUILD_DIR is not set; run the test through ctest");
  return std::filesystem::path(dir) / relative;
}

std::filesystem::path source_path(const std::string& relative) {
  const char* dir = std::getenv("HOMESTEAD_SOURCE_DIR");
  if (!dir) throw std::runtime_error("HOMESTEAD_SOURCE_DIR is not set; run the test through ctest");
  return std::filesystem::path(dir) / relative;
}

ChildProcess::ChildProcess(ProcessOptions options) : options_(std::move(options)) {
  if (options_.log_file.empty()) throw std::invalid_argument("ChildProcess: log_file is required");
  std::vector<std::string> argv_storage{options_.executable};
  argv_storage.insert(argv_storage.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // A pipe that closes on a successful exec tells the parent whether exec worked.
  int exec_check[2];
  if (::pipe2(exec_check, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const int log_fd = ::open(options_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error("cannot open log " + options_.log_file.string() + ": " + std::strerror(errno));
  }
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
  if (pid_ == 0) {
    ::setpgid(0, 0);  // own process group: stop() reaches children it spawns
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (!options_.working_dir.empty() && ::chdir(options_.working_dir.c_str()) != 0) _exit(126);
    for (const auto& [key, value] : options_.env) ::setenv(key.c_str(), value.c_str(), 1);
    ::execvp(argv[0], argv.data());
    int err = errno;
    [[maybe_unused]] auto n = ::write(exec_check[1], &err, sizeof err);
    _exit(127);
  }
  ::close(log_fd);
  ::close(exec_check[1]);
  int err = 0;
  const auto got = ::read(exec_check[0], &err, sizeof err);
  ::close(exec_check[0]);
  if (got == static_cast<ssize_t>(sizeof err)) {
    reap(true);
    pid_ = -1;
    throw std::runtime_error("cannot exec " + options_.executable + ": " + std::strerror(err));
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) stop(2s);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : options_(std::move(other.options_)), pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) stop(2s);
    options_ = std::move(other.options_);
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
  }
  return *this;
}

int ChildProcess::reap(bool block) {
  if (pid_ <= 0) return status_;
  int status = 0;
  const pid_t got = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (got == pid_) {
    status_ = status;
    pid_ = -pid_;  // remember it exited; negative so nothing signals a recycled pid
  }
  return got == pid_ || pid_ < 0 ? status_ : -1;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  reap(false);
  return pid_ > 0;
}

int ChildProcess::exit_status() {
  running();
  return pid_ > 0 ? -1 : status_;
}

bool ChildProcess::wait_for_port(int port, std::chrono::milliseconds deadline) {
  return wait_until([&] { return !running() || port_answers(port); }, deadline) && running();
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return status_;
  ::kill(pid_, SIGTERM);
  if (!wait_until([&] { return !running(); }, grace)) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  return status_;
}

int ChildProcess::kill9() {
  if (!running()) return status_;
  ::kill(pid_, SIGKILL);
  reap(true);
  return status_;
}

std::string ChildProcess::log() const {
  std::ifstream in(options_.log_file);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string ChildProcess::log_tail(std::size_t lines) const {
  std::istringstream in(log());
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out = "---- last lines of " + options_.log_file.string() + " ----\n";
  for (const auto& line : last) out += line + "\n";
  return out;
}

}  // namespace homestead::testing
