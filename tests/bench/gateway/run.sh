#!/usr/bin/env bash
# gatewayd benchmarks: ingest vs a bare Paho subscriber (QoS 0/1), receive->visible and
# command->ack latency, REST req/s, footprint. Called by tests/bench/run.sh with
# HOMESTEAD_BUILD_DIR pointing at the release build.
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  echo "Usage: tests/bench/gateway/run.sh [--quick] [--messages N] [ingest|latency|footprint ...]"
  exit 0
fi
: "${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to the release build directory}"
exec "$HOMESTEAD_BUILD_DIR/tests/bench/gateway/gateway_bench" "$@"
