// Test/bench helper: a Sync RPC client (rpc::Stub<SyncService> over rpc::HttpChannel) that
// knows every cloudd http address, follows "not_leader <addr>" answers, moves to the next
// member on transport errors, timeouts and "unavailable", and resends the same request
// until a deadline. The gateway's real client lives in gateway/; this one exists so cloud
// tests speak the contract exactly as docs/sync-protocol.md describes it. Header-only, so
// a tool can use it without linking the cloud test fixture.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cloud/rpc/http_channel.h"
#include "cloud/rpc/stub.h"
#include "cloud/services/sync_api.h"

namespace homestead::cloud_testing {

using sync_api::SyncService;

class SyncClient {
 public:
  // ports: every cloudd http port on 127.0.0.1; start at ports[first].
  SyncClient(std::vector<int> ports, std::string token, std::size_t first = 0);

  // Sends until an answer other than not_leader/unavailable/transport comes back or the
  // deadline passes; returns the last result.
  rpc::Result<sync_api::PushReply> push(const sync_api::PushRequest& request,
                                        std::chrono::milliseconds deadline = std::chrono::seconds(20));
  rpc::Result<sync_api::PullReply> pull(const sync_api::PullRequest& request,
                                        std::chrono::milliseconds deadline = std::chrono::seconds(20));
  rpc::Result<sync_api::LeaseReply> acquire(const sync_api::LeaseRequest& request,
                                            std::chrono::milliseconds deadline = std::chrono::seconds(20));
  rpc::Result<sync_api::LeaseReply> release(const sync_api::LeaseRequest& request,
                                            std::chrono::milliseconds deadline = std::chrono::seconds(20));

  int current_port() const { return ports_[current_]; }
  std::size_t redirects() const { return redirects_; }  // not_leader answers followed
  std::size_t failovers() const { return failovers_; }  // moves after errors

 private:
  template <class M>
  rpc::Result<typename M::Response> send(const typename M::Request& request, std::chrono::milliseconds deadline);
  rpc::Stub<sync_api::SyncService>& stub(int port);
  // Picks the next member after `result` failed; false when the error is final.
  bool steer(const rpc::RpcError& error);

  std::vector<int> ports_;
  std::string token_;
  std::size_t current_;
  std::map<int, std::unique_ptr<rpc::Stub<sync_api::SyncService>>> stubs_;
  std::shared_ptr<rpc::ClientSession> session_;
  std::size_t redirects_ = 0;
  std::size_t failovers_ = 0;
};

inline SyncClient::SyncClient(std::vector<int> ports, std::string token, std::size_t first)
    : ports_(std::move(ports)),
      token_(std::move(token)),
      current_(first % ports_.size()),
      session_(std::make_shared<rpc::ClientSession>()) {}

inline rpc::Stub<SyncService>& SyncClient::stub(int port) {
  auto& stub = stubs_[port];
  if (!stub) {
    rpc::HttpChannelOptions channel;
    channel.credential = token_;
    channel.max_connections = 2;
    channel.connect_timeout = std::chrono::milliseconds(300);
    rpc::StubOptions options;
    options.codec = rpc::Codec::msgpack;
    options.timeout = std::chrono::milliseconds(3000);
    options.retry = rpc::RetryPolicy::none();  // this client decides where to resend
    options.session = session_;               // one client id across members
    stub = std::make_unique<rpc::Stub<SyncService>>(std::make_shared<rpc::HttpChannel>("127.0.0.1", port, channel),
                                                    options);
  }
  return *stub;
}

inline bool SyncClient::steer(const rpc::RpcError& error) {
  if (error.kind == rpc::ErrorKind::remote) {
    const std::string& m = error.message;
    if (m.rfind("not_leader", 0) == 0) {
      const auto colon = m.rfind(':');
      if (m.size() > 11 && colon != std::string::npos) {
        const int port = std::stoi(m.substr(colon + 1));
        const auto it = std::find(ports_.begin(), ports_.end(), port);
        if (it != ports_.end()) {
          current_ = static_cast<std::size_t>(it - ports_.begin());
          ++redirects_;
          return true;
        }
      }
      current_ = (current_ + 1) % ports_.size();  // leader unknown: try the next member
      ++failovers_;
      return true;
    }
    if (m.rfind("unavailable", 0) == 0) {
      current_ = (current_ + 1) % ports_.size();
      ++failovers_;
      return true;
    }
    return false;  // a rule's answer (forbidden, invalid, ...): final
  }
  switch (error.kind) {
    case rpc::ErrorKind::transport:
    case rpc::ErrorKind::timeout:
    case rpc::ErrorKind::unknown_outcome:
    case rpc::ErrorKind::overloaded:
    case rpc::ErrorKind::shutting_down:
    case rpc::ErrorKind::in_progress:
      current_ = (current_ + 1) % ports_.size();
      ++failovers_;
      return true;
    default: return false;  // unauthenticated, bad_request, ...
  }
}

template <class M>
rpc::Result<typename M::Response> SyncClient::send(const typename M::Request& request,
                                                   std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (int attempt = 0;; ++attempt) {
    auto result = stub(ports_[current_]).template call<M>(request);
    if (result.ok() || !steer(result.error()) || std::chrono::steady_clock::now() >= until) return result;
    // Back off a little once every member has been tried (an election takes ~1 s).
    if (attempt % static_cast<int>(ports_.size()) == static_cast<int>(ports_.size()) - 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

inline rpc::Result<sync_api::PushReply> SyncClient::push(const sync_api::PushRequest& r, std::chrono::milliseconds d) {
  return send<SyncService::Push>(r, d);
}
inline rpc::Result<sync_api::PullReply> SyncClient::pull(const sync_api::PullRequest& r, std::chrono::milliseconds d) {
  return send<SyncService::Pull>(r, d);
}
inline rpc::Result<sync_api::LeaseReply> SyncClient::acquire(const sync_api::LeaseRequest& r, std::chrono::milliseconds d) {
  return send<SyncService::AcquireLease>(r, d);
}
inline rpc::Result<sync_api::LeaseReply> SyncClient::release(const sync_api::LeaseRequest& r, std::chrono::milliseconds d) {
  return send<SyncService::ReleaseLease>(r, d);
}

}  // namespace homestead::cloud_testing
