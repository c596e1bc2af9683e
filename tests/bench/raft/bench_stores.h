// The two systems raft_bench drives, behind one interface: three cloudd members or three
// etcd 3.4 members on 127.0.0.1 (start, stop, kill -9, which member leads, where to send a
// client), and the CPU and context switches their processes used (from /proc).
#pragma once

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace raft_bench {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace t = homestead::testing;

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    for (int k = 3; k >= 0; --k) out += table[(v >> (6 * k)) & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

enum class Op { put, linearizable_read, serializable_read };

// One store under test: how to reach each member and how to phrase each operation.
class Store {
 public:
  virtual ~Store() = default;
  virtual std::string name() const = 0;
  virtual void start() = 0;
  virtual int leader() = 0;  // index 0..2 of the member that leads
  virtual int port(int member) const = 0;
  virtual void kill9(int member) = 0;
  virtual void restart(int member) = 0;  // after kill9, same data directory
  // True when the request succeeded.
  virtual bool run(httplib::Client& client, Op op, const std::string& key, const std::string& value) = 0;
  virtual void configure(httplib::Client&) {}
  // The members' process ids (for the CPU and context-switch counters below).
  virtual std::vector<pid_t> pids() const = 0;
  // --trace-slow: what the members say about themselves since the last call (their loop
  // counters and notable log lines), printed beside the slow operations.
  virtual void print_diagnostics(std::ostream&) {}
};

// CPU time and context switches of the members so far, from /proc: per operation they show
// what a change saves even when other work on the machine moves the throughput around.
struct Usage {
  double cpu_ms = 0;
  double switches = 0;
};

Usage usage_of(const std::vector<pid_t>& pids) {
  Usage u;
  const double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const pid_t pid : pids) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    // After the name: state(3) ... utime(14) stime(15); the first field here is number 3.
    for (int n = 3; n <= 15 && fields >> field; ++n) {
      if (n == 14 || n == 15) u.cpu_ms += std::stod(field) * tick_ms;
    }
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
      std::ifstream status(task.path() / "status");
      while (std::getline(status, line)) {
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
          u.switches += std::stod(line.substr(line.find(':') + 1));
        }
      }
    }
  }
  return u;
}

// Three member processes and the port each takes client requests on: the parts both stores
// share (who leads, kill -9, restart on the same data directory).
class ThreeMembers : public Store {
 public:
  int leader() override {
    int found = -1;
    t::wait_until(
        [&] {
          for (int i = 0; i < 3; ++i) {
            if (procs_[i].running() && leads(i)) {
              found = i;
              return true;
            }
          }
          return false;
        },
        30s, 20ms);
    return found;
  }
  int port(int member) const override { return client_[member]; }
  std::vector<pid_t> pids() const override { return {procs_[0].pid(), procs_[1].pid(), procs_[2].pid()}; }
  void kill9(int member) override { procs_[member].kill9(); }
  void restart(int member) override {
    procs_[member] = t::ChildProcess(options_[member]);
    if (!procs_[member].wait_for_port(client_[member], 20s)) throw std::runtime_error(name() + " did not start");
  }

 protected:
  // True when `member` (running) says it is the leader.
  virtual bool leads(int member) = 0;
  int client_[3] = {};
  int peer_[3] = {};
  t::ProcessOptions options_[3];
  t::ChildProcess procs_[3];
};

class CloudStore : public ThreeMembers {
 public:
  // `frontend`: the config's "http_frontend" ("epoll" | "httplib"); empty: the binary's default.
  CloudStore(std::string binary, const std::filesystem::path& dir, std::string name = "cloudd", std::string frontend = "")
      : binary_(std::move(binary)), dir_(dir / name), name_(std::move(name)), frontend_(std::move(frontend)) {
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < 3; ++i) {
      client_[i] = t::free_tcp_port();
      peer_[i] = t::free_tcp_port();
    }
  }
  std::string name() const override { return name_; }
  void start() override {
    std::ofstream(dir_ / "token") << token_ << "\n";
    std::ofstream(dir_ / "secret") << "bench-cluster-secret\n";
    json members = json::array();
    for (int i = 0; i < 3; ++i) {
      members.push_back({{"id", i + 1},
                         {"peer", "127.0.0.1:" + std::to_string(peer_[i])},
                         {"http", "127.0.0.1:" + std::to_string(client_[i])}});
    }
    for (int i = 0; i < 3; ++i) {
      json config{{"id", i + 1},
                        {"data_dir", (dir_ / ("n" + std::to_string(i + 1))).string()},
                        {"http_listen", "127.0.0.1:" + std::to_string(client_[i])},
                        {"peer_listen", "127.0.0.1:" + std::to_string(peer_[i])},
                        {"members", members},
                        {"token_file", (dir_ / "token").string()},
                        {"cluster_secret_file", (dir_ / "secret").string()},
                        // etcd's defaults: 100 ms heartbeat, 1000 ms election timeout.
                        {"tick_ms", 10},
                        {"heartbeat_ticks", 10},
                        {"election_ticks", 100}};
      if (!frontend_.empty()) config["http_frontend"] = frontend_;
      const auto path = dir_ / ("n" + std::to_string(i + 1) + ".json");
      std::ofstream(path) << config.dump();
      options_[i] = t::ProcessOptions{binary_, {"--config", path.string()}, {}, dir_ / ("n" + std::to_string(i + 1) + ".log")};
      restart(i);
    }
  }
  void configure(httplib::Client& c) override { c.set_bearer_token_auth(token_.c_str()); }

 protected:
  bool leads(int member) override {
    httplib::Client c("127.0.0.1", client_[member]);
    configure(c);
    auto r = c.Get("/api/v1/cluster");
    return r && r->status == 200 && json::parse(r->body)["role"] == "leader";
  }

 public:
  void print_diagnostics(std::ostream& out) override {
    for (int i = 0; i < 3; ++i) {
      httplib::Client c("127.0.0.1", client_[i]);
      c.set_bearer_token_auth(token_.c_str());
      if (auto r = c.Get("/api/v1/cluster"); r && r->status == 200) {
        const json st = json::parse(r->body);
        out << "  member " << (i + 1) << " (" << st["role"].get<std::string>() << ", term " << st["term"]
            << ") loop: " << st["loop"].dump() << "\n";
      }
      // The log lines that explain a stall: slow turns and writes, snapshots, elections.
      std::ifstream log(options_[i].log_file);
      log.seekg(static_cast<std::streamoff>(log_offset_[i]));
      std::string line;
      while (std::getline(log, line)) {
        log_offset_[i] += line.size() + 1;
        for (const char* marker : {"slow", "snapshot", "leader changed", "campaign", "error"}) {
          if (line.find(marker) != std::string::npos) {
            out << "    n" << (i + 1) << ": " << line << "\n";
            break;
          }
        }
      }
    }
  }
  bool run(httplib::Client& c, Op op, const std::string& key, const std::string& value) override {
    const std::string path = "/api/v1/kv/" + key;
    httplib::Result r = op == Op::put ? c.Put(path.c_str(), json{{"value", value}}.dump(), "application/json")
                        : op == Op::linearizable_read ? c.Get(path.c_str())
                                                      : c.Get((path + "?consistency=serializable").c_str());
    return r && (r->status == 200 || (op != Op::put && r->status == 404));
  }

 private:
  std::string binary_;
  std::filesystem::path dir_;
  std::string name_;
  std::string frontend_;
  std::string token_ = "bench-token";
  std::uint64_t log_offset_[3] = {};
};

class EtcdStore : public ThreeMembers {
 public:
  EtcdStore(std::string binary, const std::filesystem::path& dir) : binary_(std::move(binary)), dir_(dir / "etcd") {
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < 3; ++i) {
      client_[i] = t::free_tcp_port();
      peer_[i] = t::free_tcp_port();
    }
  }
  std::string name() const override { return "etcd"; }
  void start() override {
    std::string cluster;
    for (int i = 0; i < 3; ++i) {
      cluster += (i ? "," : "") + std::string("e") + std::to_string(i) + "=http://127.0.0.1:" + std::to_string(peer_[i]);
    }
    for (int i = 0; i < 3; ++i) {
      const std::string c = "http://127.0.0.1:" + std::to_string(client_[i]);
      const std::string p = "http://127.0.0.1:" + std::to_string(peer_[i]);
      t::ProcessOptions options{binary_,
                                {"--name", "e" + std::to_string(i), "--data-dir", (dir_ / ("e" + std::to_string(i))).string(),
                                 "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
                                 "--initial-advertise-peer-urls", p, "--initial-cluster", cluster,
                                 "--initial-cluster-state", "new", "--initial-cluster-token", "bench"},
                                {},
                                dir_ / ("e" + std::to_string(i) + ".log")};
      options_[i] = options;
      procs_[i] = t::ChildProcess(options);
    }
    for (int i = 0; i < 3; ++i) {
      if (!procs_[i].wait_for_port(client_[i], 20s)) throw std::runtime_error("etcd did not start");
    }
  }

 protected:
  bool leads(int member) override {
    httplib::Client c("127.0.0.1", client_[member]);
    auto r = c.Post("/v3/maintenance/status", "{}", "application/json");
    if (!r || r->status != 200) return false;
    const json s = json::parse(r->body);
    return s.contains("leader") && s["leader"] == s["header"]["member_id"];
  }

 public:
  bool run(httplib::Client& c, Op op, const std::string& key, const std::string& value) override {
    httplib::Result r =
        op == Op::put ? c.Post("/v3/kv/put", json{{"key", base64(key)}, {"value", base64(value)}}.dump(), "application/json")
                      : c.Post("/v3/kv/range",
                               json{{"key", base64(key)}, {"serializable", op == Op::serializable_read}}.dump(),
                               "application/json");
    return r && r->status == 200;
  }

 private:
  std::string binary_;
  std::filesystem::path dir_;
};

}  // namespace raft_bench
