// cloudd: one member of the Raft-replicated key-value store (issue 7). See README.md.
#include <signal.h>

#include <cstring>
#include <iostream>
#include <string>

#include "cloud/cloudd/cloudd_config.h"
#include "cloud/cloudd/dht_service.h"
#include "cloud/cloudd/file_log_store.h"
#include "cloud/cloudd/http_api.h"
#include "cloud/cloudd/raft_server.h"
#include "cloud/cloudd/secrets.h"
#include "cloud/cloudd/snapshot_channels.h"
#include "cloud/cloudd/snapshot_state.h"
#include "common/log/log.h"

namespace {

void usage(std::ostream& out) {
  out << "Usage: cloudd --config FILE\n"
         "\n"
         "Runs one member of the Raft-replicated key-value store.\n"
         "\n"
         "Options:\n"
         "  --config FILE   JSON config (see cloud/cloudd/README.md), e.g.\n"
         "                  {\"id\": 1, \"data_dir\": \"/var/lib/cloudd/1\",\n"
         "                   \"http_listen\": \"127.0.0.1:8001\", \"peer_listen\": \"127.0.0.1:7001\",\n"
         "                   \"members\": [{\"id\": 1, \"peer\": \"127.0.0.1:7001\", \"http\": \"127.0.0.1:8001\"}, ...],\n"
         "                   \"token_file\": \"...\", \"cluster_secret_file\": \"...\",\n"
         "                   \"dht\": {\"enabled\": true, \"bits\": 32, \"stabilize_ms\": 100, \"group\": 1,\n"
         "                           \"virtual_nodes\": 1}}\n"
         "                  Every member joins a Chord ring with virtual_nodes positions\n"
         "                  (GET /api/v1/dht/ring, /api/v1/dht/lookup/{home}, /api/v1/dht/homes/{home}).\n"
         "                  \"http_frontend\": \"epoll\" (default: one event thread, KV requests answered\n"
         "                  from the Raft loop) or \"httplib\" (a thread per connection).\n"
         "  -h, --help      this text\n"
         "\n"
         "The client bearer token and the cluster secret are generated on first start (mode 0600)\n"
         "when their files do not exist; every member must share the cluster secret.\n"
         "HOMESTEAD_LOG_LEVEL=debug|info|warn|error sets the log level. SIGTERM/SIGINT stop it.\n"
         "HOMESTEAD_CLOUDD_HTTP_FRONTEND=epoll|httplib is the front end when the config does not say.\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace homestead;
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return 0;
    }
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::cerr << "cloudd: unknown argument '" << arg << "'\n";
      usage(std::cerr);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "cloudd: --config FILE is required\n";
    usage(std::cerr);
    return 2;
  }

  // Block the stop signals before any thread starts, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const log::Logger logger("cloudd");
  try {
    const cloudd::CloudConfig config = cloudd::load_cloud_config(config_path);
    const std::string token = cloudd::load_or_create_secret(config.token_file);
    const std::string secret = cloudd::load_or_create_secret(config.cluster_secret_file);
    // Declared before raft so it outlives raft's peer listener, which calls into it.
    std::unique_ptr<cloudd::DhtService> dht;
    // Live global snapshots (issue 10): installed before the Raft peer transport is built,
    // which stamps its frames through it. Records cheap state, never waits for the Raft loop.
    cloudd::RaftServer* raft_for_snapshots = nullptr;
    auto snapshots = std::make_shared<cloudd::SnapshotChannels>(
        cloudd::cloud_process_name(config.id), [&raft_for_snapshots, &config] {
          return cloudd::cloud_snapshot_state(*raft_for_snapshots, config.id);
        });
    cloudd::install_snapshot_channels(snapshots);
    cloudd::RaftServer raft(config, secret, std::make_unique<cloudd::FileLogStore>(config.data_dir, config.fsync));
    raft_for_snapshots = &raft;
    if (config.dht.enabled) {
      dht = std::make_unique<cloudd::DhtService>(config, secret);
      dht->attach(raft);  // Chord traffic shares the Raft peer listener
    }
    raft.start();
    if (dht) dht->start();
    cloudd::HttpApi api(raft, config, token, secret, dht.get(), snapshots);
    api.start();
    logger.info("serving", {{"id", std::to_string(config.id)},
                            {"http", config.http_listen.text()},
                            {"peer", config.peer_listen.text()}});
    int sig = 0;
    sigwait(&stop_signals, &sig);
    logger.info("stopping", {{"signal", strsignal(sig)}});
    api.stop();
    if (dht) dht->stop();
    raft.stop();
    return 0;
  } catch (const config::ConfigError& e) {
    std::cerr << "cloudd: " << config_path << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cloudd: " << e.what() << "\n";
    return 1;
  }
}
