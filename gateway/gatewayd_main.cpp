// gatewayd: the home gateway daemon. See docs/gateway-api.md and `gatewayd --help`.
#include <signal.h>

#include <cstring>
#include <iostream>

#include "common/config/config.h"
#include "common/log/log.h"
#include "devices/home.h"
#include "gateway/builtin_app_config.h"
#include "gateway/gateway.h"
#include "gateway/http_api.h"
#include "gateway/store.h"
#include "transactuation/json_app.h"

namespace {

constexpr const char* kUsage = R"(Usage: gatewayd --config FILE [options]

Homestead home gateway: MQTT ingest from the home's Mosquitto, device registry, state and
readings in SQLite, command log, REST admin API with bearer-token auth, /metrics, and the
transactuation runtime (apps from "transactuations" in the config and the REST API; intent
log in <data_dir>/transactuations.db; recovery after a crash at the first broker connect).

Options:
  --config FILE      JSON config (every field has a default; see docs/gateway-api.md)
  --http-port N      override http.port (0 = any free port, printed in the log)
  --check-config     load and validate the config and home file, then exit
  --help             this text

Signals: SIGTERM/SIGINT stop cleanly (queued readings are committed first).
First start creates the admin API token in <data_dir>/admin.token (mode 0600).
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "gatewayd: " << message << "\n(see gatewayd --help)\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace homestead;
  std::string config_path;
  std::optional<int> http_port;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (flag == "--config") {
      config_path = value();
    } else if (flag == "--http-port") {
      const auto v = value();
      char* end = nullptr;
      const long p = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || p < 0 || p > 65535) usage_error("--http-port: expected 0..65535, got '" + v + "'");
      http_port = static_cast<int>(p);
    } else if (flag == "--check-config") {
      check_only = true;
    } else {
      usage_error("unknown option '" + flag + "'");
    }
  }
  if (config_path.empty()) usage_error("--config is required");

  // Block the stop signals in every thread; main waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const log::Logger logger("gatewayd");
  try {
    auto config = gateway::load_gateway_config(config_path);
    if (http_port) config.http.port = *http_port;
    log::Level level;
    if (!std::getenv("HOMESTEAD_LOG_LEVEL") && log::parse_level(config.log_level, level)) log::set_level(level);
    if (check_only) {
      devices::load_home_file(config.home_file);
      // Apps are checked too, so a bad app fails here rather than at start.
      gateway::builtin_apps_from_config(config.transactuations.builtin);
      for (const auto& file : config.transactuations.app_files) transactuation::load_apps_file(file);
      std::cout << "gatewayd: config " << config_path << " OK\n";
      return 0;
    }
    gateway::Gateway gateway(config);
    gateway::HttpApi api(gateway, config.http);
    gateway.start();
    const int port = api.start();
    logger.info("gatewayd started", {{"version", gateway::kVersion}, {"http", config.http.bind + ":" + std::to_string(port)},
                                     {"port", std::to_string(port)}, {"broker", config.mqtt.uri},
                                     {"db", config.db_path().string()}});
    int sig = 0;
    sigwait(&stop_signals, &sig);
    logger.info("stopping", {{"signal", strsignal(sig)}});
    api.stop();
    gateway.stop();
    return 0;
  } catch (const config::ConfigError& e) {
    std::cerr << "gatewayd: config error: " << e.what() << "\n";
  } catch (const devices::HomeError& e) {
    std::cerr << "gatewayd: home file error: " << e.what() << "\n";
  } catch (const transactuation::AppError& e) {
    std::cerr << "gatewayd: app error: " << e.what() << "\n";
  } catch (const gateway::StoreError& e) {
    std::cerr << "gatewayd: database error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "gatewayd: " << e.what() << "\n";
  }
  return 1;
}
