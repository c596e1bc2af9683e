#include "tests/snapshot/live_truth.h"

#include <gtest/gtest.h>

#include "cloud/snapshot/live_report.h"

namespace homestead::snapshot {

void LiveTruth::on_sent(const ProcessId& sender, const ProcessId& receiver, std::uint64_t seq, std::int64_t tokens) {
  last_sent[{sender, receiver}] = seq;
  sent_tokens[{sender, receiver, seq}] = tokens;
}

void LiveTruth::on_received(const ProcessId& receiver, const ProcessId& sender, std::uint64_t seq) {
  received[{receiver, sender}].insert(seq);
}

void LiveTruth::on_recorded(SnapshotId id, const ProcessId& process, const std::vector<ProcessId>& others) {
  for (const ProcessId& other : others) {
    before_cut[{id, process, other}] = received[{process, other}];
    auto sent = last_sent.find({process, other});
    cut[{id, process, other}] = sent == last_sent.end() ? 0 : sent->second;
  }
}

void expect_consistent_live_snapshot(SnapshotId id, const std::map<ProcessId, LiveLocal>& parts,
                                     const LiveTruth& truth, std::int64_t total) {
  static const std::set<std::uint64_t> kNone;
  std::int64_t sum = 0;
  for (const auto& [process, part] : parts) sum += std::stoll(part.state);
  for (const auto& [sender, sender_part] : parts) {
    for (const auto& [receiver, receiver_part] : parts) {
      if (sender == receiver) continue;
      const std::string channel_name = "snapshot " + std::to_string(id) + " channel " + sender + "->" + receiver;
      const auto true_cut = truth.cut.find({id, sender, receiver});
      ASSERT_NE(true_cut, truth.cut.end()) << channel_name << ": the test saw no record of " << sender;
      const std::uint64_t cut = true_cut->second;
      auto find_or_none = [&](const auto& map, const auto& key) -> const std::set<std::uint64_t>& {
        auto it = map.find(key);
        return it == map.end() ? kNone : it->second;
      };
      const auto& before = find_or_none(truth.before_cut, std::make_tuple(id, receiver, sender));
      const auto& received = find_or_none(truth.received, std::make_pair(receiver, sender));
      // No orphan: nothing received before our cut was sent after the sender's.
      if (!before.empty()) {
        EXPECT_LE(*before.rbegin(), cut) << channel_name << ": orphan receive";
      }
      auto sent_through = sender_part.sent_through.find(receiver);
      if (sent_through != sender_part.sent_through.end()) {
        EXPECT_EQ(sent_through->second, cut) << channel_name;
      }
      std::set<std::uint64_t> expected, expected_lost;
      for (std::uint64_t seq = 1; seq <= cut; ++seq) {
        if (before.count(seq)) continue;
        (received.count(seq) ? expected : expected_lost).insert(seq);
      }
      auto record = receiver_part.incoming.find(sender);
      if (record == receiver_part.incoming.end()) {
        EXPECT_TRUE(expected.empty() && expected_lost.empty())
            << channel_name << ": " << expected.size() + expected_lost.size()
            << " messages in flight at the cut but the channel is not recorded";
        continue;
      }
      const ChannelRecord& channel = record->second;
      ASSERT_TRUE(channel.cut_known) << channel_name;
      EXPECT_EQ(channel.sender_cut_seq, cut) << channel_name;
      EXPECT_EQ(channel.received_before_cut + channel.in_flight.size() + channel.lost.size(), cut) << channel_name;
      std::set<std::uint64_t> recorded;
      for (const auto& m : channel.in_flight) {
        EXPECT_TRUE(recorded.insert(m.seq).second) << "seq " << m.seq << " recorded twice on " << channel_name;
        sum += static_cast<std::int64_t>(m.bytes);
      }
      EXPECT_EQ(recorded, expected) << channel_name;
      EXPECT_EQ(std::set<std::uint64_t>(channel.lost.begin(), channel.lost.end()), expected_lost) << channel_name;
      EXPECT_TRUE(channel.late.empty()) << channel_name << ": the loss wait is longer than any delay";
      for (std::uint64_t seq : channel.lost) sum += truth.sent_tokens.at({sender, receiver, seq});
    }
  }
  EXPECT_EQ(sum, total) << "snapshot " << id << " does not conserve tokens";
  EXPECT_EQ(check_live_cut(parts), std::vector<std::string>{}) << "snapshot " << id;
}

}  // namespace homestead::snapshot
