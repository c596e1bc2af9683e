#!/usr/bin/env bash
# Footprint report (issue 9, item 5): stripped sizes of the x86-64 and aarch64 binaries,
# gatewayd RSS/CPU at idle and with the default home, startup time to serving. Called by
# tests/bench/run.sh with HOMESTEAD_BUILD_DIR pointing at the release build.
# The aarch64 binaries: HOMESTEAD_AARCH64_BUILD_DIR if set (used as it is), else this script
# builds gatewayd, homectl, firmware-sim and cloudd with the aarch64 preset (build/aarch64,
# the cross tier's directory; incremental) when the cross toolchain is installed.
# --no-cross skips that build. Options: footprint.py --help.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
build_cross=1
for arg in "$@"; do
  case "$arg" in
    -h|--help) exec python3 "$HERE/footprint.py" --help ;;
    --no-cross) build_cross=0 ;;
  esac
done
if [[ $build_cross == 1 && -z "${HOMESTEAD_AARCH64_BUILD_DIR:-}" ]]; then
  if command -v aarch64-linux-gnu-g++ >/dev/null; then
    echo "footprint: building the aarch64 binaries (cmake --preset aarch64)"
    (cd "$ROOT" && cmake --preset aarch64 >/dev/null &&
       cmake --build --preset aarch64 --target gatewayd homectl firmware-sim cloudd >/dev/null) ||
      echo "footprint: aarch64 build failed; its column will say 'not built'" >&2
  else
    echo "footprint: no cross toolchain (deploy/install-deps.sh --cross); aarch64 column will say 'not built'" >&2
  fi
fi
exec python3 "$HERE/footprint.py" "$@"
