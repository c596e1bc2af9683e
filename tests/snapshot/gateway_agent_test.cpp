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

// The gateway names its outgoing channels by URL (it cannot know which member answers until
// the first reply), the member by process name. Acknowledgements must still cross over, or
// every mark rides on every call for the whole kMarkFor both ways: with snapshots back to
// back that was ~200 marks per Sync request and reply.
TEST(GatewaySnapshotAgent, MarksStopRidingBothWaysOnceAcknowledged) {
  GatewaySnapshotAgent agent("h1", "gw1");
  FakeMember member;
  auto request_stamp = [&](std::uint64_t push) {
    const std::string query = agent.stamp_request("u1", push);
    return snapshot::decode_stamp_hex(query.substr(std::string("snapshot=").size()));
  };
  auto member_receives = [&](const snapshot::Stamp& stamp) {
    member.participant.on_receive(stamp, [] { return std::string("{}"); },
                                  [] { return snapshot::InFlightMessage{0, "Sync/Push", 0}; });
  };
  member_receives(request_stamp(1));
  agent.on_reply("u1", member.start(1), 1);  // the reply carries snapshot 1's mark: the gateway records

  const snapshot::Stamp after_cut = request_stamp(2);
  ASSERT_EQ(after_cut.marks.size(), 1u) << "the gateway's first request after its cut carries its mark";
  EXPECT_NE(after_cut.ack_incarnation, 0u) << "the gateway acknowledges the member's replies";
  member_receives(after_cut);
  const std::string reply = member.reply();
  EXPECT_TRUE(snapshot::decode_stamp_hex(reply).marks.empty())
      << "the gateway acknowledged the reply that carried the member's mark";
  agent.on_reply("u1", reply, 2);
  EXPECT_TRUE(request_stamp(3).marks.empty()) << "the member acknowledged the request that carried the gateway's mark";
}

// A finished part rides on the next request to a member that recorded its snapshot; it is
// only handed out for a POST when no request carried it (or the call failed).
TEST(GatewaySnapshotAgent, FinishedPartsRideOnTheNextRequestToAMemberThatRecorded) {
  GatewaySnapshotAgent agent("h1", "gw1");
  FakeMember member;  // cloud-1 at u1
  agent.stamp_request("u1");
  const auto before_part = std::chrono::steady_clock::now();
  agent.on_reply("u1", member.start(1), 0);  // records and completes snapshot 1 (one channel, closed)

  EXPECT_TRUE(agent.take_finished_parts(before_part).empty()) << "ready after that moment: left for the next request";
  EXPECT_EQ(agent.carry_parts("u9").count, 0u) << "nobody known answers at u9";
  agent.stamp_request("u1");
  const auto carried = agent.carry_parts("u1");
  ASSERT_EQ(carried.count, 1u);
  const auto parts = nlohmann::json::parse(carried.json);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0]["id"], "1");
  EXPECT_EQ(parts[0]["process"], kGateway);
  EXPECT_EQ(agent.carry_parts("u1").count, 0u) << "in transit on the first request";
  agent.carried(carried.ticket, /*delivered=*/false);  // that call failed: ready again
  const auto again = agent.carry_parts("u1");
  ASSERT_EQ(again.count, 1u);
  agent.carried(again.ticket, /*delivered=*/true);
  EXPECT_TRUE(agent.take_finished_parts().empty()) << "delivered: nothing left to POST";
  EXPECT_EQ(agent.parts_carried(), 1u);

  // A part no request carried is handed out for a POST.
  agent.on_reply("u1", member.start(2), 0);
  const auto posted = agent.take_finished_parts();
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0]["id"], "2");
  EXPECT_EQ(agent.carry_parts("u1").count, 0u);
}

}  // namespace
}  // namespace homestead::gateway
