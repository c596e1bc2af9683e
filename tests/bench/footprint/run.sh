#!/usr/bin/env bash
# Footprint report (issue 9, item 5): stripped sizes of the x86-64 and aarch64 binaries,
# gatewayd RSS/CPU at idle and with the default home, startup time to serving. Called by
# tests/bench/run.sh with HOMESTEAD_BUILD_DIR pointing at the release build; the aarch64
# binaries come from HOMESTEAD_AARCH64_BUILD_DIR (default build/aarch64; build them with
#   cmake --preset aarch64 && cmake --build --preset aarch64 --target gatewayd homectl firmware-sim cloudd).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$HERE/footprint.py" "$@"
