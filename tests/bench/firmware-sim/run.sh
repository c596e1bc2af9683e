#!/usr/bin/env bash
# firmware-sim benchmark: 500 devices reporting once a second through a real Mosquitto;
# prints CPU and RSS of firmware-sim and the broker beside the targets (issue 3).
# Called by tests/bench/run.sh with HOMESTEAD_BUILD_DIR pointing at the release build.
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  echo "Usage: tests/bench/firmware-sim/run.sh [firmware_sim_bench options]"
  echo "  runs \$HOMESTEAD_BUILD_DIR/tests/bench/firmware-sim/firmware_sim_bench (default: 500 devices, 20 s)"
  exit 0
fi
: "${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to the release build directory}"
exec "$HOMESTEAD_BUILD_DIR/tests/bench/firmware-sim/firmware_sim_bench" "$@"
