#!/usr/bin/env bash
# Sync throughput and latency: 1 and 50 simulated gateways against three cloudd (fsync on).
# Called by tests/bench/run.sh (HOMESTEAD_BUILD_DIR = a release build).
set -euo pipefail
[[ "${1:-}" == "--help" ]] && { echo "Usage: tests/bench/sync/run.sh [sync_bench options, see sync_bench --help]"; exit 0; }
BUILD="${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to a release build directory}"
HOMESTEAD_SOURCE_DIR="${HOMESTEAD_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}" \
  "$BUILD/tests/bench/sync/sync_bench" "$@"
