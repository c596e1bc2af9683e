// Test/bench helper: a Sync RPC client (rpc::Stub<SyncService> over rpc::HttpChannel) that
// knows every cloudd http address, follows "not_leader <addr>" answers, moves to the next
// member on transport errors, timeouts and "unavailable", and resends the same request
// until a deadline. The gateway's real client lives in gateway/; this one exists so cloud
// tests speak the contract exactly as docs/sync-protocol.md describes it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cloud/rpc/http_channel.h"
#include "cloud/rpc/stub.h"
#include "cloud/services/sync_api.h"

namespace homestead::cloud_testing {

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

}  // namespace homestead::cloud_testing
