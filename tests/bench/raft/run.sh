#!/usr/bin/env bash
# Raft KV benchmark: three cloudd vs three etcd 3.4 members on 127.0.0.1, fsync on, same
# closed-loop HTTP client. Called by tests/bench/run.sh (HOMESTEAD_BUILD_DIR = a release build).
set -euo pipefail
[[ "${1:-}" == "--help" ]] && { echo "Usage: tests/bench/raft/run.sh [raft_bench options: --seconds N --only TEXT --no-failover --etcd-first --compare PATH --frontend/--compare-frontend epoll|httplib ...] (needs HOMESTEAD_BUILD_DIR, a release build, and etcd-server; raft_bench --help lists them)"; exit 0; }
BUILD="${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to a release build directory}"
ETCD="$(command -v etcd || echo /usr/bin/etcd)"
"$BUILD/tests/bench/raft/raft_bench" --cloudd "$BUILD/cloud/cloudd/cloudd" --etcd "$ETCD" \
  --json "$BUILD/raft_bench.json" "$@"
