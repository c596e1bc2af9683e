#!/usr/bin/env bash
# Chord benchmark: lookups/s on a 1,000-node simulated ring, per-node memory, and the
# path-length table vs the paper's 1/2 log2 N. Called by tests/bench/run.sh.
set -euo pipefail
[[ "${1:-}" == "--help" ]] && { echo "Usage: tests/bench/dht/run.sh (needs HOMESTEAD_BUILD_DIR, a release build)"; exit 0; }
BUILD="${HOMESTEAD_BUILD_DIR:?set HOMESTEAD_BUILD_DIR to a release build directory}"
"$BUILD/tests/bench/dht/dht_bench" --nodes 1000 --lookups 200000
