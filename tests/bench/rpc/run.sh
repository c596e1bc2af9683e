#!/usr/bin/env bash
# The rpc benchmark: tcp and http transports (JSON, MessagePack) side by side with gRPC.
# Run through tests/bench/run.sh, or alone with HOMESTEAD_BUILD_DIR pointing at a release build.
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "Usage: tests/bench/rpc/run.sh [rpc_bench args]   (HOMESTEAD_BUILD_DIR=<release build dir>)"
  exec "${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR}/tests/bench/rpc/rpc_bench" --help
fi
: "${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to a release build directory}"
"$HOMESTEAD_BUILD_DIR/tests/bench/rpc/rpc_bench" "$@"
# The in-process codec cost behind the 4 KiB rows (skipped when profiling one row).
if [[ $# -eq 0 ]]; then "$HOMESTEAD_BUILD_DIR/tests/bench/rpc/rpc_codec_bench"; fi
