#!/usr/bin/env bash
# Live snapshot cost: KV puts/s on three cloudd (fsync on) and two gateways' Sync pushes,
# without snapshots vs while snapshots run; prints both, the ratios and the < 5% target.
# Called by tests/bench/run.sh (HOMESTEAD_BUILD_DIR = a release build).
set -euo pipefail
[[ "${1:-}" == "--help" ]] && { echo "Usage: tests/bench/snapshot/run.sh [snapshot_bench options, see snapshot_bench --help]"; exit 0; }
BUILD="${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to a release build directory}"
HOMESTEAD_SOURCE_DIR="${HOMESTEAD_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}" \
  "$BUILD/tests/bench/snapshot/snapshot_bench" "$@"
