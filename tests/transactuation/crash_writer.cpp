// transactuation_crash_writer: a stand-in gateway for the kill -9 test. It runs the real
// Runtime + Driver over the real SQLite intent log and an in-process "device bus" that
// writes every command it sends, and every command its fake devices execute, to a text
// file (unbuffered, so a SIGKILL loses nothing already written). It triggers transactuations
// as fast as it can until it is killed. The test then checks the database against the file.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <string>

#include "transactuation/driver.h"
#include "transactuation/sqlite_intent_log.h"

using namespace homestead::transactuation;

namespace {

Time monotonic_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class FileBus : public DeviceBus {
 public:
  explicit FileBus(int fd) : fd_(fd) {}
  void send(const Command& command) override {
    write_line("cmd " + command.cmd_id + " " + command.device + " " + std::to_string(command.seq));
    // The fake device executes two commands in three and acks them; the third is lost, so
    // some transactuations are always waiting on a timeout when the kill comes.
    if (std::hash<std::string>{}(command.cmd_id) % 3 != 0) {
      write_line("exec " + command.cmd_id);
      acks.push_back(Ack{command.device, command.cmd_id, true, ""});
    }
  }
  void query(const StatusQuery&) override {}
  std::deque<Ack> acks;

 private:
  void write_line(const std::string& line) {
    const std::string text = line + "\n";
    if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::exit(3);
  }
  int fd_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string db, sent;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: transactuation_crash_writer --db FILE --sent FILE\n"
                   "Runs transactuations against fake devices until killed, logging every command sent and\n"
                   "executed to --sent and the intent log to the SQLite database --db (test helper).\n";
      return 0;
    }
    if (arg == "--db" && i + 1 < argc) db = argv[++i];
    else if (arg == "--sent" && i + 1 < argc) sent = argv[++i];
    else {
      std::cerr << "transactuation_crash_writer: unknown argument \"" << arg << "\" (see --help)\n";
      return 2;
    }
  }
  if (db.empty() || sent.empty()) {
    std::cerr << "transactuation_crash_writer: --db and --sent are required\n";
    return 2;
  }
  const int fd = ::open(sent.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) {
    std::cerr << "transactuation_crash_writer: cannot open " << sent << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  SqliteIntentLog log(db);
  RuntimeOptions options;
  options.first_txn_id = (log.epoch() << 32) | 1;
  Runtime runtime(options);
  for (int k = 0; k < 4; ++k) {
    const std::string a = "lamp" + std::to_string(k) + "a", b = "lamp" + std::to_string(k) + "b";
    const std::string key = "scene" + std::to_string(k);
    runtime.install(AppBuilder("scene" + std::to_string(k))
                        .actuates({a, b})
                        .writes_state({key})
                        .actuation_timeout(20 * kMillisecond, 0)
                        .logic([a, b, key](const LogicInput& in) {
                          LogicResult result;
                          result.actuations = {Actuation{a, "on"}, Actuation{b, "on"}};
                          result.state_writes[key] = in.txn;
                          return result;
                        })
                        .build());
  }
  FileBus bus(fd);
  Driver driver(runtime, log, bus, 2 * kMillisecond);
  driver.recover(monotonic_now());
  std::cout << "running" << std::endl;
  for (std::uint64_t i = 0;; ++i) {
    const Time now = monotonic_now();
    if (runtime.active() < 8) runtime.trigger("scene" + std::to_string(i % 4), Json::object(), now);
    driver.pump(now);
    while (!bus.acks.empty()) {
      const Ack ack = bus.acks.front();
      bus.acks.pop_front();
      runtime.on_ack(ack, now);
      driver.pump(now);
    }
    runtime.tick(now);
    driver.pump(now);
  }
}
