// An rpc::Channel decorator that puts the gateway's Sync calls on the live-snapshot channel
// (gateway/snapshot_agent.h): each request gets the agent's stamp in its path's query
// string (the send event) and the finished parts the member can take as a last body field
// (GatewaySnapshotAgent::carry_parts), each successful reply has the cloud's stamp stripped
// off and handed to the agent (the receive event) before the stub decodes it.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "cloud/rpc/channel.h"
#include "gateway/snapshot_agent.h"

namespace homestead::gateway {

class SnapshotStampingChannel : public rpc::Channel {
 public:
  // `url`: the member's host:port, the channel's name on this side.
  SnapshotStampingChannel(std::shared_ptr<rpc::Channel> inner, std::string url,
                          std::shared_ptr<GatewaySnapshotAgent> agent);

  void start_call(rpc::RawRequest request, rpc::Clock::time_point deadline, rpc::ReplyCallback done) override;
  rpc::RawReply call(rpc::RawRequest request, rpc::Clock::time_point deadline) override;

 private:
  // Returns the ticket of the parts the request carries (0: none).
  std::uint64_t stamp(rpc::RawRequest& request) const;
  void unstamp(rpc::RawReply& reply, std::uint64_t parts_ticket) const;

  std::shared_ptr<rpc::Channel> inner_;
  std::string url_;
  std::shared_ptr<GatewaySnapshotAgent> agent_;
};

}  // namespace homestead::gateway
