// Helpers for integration tests that run real processes: a free port, a child process with
// its output in a log file, polling with a deadline (never sleeps as synchronisation), and
// temporary directories.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace homestead::testing {

using namespace std::chrono_literals;

// A TCP port on 127.0.0.1 that was free a moment ago, outside the kernel's ephemeral range
// (so no client socket takes it before the server binds) and claimed for this process's
// lifetime against the other tests running in parallel.
int free_tcp_port();

// Polls pred every `interval` until it holds or `deadline` passes; returns pred's last value.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds interval = 5ms);

// True when something accepts TCP connections on 127.0.0.1:port.
bool port_answers(int port);

// A directory under $TMPDIR removed (recursively) when this goes out of scope, unless
// HOMESTEAD_KEEP_TMP=1, which keeps it for post-mortems.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "homestead");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A built binary of this project: $HOMESTEAD_BUILD_DIR/<relative> (set by ctest).
std::filesystem::path build_path(const std::string& relative);
std::filesystem::path source_path(const std::string& relative);

struct ProcessOptions {
  std::string executable;  // absolute path, or a name looked up on PATH
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to the inherited environment
  std::filesystem::path log_file;                          // stdout + stderr; required
  std::filesystem::path working_dir;                       // default: inherit
};

class ChildProcess {
 public:
  ChildProcess() = default;
  explicit ChildProcess(ProcessOptions options);  // starts it; throws std::runtime_error on failure
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running();
  // Waits until 127.0.0.1:port accepts connections; false on deadline or if the process exits.
  bool wait_for_port(int port, std::chrono::milliseconds deadline = 10s);
  // SIGTERM, up to `grace` for it to exit, then SIGKILL. Returns the wait status (or -1).
  int stop(std::chrono::milliseconds grace = 5s);
  // SIGKILL at once, as a crash test wants. Returns the wait status.
  int kill9();
  void signal(int sig);
  // Exit status once it has exited (from waitpid); -1 while running.
  int exit_status();
  std::string log() const;
  // The last `lines` lines of the log, for failure messages.
  std::string log_tail(std::size_t lines = 40) const;
  const ProcessOptions& options() const { return options_; }

 private:
  int reap(bool block);
  ProcessOptions options_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace homestead::testing
