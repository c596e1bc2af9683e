#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace homestead::testing {

namespace {

// The kernel's ephemeral range: the local ports it hands to outgoing connections and to
// bind(port 0). A port picked from it can be taken by any client socket of a parallel test
// between our check and the daemon's bind (CI saw cloudd fail with "Address already in
// use" that way), so test servers listen below it.
std::pair<int, int> ephemeral_port_range() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  in >> low >> high;
  return {low, high};
}

bool can_bind_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_tcp_port: socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Claims `port` among the test processes of this machine: an flock on a per-port file,
// held until this process exits (the kernel drops it even after kill -9), so two tests
// running in parallel never pick the same port.
bool claim_port_among_tests(int port) {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto path = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / "homestead-test-ports";
    std::filesystem::create_directories(path);
    return path;
  }();
  const auto file = dir / (std::to_string(port) + ".lock");
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("free_tcp_port: open " + file.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  return true;  // fd stays open on purpose: the claim lasts as long as the process
}

}  // namespace

int free_tcp_port() {
  static std::mutex mutex;
  static std::mt19937 random{std::random_device{}()};
  const std::lock_guard lock(mutex);
  const auto [ephemeral_low, ephemeral_high] = ephemeral_port_range();
  // Below the ephemeral range when there is room (Linux default 32768-60999), else above it.
  int low = 10000, high = ephemeral_low - 1;
  if (high - low < 2000) {
    low = ephemeral_high + 1;
    high = 65535;
  }
  std::uniform_int_distribution<int> pick(low, high);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = pick(random);
    if (claim_port_among_tests(port) && can_bind_loopback(port)) return port;
  }
  throw std::runtime_error("free_tcp_port: no free port in " + std::to_string(low) + "-" + std::to_string(high));
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
