// firmware-sim: runs the devices of a home file as simulated MQTT firmware against a broker.
// See firmware-sim/README.md and `firmware-sim --help`.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/log/log.h"
#include "devices/home.h"
#include "firmware-sim/control_api.h"
#include "firmware-sim/credentials.h"
#include "firmware-sim/fleet.h"

namespace fw = homestead::firmware;
namespace devices = homestead::devices;

namespace {

constexpr const char* kUsage = R"(Usage: firmware-sim --home FILE --broker HOST:PORT --credentials FILE [options]

Runs every device of a home description as its own MQTT client (own client id, username and
password, LWT) against a Mosquitto broker, with a seeded physical environment and faults on
demand.

Required:
  --home FILE               home description (deploy/homes/default.json)
  --broker HOST:PORT        the broker (tcp:// prefix allowed)
  --credentials FILE        JSON {"<credentials name>": "<password>"}, mode 0600

Options:
  --generate-credentials    create/extend the credentials file with random passwords (mode 0600)
  --write-broker-auth DIR   write DIR/passwd (plain user:password, 0600; hash it with
                            `mosquitto_passwd -U DIR/passwd`) and DIR/acl, then exit
  --seed N                  seed of the environment, latencies and fault draws (default 1)
  --speed X                 environment time acceleration, e.g. 60 (default 1)
  --latency MODE            realistic (default; per-kind profile, see README) or zero
  --report-interval-ms N    periodic state report interval (default 30000)
  --boot-ms N               offline time of a reboot (default 1000)
  --fault DEVICE=JSON       a fault at start, e.g. --fault 'front_door_lock={"fail_acks":"jammed"}'
                            (repeatable; keys in firmware-sim/faults.h)
  --scenario FILE           faults at start from {"faults": {"<device>": {...}}}
  --control-port N          serve the HTTP control API on 127.0.0.1:N (default: off)
  --control-token-file FILE bearer token for the control API; created (0600) if missing.
                            Required with --control-port.
  --summary-interval-ms N   summary line interval on stderr (default 1000; 0 = only on SIGUSR1)
  --help                    this text

Signals: SIGUSR1 prints a summary line; SIGINT/SIGTERM stop cleanly (each device publishes
"offline"); kill -9 leaves it to the broker's LWTs.
Exit status: 0 clean stop, 2 bad arguments or bad input files, 1 runtime failure.
)";

struct Args {
  std::string home, broker, credentials, write_broker_auth, scenario, token_file;
  bool generate_credentials = false;
  std::uint64_t seed = 1;
  double speed = 1;
  fw::FirmwareSettings firmware;
  int control_port = 0;
  std::int64_t summary_interval_ms = 1000;
  std::vector<std::pair<std::string, std::string>> faults;  // device, json
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "firmware-sim: " << message << "\n(see firmware-sim --help)\n";
  std::exit(2);
}

std::int64_t parse_int(const std::string& flag, const std::string& text, std::int64_t min, std::int64_t max) {
  try {
    std::size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v >= min && v <= max) return v;
  } catch (const std::exception&) {
  }
  usage_error(flag + ": expected an integer in " + std::to_string(min) + ".." + std::to_string(max) + ", got '" + text + "'");
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (flag == "--home") a.home = value();
    else if (flag == "--broker") a.broker = value();
    else if (flag == "--credentials") a.credentials = value();
    else if (flag == "--generate-credentials") a.generate_credentials = true;
    else if (flag == "--write-broker-auth") a.write_broker_auth = value();
    else if (flag == "--seed") a.seed = static_cast<std::uint64_t>(parse_int(flag, value(), 0, INT64_MAX));
    else if (flag == "--speed") {
      const std::string v = value();
      char* end = nullptr;
      a.speed = std::strtod(v.c_str(), &end);
      if (*end != '\0' || !(a.speed > 0 && a.speed <= 100000)) usage_error("--speed: expected a number > 0, got '" + v + "'");
    } else if (flag == "--latency") {
      const std::string v = value();
      if (!fw::parse_latency_mode(v, a.firmware.latency)) usage_error("--latency: expected realistic or zero, got '" + v + "'");
    } else if (flag == "--report-interval-ms") a.firmware.report_interval_ms = parse_int(flag, value(), 50, 86'400'000);
    else if (flag == "--boot-ms") a.firmware.boot_ms = parse_int(flag, value(), 0, 600'000);
    else if (flag == "--fault") {
      const std::string v = value();
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0) usage_error("--fault: expected DEVICE=JSON, got '" + v + "'");
      a.faults.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (flag == "--scenario") a.scenario = value();
    else if (flag == "--control-port") a.control_port = static_cast<int>(parse_int(flag, value(), 1, 65535));
    else if (flag == "--control-token-file") a.token_file = value();
    else if (flag == "--summary-interval-ms") a.summary_interval_ms = parse_int(flag, value(), 0, 86'400'000);
    else usage_error("unknown option '" + flag + "'");
  }
  if (a.home.empty()) usage_error("--home is required");
  if (a.credentials.empty()) usage_error("--credentials is required");
  if (a.write_broker_auth.empty() && a.broker.empty()) usage_error("--broker is required");
  if (a.control_port && a.token_file.empty()) usage_error("--control-port needs --control-token-file");
  return a;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string load_or_create_token(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    std::string token = read_file(path);
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
    if (token.size() < 16) throw std::runtime_error(path + ": control token must be at least 16 characters");
    return token;
  }
  const std::string token = fw::random_secret(32);
  const mode_t old = ::umask(077);
  std::ofstream out(path);
  out << token << "\n";
  out.close();
  ::umask(old);
  if (!out) throw std::runtime_error(path + ": cannot write control token");
  return token;
}

// Faults from --scenario and --fault, checked against the home before anything connects.
std::vector<std::pair<std::string, fw::Faults>> collect_faults(const Args& a, const devices::Home& home) {
  std::vector<std::pair<std::string, fw::Faults>> out;
  auto add = [&](const std::string& device, const nlohmann::json& doc, const std::string& where) {
    if (!home.device(device)) throw fw::FaultError(where + ": no device '" + device + "' in " + home.source);
    out.emplace_back(device, fw::parse_faults(doc, where));
  };
  if (!a.scenario.empty()) {
    auto doc = nlohmann::json::parse(read_file(a.scenario), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) throw fw::FaultError(a.scenario + ": expected a JSON object {\"faults\": {...}}");
    for (auto it = doc.begin(); it != doc.end(); ++it)
      if (it.key() != "faults") throw fw::FaultError(a.scenario + ": field '" + it.key() + "': unknown (known: faults)");
    const auto& faults = doc.value("faults", nlohmann::json::object());
    if (!faults.is_object()) throw fw::FaultError(a.scenario + ": field 'faults': expected an object of device -> faults");
    for (auto it = faults.begin(); it != faults.end(); ++it) add(it.key(), it.value(), a.scenario + ": faults." + it.key());
  }
  for (const auto& [device, text] : a.faults) {
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) throw fw::FaultError("--fault " + device + ": not valid JSON: " + text);
    add(device, doc, "--fault " + device);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  homestead::log::Logger log("firmware-sim");
  devices::Home home;
  fw::Credentials creds;
  std::vector<std::pair<std::string, fw::Faults>> faults;
  fw::FleetOptions options;
  try {
    home = devices::load_home_file(args.home);
    creds = args.generate_credentials ? fw::ensure_credentials(args.credentials, home) : fw::load_credentials(args.credentials);
    fw::check_credentials(creds, home, args.credentials);
    if (!args.write_broker_auth.empty()) {
      fw::write_broker_auth(args.write_broker_auth, home, creds);
      std::cout << "wrote " << args.write_broker_auth << "/passwd and " << args.write_broker_auth
                << "/acl for " << home.devices.size() << " devices\n";
      return 0;
    }
    faults = collect_faults(args, home);
    if (!fw::parse_broker(args.broker, options.broker)) {
      throw std::invalid_argument("--broker: expected HOST:PORT, got '" + args.broker + "'");
    }
  } catch (const std::exception& e) {
    std::cerr << "firmware-sim: " << e.what() << "\n";
    return 2;
  }
  options.credentials = creds;
  options.firmware = args.firmware;
  options.seed = args.seed;
  options.speed = args.speed;
  options.summary_interval_ms = args.summary_interval_ms;

  // Signals are taken synchronously by the main thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<fw::Fleet> fleet;
  try {
    fleet = std::make_unique<fw::Fleet>(home, options);
  } catch (const std::exception& e) {
    std::cerr << "firmware-sim: " << e.what() << "\n";
    return 2;
  }
  for (const auto& [device, f] : faults) fleet->device(device)->set_faults(f);

  std::atomic<bool> stop{false};
  std::thread loop([&] { fleet->run(stop); });
  std::unique_ptr<fw::ControlApi> api;
  int status = 0;
  try {
    if (args.control_port) {
      api = std::make_unique<fw::ControlApi>(*fleet, load_or_create_token(args.token_file));
      api->start(args.control_port);
    }
    log.info("started", {{"home", home.id},
                         {"devices", std::to_string(home.devices.size())},
                         {"broker", args.broker},
                         {"latency", args.firmware.latency == fw::LatencyMode::zero ? "zero" : "realistic"},
                         {"control_port", std::to_string(args.control_port)}});
    while (true) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGUSR1) {
        fleet->request_summary();
        continue;
      }
      log.info("stopping", {{"signal", std::to_string(sig)}});
      break;
    }
  } catch (const std::exception& e) {
    std::cerr << "firmware-sim: " << e.what() << "\n";
    status = 1;
  }
  if (api) api->stop();  // first, so no HTTP request waits on a stopped loop
  stop.store(true);
  loop.join();
  return status;
}
