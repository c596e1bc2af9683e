// Ground truth for the live (non-FIFO) snapshot simulations, kept by the test outside the
// core, and the check of one snapshot's parts against it. The processes' states are their
// token counts (decimal text); a message's InFlightMessage::bytes is the tokens it carries.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "cloud/snapshot/live_participant.h"
#include "common/sim/simulator.h"

namespace homestead::snapshot {

// What the live sims share: every process starts with this many tokens, and runs the
// adapters' housekeeping (stop marking after kMarkFor, explicit markers every
// kMarkerRepeat while marking) on the simulated clock.
constexpr std::int64_t kInitialTokens = 100;
constexpr sim::Time kHousekeepingEvery = 20 * sim::kMillisecond;
constexpr sim::Time kMarkerRepeat = 40 * sim::kMillisecond;
constexpr sim::Time kMarkFor = 500 * sim::kMillisecond;

struct LiveTruth {
  // (snapshot, receiver, sender) -> seqs the receiver had received when it recorded
  std::map<std::tuple<SnapshotId, ProcessId, ProcessId>, std::set<std::uint64_t>> before_cut;
  // (snapshot, sender, receiver) -> the last seq the sender had sent when it recorded
  std::map<std::tuple<SnapshotId, ProcessId, ProcessId>, std::uint64_t> cut;
  // (receiver, sender) -> seqs received so far (duplicates once)
  std::map<std::pair<ProcessId, ProcessId>, std::set<std::uint64_t>> received;
  // (sender, receiver) -> the last seq sent
  std::map<std::pair<ProcessId, ProcessId>, std::uint64_t> last_sent;
  // (sender, receiver, seq) -> tokens carried: what a dropped message took with it
  std::map<std::tuple<ProcessId, ProcessId, std::uint64_t>, std::int64_t> sent_tokens;

  void on_sent(const ProcessId& sender, const ProcessId& receiver, std::uint64_t seq, std::int64_t tokens);
  void on_received(const ProcessId& receiver, const ProcessId& sender, std::uint64_t seq);
  // `process` recorded snapshot `id`; `others`: every other process of the run.
  void on_recorded(SnapshotId id, const ProcessId& process, const std::vector<ProcessId>& others);
};

// Checks (gtest expectations) one finished snapshot for every ordered pair of processes:
// the cut the sender reports is the true one, nothing received before the receiver's cut
// was sent after the sender's (no orphan), the in-flight messages of a channel are exactly
// the ones sent before the sender's cut, not received before the receiver's and delivered
// in the end (the rest of those are `lost`: the network dropped them), a channel with
// messages in flight is recorded at all, tokens are conserved (`total`), and
// check_live_cut() finds nothing.
void expect_consistent_live_snapshot(SnapshotId id, const std::map<ProcessId, LiveLocal>& parts,
                                     const LiveTruth& truth, std::int64_t total);

// Schedules `count` snapshots (arbitrary 64-bit ids, as initiators choose them) at random
// times in [from_ms, to_ms], each at a random node among 0..initiators-1, delivered as an
// injected Msg with `initiate` set. Returns their ids.
template <typename Msg>
std::vector<SnapshotId> schedule_snapshots(sim::Simulator<Msg>& simulator, std::size_t count, std::int64_t from_ms,
                                           std::int64_t to_ms, std::size_t initiators) {
  std::vector<SnapshotId> ids;
  for (std::size_t i = 0; i < count; ++i) {
    const SnapshotId id = simulator.rng().next() | 1;
    const auto when = simulator.rng().uniform(from_ms, to_ms) * sim::kMillisecond;
    const auto initiator = static_cast<sim::NodeId>(simulator.rng().uniform(0, static_cast<std::int64_t>(initiators) - 1));
    ids.push_back(id);
    Msg start;
    start.initiate = id;
    simulator.at(when, [&simulator, initiator, start] { simulator.inject(initiator, start); });
  }
  return ids;
}

// Runs until every process (`participants`: name -> its core) completed every snapshot of
// `ids` (at most 10 simulated seconds), then checks each with
// expect_consistent_live_snapshot.
template <typename Msg>
void expect_snapshots_complete_and_consistent(
    sim::Simulator<Msg>& simulator, const std::vector<SnapshotId>& ids,
    const std::function<std::map<ProcessId, const LiveParticipant*>()>& participants, const LiveTruth& truth,
    std::int64_t total) {
  auto all_complete = [&] {
    for (SnapshotId id : ids) {
      for (const auto& [name, participant] : participants()) {
        const auto local = participant->local(id);
        if (!local || !local->complete) return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(simulator.run_until(all_complete, 10 * sim::kSecond)) << "snapshots did not complete";
  for (SnapshotId id : ids) {
    std::map<ProcessId, LiveLocal> parts;
    for (const auto& [name, participant] : participants()) parts[name] = *participant->local(id);
    expect_consistent_live_snapshot(id, parts, truth, total);
  }
}

}  // namespace homestead::snapshot
