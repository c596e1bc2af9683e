// Unit (issue 10 item 4): cloud/snapshot/record_aging.h, the adapters' shared timers for
// live records: marks stop riding after mark_for, records retire after retire_after.
#include <gtest/gtest.h>

#include "cloud/snapshot/record_aging.h"

namespace homestead::snapshot {
namespace {

using namespace std::chrono_literals;

TEST(RecordAging, StopsMarkingThenRetiresOldestFirst) {
  LiveParticipant participant("cloud-1", 1);
  participant.set_channels({"cloud-2"}, {"cloud-2"});
  RecordAging aging(5s, 300s);
  const RecordAging::TimePoint t0{};
  participant.initiate(1, "{}");
  aging.recorded(1, t0);
  participant.initiate(2, "{}");
  aging.recorded(2, t0 + 2s);

  EXPECT_TRUE(aging.advance(participant, t0 + 5s).empty());
  EXPECT_TRUE(participant.marking(1));
  EXPECT_TRUE(aging.marking(t0 + 5s));

  EXPECT_TRUE(aging.advance(participant, t0 + 6s).empty());
  EXPECT_FALSE(participant.marking(1));  // over mark_for
  EXPECT_TRUE(participant.marking(2));
  EXPECT_TRUE(participant.known(1));     // kept for the API

  aging.advance(participant, t0 + 8s);
  EXPECT_FALSE(participant.marking(2));
  EXPECT_FALSE(aging.marking(t0 + 8s));

  EXPECT_EQ(aging.advance(participant, t0 + 301s), std::vector<SnapshotId>{1});
  EXPECT_FALSE(participant.known(1));
  EXPECT_TRUE(participant.known(2));
  EXPECT_EQ(aging.advance(participant, t0 + 303s), std::vector<SnapshotId>{2});
  EXPECT_FALSE(participant.known(2));
}

}  // namespace
}  // namespace homestead::snapshot
