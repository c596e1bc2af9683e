// One in-process KvService server behind either transport, so the contract every transport
// must keep (codecs, errors, deadlines, draining, invocation semantics) is written once and
// run over tcp and http alike.
#pragma once

#include <memory>
#include <string>

#include "cloud/rpc/http_channel.h"
#include "cloud/rpc/http_server.h"
#include "cloud/rpc/tcp_channel.h"
#include "cloud/rpc/tcp_server.h"
#include "tests/rpc/kv_fixture.h"

namespace homestead::rpc::testing {

enum class Transport { tcp, http };

inline std::string transport_name(Transport transport) { return transport == Transport::tcp ? "tcp" : "http"; }

inline std::shared_ptr<Channel> make_channel(Transport transport, int port, const std::string& credential) {
  if (transport == Transport::tcp) {
    return std::make_shared<TcpChannel>("127.0.0.1", port, TcpChannelOptions{.credential = credential});
  }
  return std::make_shared<HttpChannel>("127.0.0.1", port, HttpChannelOptions{.credential = credential});
}

class KvServer {
 public:
  static constexpr const char* kSecret = "test-cluster-secret";

  explicit KvServer(Transport transport, ServerOptions options = base_options(), int port = 0)
      : transport(transport), server(std::move(options)) {
    install_kv(server, store, gate);
    if (transport == Transport::tcp) {
      tcp_ = std::make_unique<TcpListener>(server, "127.0.0.1", port);
      tcp_->start();
    } else {
      http_ = std::make_unique<HttpListener>(server, "127.0.0.1", port);
      http_->start();
    }
  }
  ~KvServer() {
    gate.open();
    stop_listener();
  }
  KvServer(const KvServer&) = delete;
  KvServer& operator=(const KvServer&) = delete;

  static ServerOptions base_options() {
    ServerOptions options;
    options.credentials = {kSecret};
    options.workers = 4;
    options.max_request_bytes = 64 * 1024;
    return options;
  }
  int port() const { return tcp_ ? tcp_->port() : http_->port(); }
  void stop_listener() {
    if (tcp_) tcp_->stop();
    if (http_) http_->stop();
  }
  std::shared_ptr<Channel> channel(const std::string& credential = kSecret) const {
    return make_channel(transport, port(), credential);
  }

  const Transport transport;
  KvStore store;
  Gate gate;
  Server server;

 private:
  std::unique_ptr<TcpListener> tcp_;
  std::unique_ptr<HttpListener> http_;
};

}  // namespace homestead::rpc::testing
