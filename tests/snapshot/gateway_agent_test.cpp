// Unit (issue 10 item 4): the gateway's snapshot agent (gateway/snapshot_agent.h) driven by
// hand-made cloud stamps: which URLs get an explicit marker, and that each finished part is
// handed out once however many snapshots the agent has recorded.
#include <gtest/gtest.h>

#include <algorithm>

#include "cloud/snapshot/live_participant.h"
#include "cloud/snapshot/stamp_codec.h"
#include "gateway/snapshot_agent.h"

namespace homestead::gateway {
namespace {

constexpr const char* kGateway = "gateway:h1/gw1";

// A cloud member starting snapshots; its reply stamps carry their marks to the gateway.
struct FakeMember {
  snapshot::LiveParticipant participant{"cloud-1", 7};
  FakeMember() { participant.set_channels({kGateway}, {kGateway}); }
  std::string start(snapshot::SnapshotId id) {
    participant.initiate(id, "{}");
    return snapshot::encode_stamp_hex(participant.stamp(kGateway));
  }
  std::string reply() { return snapshot::encode_stamp_hex(participant.stamp(kGateway)); }
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(GatewaySnapshotAgent, TheMemberAboutToBeCalledGetsItsMarksOnThatCallInsteadOfAPull) {
  GatewaySnapshotAgent agent("h1", "gw1");
  FakeMember member;
  agent.stamp_request("u1");  // the gateway talks to two members
  agent.stamp_request("u2");
  agent.on_reply("u1", member.start(1), 0);  // records snapshot 1: both URLs are owed a marker

  EXPECT_EQ(agent.take_marker_urls("u1"), std::vector<std::string>{"u2"});
  // u1 is still owed until a request to it is stamped...
  EXPECT_EQ(agent.take_marker_urls("u1"), std::vector<std::string>{});
  const std::string query = agent.stamp_request("u1");
  EXPECT_EQ(query.rfind("snapshot=", 0), 0u);
  // ...which carried the marks: nothing is owed any more.
  EXPECT_EQ(agent.take_marker_urls(), std::vector<std::string>{});

  // Without the stamped call the marker is still handed out later.
  agent.on_reply("u1", member.start(2), 0);
  EXPECT_EQ(agent.take_marker_urls("u1"), std::vector<std::string>{"u2"});
  EXPECT_EQ(agent.take_marker_urls(), std::vector<std::string>{"u1"});
  EXPECT_EQ(sorted(agent.take_marker_urls()), std::vector<std::string>{});
}

TEST(GatewaySnapshotAgent, EveryFinishedPartIsHandedOutOnceAmongManySnapshots) {
  GatewaySnapshotAgent agent("h1", "gw1");
  FakeMember member;
  agent.stamp_request("u1");
  std::vector<snapshot::SnapshotId> shipped;
  for (snapshot::SnapshotId id = 1; id <= 200; ++id) {
    agent.on_reply("u1", member.start(id), id);
    agent.stamp_request("u1", id);
    for (const auto& part : agent.take_finished_parts()) shipped.push_back(std::stoull(part["id"].get<std::string>()));
    EXPECT_TRUE(agent.take_finished_parts().empty()) << "snapshot " << id << " handed out twice";
  }
  ASSERT_EQ(shipped.size(), 200u);
  for (std::size_t i = 0; i < shipped.size(); ++i) EXPECT_EQ(shipped[i], i + 1);
  // A reply that carries no new mark changes no part.
  agent.on_reply("u1", member.reply(), 300);
  EXPECT_TRUE(agent.take_finished_parts().empty());
}

TEST(GatewaySnapshotAgent, APartIsShippedAgainWhenAChannelJoinsWhileItStillMarks) {
  GatewaySnapshotAgent agent("h1", "gw1");
  FakeMember member;
  agent.stamp_request("u1");
  agent.on_reply("u1", member.start(1), 0);
  const auto first = agent.take_finished_parts();
  ASSERT_EQ(first.size(), 1u);
  // The gateway moves to another member while snapshot 1 still marks: the new outgoing
  // channel gets snapshot 1's cut, so the part grows and ships again.
  agent.stamp_request("u2");
  const auto again = agent.take_finished_parts();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GT(again[0]["sent_through"].size(), first[0]["sent_through"].size()) << again[0].dump();
  EXPECT_TRUE(agent.take_finished_parts().empty());
}

}  // namespace
}  // namespace homestead::gateway
