// cloudd's settings: which member this process is, where it listens, who its peers are,
// and the Raft/storage knobs. Loaded from a JSON file; every error names the bad field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config/config.h"

namespace homestead::cloudd {

struct HostPort {
  std::string host;
  int port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};
// "127.0.0.1:8080" -> {host, port}; throws ConfigError naming `field`.
HostPort parse_host_port(const std::string& text, const std::string& field);

struct MemberAddress {
  std::uint64_t id = 0;
  HostPort peer;  // Raft traffic (cloud/rpc tcp transport)
  HostPort http;  // client API; followers forward writes here
};

// cloudd's Chord ring (issue 11): every member runs `virtual_nodes` ring positions; the ring
// maps a home to the Raft group that owns it. For now the whole cluster is one Raft group
// (`group`). Every member of a cluster must use the same bits and virtual_nodes.
struct DhtSettings {
  bool enabled = true;
  unsigned bits = 32;                  // identifier ring of 2^bits; positions = SHA-1 prefix of "cloudd/<id>"
  int stabilize_ms = 100;              // one Chord tick (stabilize, check_predecessor, fix_fingers)
  unsigned request_timeout_ticks = 3;  // a peer silent this many ticks is presumed failed
  std::size_t successor_list_length = 4;
  std::uint32_t group = 1;             // the Raft group this cluster is
  // Ring positions per member: position i of member m = SHA-1 prefix of "cloudd/<m>" (i = 0)
  // or "cloudd/<m>/<i>". 1 by default: a cluster has a handful of members and one Raft
  // group, so spreading homes evenly over members buys nothing yet; raise it (the paper's
  // experiments: 20 brings the 99th-percentile load to ~1.6x the mean) once members host
  // different groups.
  unsigned virtual_nodes = 1;
};

struct CloudConfig {
  std::uint64_t id = 0;
  std::filesystem::path data_dir;
  HostPort http_listen;
  HostPort peer_listen;
  std::vector<MemberAddress> members;  // the initial voters (including this node)
  bool join = false;                   // start outside the configuration; a leader adds us
  std::filesystem::path token_file;          // client bearer token, generated if missing
  std::filesystem::path cluster_secret_file;  // shared by every member, generated if missing
  int tick_ms = 10;
  int election_ticks = 30;  // 300 ms .. 600 ms at 10 ms ticks
  int heartbeat_ticks = 3;
  // Linearizable reads by leader lease (no heartbeat round per read) instead of ReadIndex.
  // Assumes no member's clock runs more than 20% slower than another's (replication/README.md)
  // and turns fast failover off (followers must wait out the full election timeout).
  bool lease_reads = false;
  std::uint64_t snapshot_entries = 10000;  // snapshot + compact once the log holds this many
  // Live global snapshots (issue 10): how long a link's cut marker waits for a Raft frame to
  // ride on before it goes as a frame of its own (PeerTransport::set_marker_linger). The
  // default, one heartbeat interval (tick_ms x heartbeat_ticks), lets the leader<->follower
  // marks ride on heartbeats even in an idle cluster and spreads a snapshot's work over about
  // that long. 0: at the end of the next Raft turn (a snapshot completes fastest, its work
  // comes in one burst; cloud/snapshot/README.md, tenth step).
  int snapshot_marker_linger_ms = 30;
  bool fsync = true;
  int http_threads = 160;  // >= keep-alive connections, else extra connections starve
  // Who reads the HTTP connections. "epoll" (default): one event thread for every connection;
  // KV puts/gets/deletes are answered from the Raft loop without a worker thread, other
  // routes run on a pool of http_threads workers (README "Benchmark": 1.2-1.7x the puts/s).
  // "httplib": cpp-httplib's thread per connection. Without the field, the environment
  // variable HOMESTEAD_CLOUDD_HTTP_FRONTEND picks (for running test suites against either).
  enum class HttpFrontend { httplib, epoll };
  HttpFrontend http_frontend = HttpFrontend::epoll;
  int request_timeout_ms = 5000;
  DhtSettings dht;

  const MemberAddress* member(std::uint64_t member_id) const;
};

// Throws config::ConfigError.
CloudConfig load_cloud_config(const std::filesystem::path& path);
CloudConfig parse_cloud_config(const config::Config& config);

}  // namespace homestead::cloudd
