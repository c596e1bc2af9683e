// The pure Chandy-Lamport participant, driven by hand: what it records, which markers it
// asks for, and how concurrent snapshots stay apart.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cloud/snapshot/chandy_lamport.h"

namespace homestead::snapshot {
namespace {

using Participant = SnapshotParticipant<int, std::string>;

TEST(SnapshotParticipant, InitiatorRecordsAndSendsMarkersInIdOrder) {
  Participant p("B", {"C", "A"}, {"C", "A", "D"});
  const auto markers = p.initiate(7, 42);
  EXPECT_EQ(markers, (std::vector<MarkerSend>{{7, "A"}, {7, "C"}, {7, "D"}}));
  EXPECT_TRUE(p.recorded(7));
  EXPECT_FALSE(p.complete(7));  // both incoming channels still open
  EXPECT_FALSE(p.local(7).has_value());
}

TEST(SnapshotParticipant, RecordsMessagesUntilEachChannelsMarker) {
  Participant p("B", {"A", "C"}, {"A"});
  p.on_message("A", "before-cut");  // no snapshot yet: not recorded anywhere
  ASSERT_EQ(p.initiate(1, 10).size(), 1u);
  p.on_message("A", "a1");
  p.on_message("C", "c1");
  EXPECT_TRUE(p.on_marker(1, "A", 99).empty());  // not the first marker: nothing to send
  p.on_message("A", "a2-after-marker");
  p.on_message("C", "c2");
  EXPECT_FALSE(p.complete(1));
  EXPECT_TRUE(p.on_marker(1, "C", 99).empty());
  ASSERT_TRUE(p.complete(1));
  const auto local = *p.local(1);
  EXPECT_EQ(local.state, 10);  // the state at initiation, not at a later marker
  EXPECT_EQ(local.process, "B");
  EXPECT_EQ(local.channels.at("A"), (std::vector<std::string>{"a1"}));
  EXPECT_EQ(local.channels.at("C"), (std::vector<std::string>{"c1", "c2"}));
}

TEST(SnapshotParticipant, FirstMarkerRecordsStateAndThatChannelIsEmpty) {
  Participant p("B", {"A", "C"}, {"C", "A"});
  const auto markers = p.on_marker(3, "C", 5);
  EXPECT_EQ(markers, (std::vector<MarkerSend>{{3, "A"}, {3, "C"}}));
  p.on_message("C", "after-marker");  // C's channel closed with its marker
  p.on_message("A", "in-flight");
  p.on_marker(3, "A", 0);
  const auto local = *p.local(3);
  EXPECT_EQ(local.state, 5);
  EXPECT_TRUE(local.channels.at("C").empty());
  EXPECT_EQ(local.channels.at("A"), (std::vector<std::string>{"in-flight"}));
}

TEST(SnapshotParticipant, SingleIncomingChannelCompletesOnFirstMarker) {
  Participant p("B", {"A"}, {"A"});
  p.on_marker(0, "A", 8);
  EXPECT_TRUE(p.complete(0));
  EXPECT_EQ(p.local(0)->state, 8);
}

TEST(SnapshotParticipant, ConcurrentSnapshotsAreKeptApartById) {
  Participant p("B", {"A", "C"}, {"A", "C"});
  p.initiate(1, 100);           // B's own snapshot
  p.on_message("A", "m1");      // in flight for snapshot 1 only
  p.on_marker(2, "A", 101);     // A's snapshot reaches B: records 101, A closed for 2
  p.on_message("A", "m2");      // snapshot 1 still records A; snapshot 2 does not
  p.on_message("C", "m3");      // both record C
  p.on_marker(1, "A", 0);
  p.on_marker(2, "C", 0);
  EXPECT_TRUE(p.complete(2));
  EXPECT_FALSE(p.complete(1));
  p.on_marker(1, "C", 0);
  const auto one = *p.local(1);
  const auto two = *p.local(2);
  EXPECT_EQ(one.state, 100);
  EXPECT_EQ(two.state, 101);
  EXPECT_EQ(one.channels.at("A"), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(one.channels.at("C"), (std::vector<std::string>{"m3"}));
  EXPECT_TRUE(two.channels.at("A").empty());
  EXPECT_EQ(two.channels.at("C"), (std::vector<std::string>{"m3"}));
  p.forget(1);
  EXPECT_FALSE(p.local(1).has_value());
  EXPECT_TRUE(p.local(2).has_value());
}

TEST(SnapshotParticipant, RejectsProtocolViolations) {
  Participant p("B", {"A"}, {"A"});
  EXPECT_THROW(p.on_message("Z", "x"), std::logic_error);
  EXPECT_THROW(p.on_marker(0, "Z", 0), std::logic_error);
  p.initiate(0, 1);
  EXPECT_THROW(p.initiate(0, 1), std::logic_error);
  p.on_marker(0, "A", 0);
  EXPECT_THROW(p.on_marker(0, "A", 0), std::logic_error);
  EXPECT_THROW(Participant("B", {"A", "A"}, {}), std::invalid_argument);
}

TEST(SnapshotAssembler, CompletesWhenEveryProcessReported) {
  Participant a("A", {"B"}, {"B"});
  Participant b("B", {"A"}, {"A"});
  const auto to_b = a.initiate(4, 1);
  ASSERT_EQ(to_b.size(), 1u);
  b.on_message("A", "ignored: B has not recorded");  // never happens after a marker in FIFO, fine before
  a.on_message("B", "x");
  const auto to_a = b.on_marker(4, "A", 2);
  a.on_marker(4, "B", 0);
  SnapshotAssembler<int, std::string> assembler(4, {"A", "B"});
  assembler.add(*a.local(4));
  EXPECT_FALSE(assembler.complete());
  EXPECT_EQ(assembler.pending(), (std::set<ProcessId>{"B"}));
  EXPECT_THROW(assembler.add(*a.local(4)), std::logic_error);
  assembler.add(*b.local(4));
  ASSERT_TRUE(assembler.complete());
  const auto& global = assembler.result();
  EXPECT_EQ(global.states.at("A"), 1);
  EXPECT_EQ(global.states.at("B"), 2);
  EXPECT_EQ(global.channels.at({"B", "A"}), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(global.channels.at({"A", "B"}).empty());
}

}  // namespace
}  // namespace homestead::snapshot
