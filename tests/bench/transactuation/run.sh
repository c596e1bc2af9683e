#!/usr/bin/env bash
# Transactuation benchmarks: per built-in app, naive vs transactuation trigger -> commit
# latency (realistic and zero-latency devices), the durable flush cost of this disk,
# throughput (0% and 50% conflicts) and lines of code per app. Called by tests/bench/run.sh
# with HOMESTEAD_BUILD_DIR pointing at the release build; extra arguments go to the binary.
# The numbers also land in $HOMESTEAD_BUILD_DIR/transactuation_bench.json.
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  echo "Usage: tests/bench/transactuation/run.sh [transactuation_bench options, see --help of the binary]"
  "${HOMESTEAD_BUILD_DIR:-build/release}/tests/bench/transactuation/transactuation_bench" --help 2>/dev/null || true
  exit 0
fi
: "${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to the release build directory}"
echo "machine: $(nproc) cores, load: $(uptime | sed 's/.*load average: //')"
exec "$HOMESTEAD_BUILD_DIR/tests/bench/transactuation/transactuation_bench" \
  --json "$HOMESTEAD_BUILD_DIR/transactuation_bench.json" "$@"
