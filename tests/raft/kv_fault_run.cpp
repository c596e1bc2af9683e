#include "tests/raft/kv_fault_run.h"

#include <gtest/gtest.h>

#include "tests/raft/kv_sim.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::check_linearizable;
using homestead::testing::KvModel;
using homestead::testing::KvOperation;
using homestead::testing::Linearizability;

void nemesis_step(Cluster& c, sim::Rng& rng, const FaultRun& run) {
  const int n = c.size();
  switch (rng.uniform(0, 7)) {
    case 0:
      c.heal();
      c.set_network(sim::LinkConfig{});
      break;
    case 1: {
      std::vector<int> a, b;
      for (int i = 0; i < n; ++i) (rng.chance(0.5) ? a : b).push_back(i);
      c.partition({a, b});
      break;
    }
    case 2:
      if (auto leader = c.leader()) c.disconnect(*leader);
      break;
    case 3: {
      int down = 0;
      for (int i = 0; i < n; ++i) down += c.up(i) ? 0 : 1;
      const int victim = static_cast<int>(rng.uniform(0, n - 1));
      if (down < (n - 1) / 2) c.crash(victim);
      break;
    }
    case 4:
      for (int i = 0; i < n; ++i) c.restart(i);
      break;
    case 5:
      c.set_network(unreliable_link());
      break;
    case 6:
      if (auto leader = c.leader()) {
        c.node(*leader).transfer_leadership(static_cast<NodeId>(rng.uniform(1, n)));
        c.flush(*leader);
      }
      break;
    default:
      if (run.clock_drift) {
        // Within the lease assumption: tick rates differ by far less than the margin.
        const int victim = static_cast<int>(rng.uniform(0, n - 1));
        c.sim().set_clock(static_cast<sim::NodeId>(victim), {rng.uniform(-5, 5) * sim::kSecond, rng.uniform(-500, 500) * 1.0});
      }
      break;
  }
}

}  // namespace

void kv_fault_run(std::uint64_t seed, const FaultRun& run) {
  ClusterOptions o = kv_cluster_options(run.servers);
  o.raft.lease_reads = run.lease_reads;
  Cluster c(seed, o);
  std::vector<KvOperation> history;
  std::vector<sim::NodeId> clients;
  KvClientOptions client_options;
  client_options.servers = run.servers;
  client_options.operations = run.operations;
  for (int k = 0; k < run.clients; ++k) {
    clients.push_back(c.add_process([&, k](sim::NodeId) { return std::make_unique<KvClient>(k, client_options, &history); }));
  }
  auto all_done = [&] {
    for (sim::NodeId id : clients) {
      if (!c.sim().process_as<KvClient>(id).done()) return false;
    }
    return true;
  };
  auto& rng = c.sim().rng();
  const sim::Time chaos_until = c.sim().now() + 8 * sim::kSecond;
  while (!all_done() && c.sim().now() < chaos_until) {
    c.run_for(rng.uniform(100, 700) * sim::kMillisecond);
    nemesis_step(c, rng, run);
  }
  c.heal();
  c.set_network(sim::LinkConfig{});
  for (int i = 0; i < run.servers; ++i) c.restart(i);
  ASSERT_TRUE(c.sim().run_until(all_done, c.sim().now() + 30 * sim::kSecond)) << "clients did not finish";
  ASSERT_EQ(history.size() > 0, true);

  const auto report = check_linearizable<KvModel>(history);
  EXPECT_EQ(report.result, Linearizability::ok) << report.explanation;

  // Replicas converge to identical state machines.
  const Index last = c.one(kv::encode_command(kv_put("final", "x")), run.servers, true);
  ASSERT_NE(last, 0u);
  c.run_for(sim::kSecond);  // let a leadership change still in progress settle
  const bool settled = c.sim().run_until(
      [&] {
        for (int i = 1; i < run.servers; ++i) {
          if (c.node(i).applied_index() != c.node(0).applied_index()) return false;
        }
        return true;
      },
      c.sim().now() + 5 * sim::kSecond);
  ASSERT_TRUE(settled);
  const std::string reference = c.server(0).state_machine().snapshot();
  for (int i = 1; i < run.servers; ++i) {
    ASSERT_EQ(c.node(i).applied_index(), c.node(0).applied_index());
    EXPECT_EQ(c.server(i).state_machine().snapshot(), reference) << "server " << i << " diverged";
  }
  EXPECT_EQ(c.failure_summary(), "");
}

}  // namespace homestead::raft::testing
