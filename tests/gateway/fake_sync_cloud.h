// A fake of cloudd's Sync service for gateway integration tests: two nodes on real HTTP
// listeners (cloud/rpc http transport), a leader that applies pushed items by the contract's
// seq rule (apply seq == applied_through + 1, count the rest as duplicates, stop at a gap)
// and a follower that answers "not_leader <leader>". Faults on demand: refuse every push,
// apply and then hold the reply past the client's timeout (the reply is lost after the
// items were applied), or be unreachable (listeners stopped; restarted on the same ports).
// Desired changes are queued per home with cursors 1, 2, 3, ...
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cloud/rpc/http_server.h"
#include "cloud/rpc/server.h"
#include "cloud/services/sync_api.h"

namespace homestead::testing {

class FakeSyncCloud {
 public:
  enum class Fault { none, refuse, drop_reply };

  FakeSyncCloud(std::string token, std::string home_id, std::string gateway_id);
  ~FakeSyncCloud();

  void start();  // both nodes; the same ports as before after a stop()
  void stop();   // unreachable
  std::string leader_url() const { return "http://127.0.0.1:" + std::to_string(ports_[0]); }
  std::string follower_url() const { return "http://127.0.0.1:" + std::to_string(ports_[1]); }
  void set_fault(Fault fault, int hold_ms = 0);

  std::uint64_t add_desired(const std::string& device, const nlohmann::json& desired);
  // Every item applied, in apply order.
  std::vector<sync_api::OutboxItem> applied() const;
  std::uint64_t applied_through() const;
  std::uint64_t duplicates() const;
  std::uint64_t not_leader_answers() const;
  std::uint64_t refused() const;
  // Bodies of applied items of one kind.
  std::vector<nlohmann::json> bodies(const std::string& kind) const;

 private:
  sync_api::PushReply push(const sync_api::PushRequest& request);
  sync_api::PullReply pull(const sync_api::PullRequest& request);
  void check_identity(const std::string& home, const std::string& gateway) const;

  const std::string token_, home_id_, gateway_id_;
  int ports_[2] = {0, 0};
  std::unique_ptr<rpc::Server> servers_[2];
  std::unique_ptr<rpc::HttpListener> listeners_[2];

  mutable std::mutex mutex_;
  Fault fault_ = Fault::none;
  int hold_ms_ = 0;
  std::vector<sync_api::OutboxItem> applied_;
  std::uint64_t duplicates_ = 0;
  std::uint64_t not_leader_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t lease_calls_ = 0;
  std::vector<sync_api::DesiredChange> desired_;
};

}  // namespace homestead::testing
