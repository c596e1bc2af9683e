// Reads in simulation: ReadIndex on a freshly elected leader (it must first commit an entry
// of its term), a deposed leader that cannot serve stale ReadIndex reads, reads forwarded
// from followers, lease reads (served without a round trip, and stopping before a new
// leader can exist) and serializable reads (local, possibly stale, by design).
#include <gtest/gtest.h>

#include "tests/raft/kv_sim.h"
#include "tests/support/seeds.h"

namespace homestead::raft::testing {
namespace {

using homestead::testing::for_each_seed;

std::vector<int> all_but(int excluded, int servers) {
  std::vector<int> out;
  for (int i = 0; i < servers; ++i) {
    if (i != excluded) out.push_back(i);
  }
  return out;
}

struct ReadRig {
  explicit ReadRig(std::uint64_t seed, ClusterOptions options = kv_cluster_options(3))
      : cluster(seed, std::move(options)) {
    probe = cluster.add_process([](sim::NodeId) { return std::make_unique<ProbeClient>(); });
  }
  // Sends a request to server `to` through the probe; returns its request id.
  std::uint64_t send(int to, const kv::Command& command, ClientRequest::Kind kind) {
    ClientRequest request;
    request.request_id = ++next_id;
    request.command = kv::encode_command(command);
    request.kind = kind;
    request.forward_to = static_cast<sim::NodeId>(to);
    cluster.sim().inject(probe, Envelope{request});
    return request.request_id;
  }
  const ProbeClient& client() { return cluster.sim().process_as<ProbeClient>(probe); }
  std::optional<ProbeClient::Answer> answer(std::uint64_t id) {
    for (const auto& a : client().answers()) {
      if (a.reply.request_id == id) return a;
    }
    return std::nullopt;
  }
  // Waits for the answer to `id`, up to `within`.
  std::optional<ProbeClient::Answer> await(std::uint64_t id, sim::Time within = 2 * sim::kSecond) {
    cluster.sim().run_until([&] { return answer(id).has_value(); }, cluster.sim().now() + within);
    return answer(id);
  }
  // Writes through the current leader until acknowledged.
  void write(const std::string& key, const std::string& value) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto leader = cluster.leader();
      if (leader) {
        auto a = await(send(*leader, kv_put(key, value), ClientRequest::Kind::write));
        if (a && a->reply.status == ClientReply::Status::ok) return;
      } else {
        cluster.run_for(100 * sim::kMillisecond);
      }
    }
    ADD_FAILURE() << "write " << key << "=" << value << " never acknowledged";
  }
  static std::optional<std::string> value_of(const ProbeClient::Answer& a) {
    const kv::Result r = kv::decode_result(a.reply.result);
    if (r.status != kv::Status::ok || !r.kv) return std::nullopt;
    return r.kv->value;
  }

  Cluster cluster;
  sim::NodeId probe;
  std::uint64_t next_id = 0;
};

TEST(RaftRead, ReadIndexOnNewLeaderSeesEveryAcknowledgedWrite) {
  for_each_seed(60, [](std::uint64_t seed) {
    ReadRig rig(seed);
    Cluster& c = rig.cluster;
    ASSERT_TRUE(c.check_one_leader());
    for (int n = 1; n <= 5; ++n) rig.write("x", std::to_string(n));
    auto old_leader = c.leader();
    ASSERT_TRUE(old_leader);
    c.crash(*old_leader);
    // Ask the new leader the moment it wins, before it has committed anything of its term:
    // its commit index may still lag behind the last acknowledged write.
    ASSERT_TRUE(c.sim().run_until([&] { return c.leader().has_value(); }, c.sim().now() + 5 * sim::kSecond));
    const auto id = rig.send(*c.leader(), kv_get("x"), ClientRequest::Kind::linearizable_read);
    auto a = rig.await(id);
    ASSERT_TRUE(a);
    ASSERT_EQ(a->reply.status, ClientReply::Status::ok);
    EXPECT_EQ(ReadRig::value_of(*a), "5");
  });
}

TEST(RaftRead, DeposedLeaderDoesNotServeStaleReadIndexReads) {
  for_each_seed(60, [](std::uint64_t seed) {
    ReadRig rig(seed, kv_cluster_options(5));
    Cluster& c = rig.cluster;
    ASSERT_TRUE(c.check_one_leader());
    rig.write("x", "old");
    const int old_leader = *c.leader();
    const std::vector<int> majority = all_but(old_leader, 5);
    c.partition({{old_leader}, majority});
    // The probe still reaches the old leader; the majority elects a new one and writes.
    const auto early = rig.send(old_leader, kv_get("x"), ClientRequest::Kind::linearizable_read);
    c.run_for(2 * sim::kSecond);
    rig.write("x", "new");
    const auto late = rig.send(old_leader, kv_get("x"), ClientRequest::Kind::linearizable_read);
    c.run_for(2 * sim::kSecond);
    for (auto id : {early, late}) {
      auto a = rig.answer(id);
      if (a && a->reply.status == ClientReply::Status::ok) {
        ADD_FAILURE() << "an isolated leader answered a linearizable read with " << ReadRig::value_of(*a).value_or("-");
      }
    }
  });
}

TEST(RaftRead, FollowerReadIndexIsForwardedToTheLeader) {
  for_each_seed(60, [](std::uint64_t seed) {
    ReadRig rig(seed);
    Cluster& c = rig.cluster;
    ASSERT_TRUE(c.check_one_leader());
    rig.write("x", "1");
    rig.write("x", "2");
    const int follower = (*c.leader() + 1) % 3;
    auto a = rig.await(rig.send(follower, kv_get("x"), ClientRequest::Kind::linearizable_read));
    ASSERT_TRUE(a);
    ASSERT_EQ(a->reply.status, ClientReply::Status::ok);
    EXPECT_EQ(ReadRig::value_of(*a), "2");
  });
}

TEST(RaftRead, LeaseReadNeedsNoMessages) {
  for_each_seed(40, [](std::uint64_t seed) {
    ClusterOptions o = kv_cluster_options(3);
    o.raft.lease_reads = true;
    ReadRig rig(seed, o);
    Cluster& c = rig.cluster;
    ASSERT_TRUE(c.check_one_leader());
    rig.write("x", "1");
    c.run_for(150 * sim::kMillisecond);  // a heartbeat round establishes the lease
    const auto sent_before = c.sim().stats().sent;
    const auto id = rig.send(*c.leader(), kv_get("x"), ClientRequest::Kind::linearizable_read);
    ASSERT_TRUE(c.sim().run_until([&] { return rig.answer(id).has_value(); }, c.sim().now() + sim::kMillisecond * 2));
    // One message: probe -> leader; the answer is the only other one (nothing to peers).
    EXPECT_LE(c.sim().stats().sent - sent_before, 2u);
    EXPECT_EQ(ReadRig::value_of(*rig.answer(id)), "1");
  });
}

TEST(RaftRead, LeaseExpiresBeforeANewLeaderCanCommit) {
  for_each_seed(60, [](std::uint64_t seed) {
    ClusterOptions o = kv_cluster_options(5);
    o.raft.lease_reads = true;
    ReadRig rig(seed, o);
    Cluster& c = rig.cluster;
    ASSERT_TRUE(c.check_one_leader());
    rig.write("x", "old");
    const int old_leader = *c.leader();
    const std::vector<int> majority = all_but(old_leader, 5);
    c.partition({{old_leader}, majority});
    // Read from the old leader every 20 ms; meanwhile the majority elects and writes.
    std::vector<std::uint64_t> reads;
    sim::Time new_value_committed = 0;
    const sim::Time end = c.sim().now() + 3 * sim::kSecond;
    while (c.sim().now() < end) {
      reads.push_back(rig.send(old_leader, kv_get("x"), ClientRequest::Kind::linearizable_read));
      c.run_for(20 * sim::kMillisecond);
      if (new_value_committed == 0) {
        for (int i : majority) {
          const auto& sm = dynamic_cast<const KvSimStateMachine&>(c.server(i).state_machine());
          auto r = sm.kv().read(kv_get("x"));
          if (r.kv && r.kv->value == "new") new_value_committed = c.sim().now();
        }
        if (auto leader = c.leader(); leader && *leader != old_leader) {
          rig.send(*leader, kv_put("x", "new"), ClientRequest::Kind::write);
        }
      }
    }
    ASSERT_NE(new_value_committed, 0) << "the majority must have written";
    int served = 0;
    for (auto id : reads) {
      auto a = rig.answer(id);
      if (!a || a->reply.status != ClientReply::Status::ok) continue;
      ++served;
      EXPECT_LT(a->time, new_value_committed) << "the old leader served a lease read after the new value committed";
      EXPECT_EQ(ReadRig::value_of(*a), "old");
    }
    EXPECT_GT(served, 0) << "the lease should cover the first reads after the partition";
  });
}

TEST(RaftRead, SerializableReadOnPartitionedFollowerMayBeStale) {
  // Documents the option: a local read is fast but may lag; linearizable is the default.
  for_each_seed(30, [](std::uint64_t seed) {
    ReadRig rig(seed);
    Cluster& c = rig.cluster;
    ASSERT_TRUE(c.check_one_leader());
    rig.write("x", "1");
    c.run_for(200 * sim::kMillisecond);
    const int follower = (*c.leader() + 1) % 3;
    c.partition({{follower}, {(follower + 1) % 3, (follower + 2) % 3}});
    rig.write("x", "2");
    auto stale = rig.await(rig.send(follower, kv_get("x"), ClientRequest::Kind::serializable_read));
    ASSERT_TRUE(stale);
    EXPECT_EQ(ReadRig::value_of(*stale), "1");
    const auto linearizable = rig.send(follower, kv_get("x"), ClientRequest::Kind::linearizable_read);
    c.run_for(2 * sim::kSecond);
    auto a = rig.answer(linearizable);
    EXPECT_FALSE(a && a->reply.status == ClientReply::Status::ok) << "a cut-off follower cannot confirm a read index";
  });
}

}  // namespace
}  // namespace homestead::raft::testing
