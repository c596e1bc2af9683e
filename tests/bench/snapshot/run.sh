#!/usr/bin/env bash
# Live snapshot cost: KV puts/s on three cloudd (fsync on) and two gateways' Sync pushes,
# without snapshots vs while snapshots run; prints both, the ratios and the < 5% target.
# Without arguments it runs the phases (without snapshots, one per second, back to back:
# throughputs, CPU, Raft loop counters) and then the interleaved slices (the back-to-back
# cost with a 95% interval; ~6 minutes). With arguments, one snapshot_bench run with them.
# Called by tests/bench/run.sh (HOMESTEAD_BUILD_DIR = a release build).
set -euo pipefail
[[ "${1:-}" == "--help" ]] && { echo "Usage: tests/bench/snapshot/run.sh [snapshot_bench options, see snapshot_bench --help]"; exit 0; }
BUILD="${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to a release build directory}"
export HOMESTEAD_SOURCE_DIR="${HOMESTEAD_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
BENCH="$BUILD/tests/bench/snapshot/snapshot_bench"
if [[ $# -gt 0 ]]; then exec "$BENCH" "$@"; fi
"$BENCH"
"$BENCH" --slice-ms 500 --slice-guard-ms 100 --rounds 300
