#!/usr/bin/env bash
# The rpc benchmark: tcp and http transports (JSON, MessagePack) side by side with gRPC.
# Run through tests/bench/run.sh, or alone with HOMESTEAD_BUILD_DIR pointing at a release build.
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "Usage: tests/bench/rpc/run.sh [rpc_bench args]   (HOMESTEAD_BUILD_DIR=<release build dir>)"
  exec "${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR}/tests/bench/rpc/rpc_bench" --help
fi
: "${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to a release build directory}"
exec "$HOMESTEAD_BUILD_DIR/tests/bench/rpc/rpc_bench" "$@"
