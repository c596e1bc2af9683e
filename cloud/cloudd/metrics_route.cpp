// GET /metrics for cloudd: Prometheus text exposition (version 0.0.4).
#include <httplib.h>

#include <sstream>

#include "cloud/cloudd/services_routes.h"
#include "cloud/cloudd/sync_rpc.h"

namespace homestead::cloudd {
namespace {

void metric(std::ostringstream& out, const char* name, const char* type, const char* help, std::uint64_t value,
            const std::string& labels = {}) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << labels << ' ' << value << '\n';
}

}  // namespace

void install_metrics_route(httplib::Server& http, RaftServer& raft, const SyncRpc& sync) {
  http.Get("/metrics", [&raft, &sync](const httplib::Request&, httplib::Response& res) {
    const ClusterStatus st = raft.status(std::chrono::seconds(2));
    std::ostringstream out;
    metric(out, "homestead_raft_role", "gauge", "1 for this member's current Raft role", 1,
           "{role=\"" + std::string(raft::to_string(st.role)) + "\"}");
    metric(out, "homestead_raft_is_leader", "gauge", "1 when this member leads", st.role == raft::Role::leader);
    metric(out, "homestead_raft_term", "gauge", "current Raft term", st.term);
    metric(out, "homestead_raft_commit_index", "gauge", "highest committed log index", st.commit_index);
    metric(out, "homestead_raft_applied_index", "gauge", "highest applied log index", st.applied_index);
    metric(out, "homestead_raft_members", "gauge", "members in the configuration", st.members.size());
    // Where the Raft loop's time went (GET /api/v1/cluster "loop"; slow = over kSlowLoopMs).
    const LoopStats& loop = st.loop;
    metric(out, "homestead_raft_loop_turns_total", "counter", "Raft loop turns", loop.turns);
    metric(out, "homestead_raft_loop_persists_total", "counter", "Readys written to the log", loop.persists);
    metric(out, "homestead_raft_loop_entries_persisted_total", "counter",
           "log entries written (over persists: the group commit batch)", loop.entries_persisted);
    metric(out, "homestead_raft_loop_slow_persists_total", "counter", "log writes + fdatasync over 20 ms",
           loop.slow_persists);
    metric(out, "homestead_raft_loop_max_persist_microseconds", "gauge", "longest log write + fdatasync",
           loop.max_persist_us);
    metric(out, "homestead_raft_loop_slow_turns_total", "counter", "Raft loop turns over 20 ms", loop.slow_turns);
    metric(out, "homestead_raft_loop_max_turn_microseconds", "gauge", "longest Raft loop turn", loop.max_turn_us);
    metric(out, "homestead_raft_snapshots_total", "counter", "state-machine snapshots taken", loop.snapshots);
    metric(out, "homestead_raft_leader_changes_total", "counter", "leader changes this member saw",
           loop.leader_changes);
    metric(out, "homestead_snapshot_marker_frames_total", "counter",
           "explicit live-snapshot marker frames written on the peer links (marks not riding on Raft frames)",
           loop.marker_frames);
    raft.read([&](const KvStateMachine& state) {
      const auto& sv = state.services();
      const auto& c = sv.counters();
      metric(out, "homestead_services_homes", "gauge", "registered homes", sv.homes().size());
      metric(out, "homestead_services_gateways", "gauge", "registered gateways", sv.gateway_count());
      metric(out, "homestead_services_devices", "gauge", "devices with a shadow", sv.device_count());
      metric(out, "homestead_services_audit_records", "gauge", "transactuation records in the audit log",
             sv.audit_count());
      metric(out, "homestead_services_conflicts", "gauge", "conflict resolutions recorded", sv.conflict_count());
      metric(out, "homestead_sync_pushes_total", "counter", "Sync/Push batches applied", c.pushes);
      metric(out, "homestead_sync_items_applied_total", "counter", "outbox items applied", c.items_applied);
      metric(out, "homestead_sync_duplicates_total", "counter", "outbox items received again and skipped",
             c.duplicates);
      metric(out, "homestead_sync_rejected_total", "counter", "pushes stopped by a gap or an invalid item",
             c.rejected);
      metric(out, "homestead_services_desired_changes_total", "counter", "desired-state changes", c.desired_changes);
      metric(out, "homestead_services_lease_grants_total", "counter", "new lease grants", c.lease_grants);
      return 0;
    });
    const rpc::ServerStats rpc_stats = sync.server().stats();
    metric(out, "homestead_sync_rpc_calls_total", "counter", "Sync RPC calls executed", rpc_stats.executed);
    metric(out, "homestead_sync_rpc_refused_auth_total", "counter", "Sync RPC calls refused for credentials",
           rpc_stats.refused_auth);
    res.set_content(out.str(), "text/plain; version=0.0.4");
  });
}

}  // namespace homestead::cloudd
