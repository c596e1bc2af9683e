#!/usr/bin/env bash
# Runs the benchmarks: builds the release preset, then each tests/bench/<area>/run.sh (or
# only the areas named). Every benchmark prints its numbers beside the peer's and the target.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage() {
  echo "Usage: tests/bench/run.sh [--bench-deps] [AREA...]"
  echo "  AREA         one of: $(cd "$ROOT/tests/bench" && ls -d */ 2>/dev/null | tr -d / | tr '\n' ' ')"
  echo "  --bench-deps install the benchmark-only peers first (etcd, gRPC) via deploy/install-deps.sh --bench"
}
areas=() deps=0
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --bench-deps) deps=1 ;;
    *) areas+=("$arg") ;;
  esac
done
cd "$ROOT"
if [[ $deps == 1 ]]; then deploy/install-deps.sh --bench; else deploy/install-deps.sh --quiet; fi
cmake --preset release >/dev/null
cmake --build --preset release
export HOMESTEAD_BUILD_DIR="$ROOT/build/release" HOMESTEAD_SOURCE_DIR="$ROOT"
if [[ ${#areas[@]} == 0 ]]; then
  for dir in tests/bench/*/; do [[ -x "$dir/run.sh" ]] && areas+=("$(basename "$dir")"); done
fi
status=0
for area in "${areas[@]}"; do
  script="tests/bench/$area/run.sh"
  [[ -x "$script" ]] || { echo "bench: no $script" >&2; status=2; continue; }
  echo "==> bench $area"
  "$script" || { echo "==> bench $area FAILED"; status=1; }
done
exit $status
