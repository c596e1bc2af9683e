#!/usr/bin/env bash
# The one test entry point (README and .ci/run call it). Installs dependencies if missing,
# configures and builds a preset, runs every test tier as a ctest label and exits non-zero
# on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TIERS=(unit sim integration e2e cross)

usage() {
  cat <<'USAGE'
Usage: tests/run.sh [--tier NAME]... [--preset NAME] [--soak] [--jobs N] [-- ctest args]

Builds Homestead and runs its tests, tier by tier (ctest labels):
  unit         pure logic, no I/O
  sim          deterministic simulation over many seeds
  integration  real Mosquitto, real processes, real SQLite
  e2e          the emulated home
  cross        unit + sim tests built for aarch64, run under qemu-aarch64

Options:
  --tier NAME    run only this tier (repeatable); default: all
  --preset NAME  CMake preset: dev (default; Debug + ASan/UBSan), release, aarch64
  --soak         also the long soak tier, with 10x the simulation seeds
  --jobs N       parallel build and test jobs (default: number of cores)
  --no-install   do not run deploy/install-deps.sh when something is missing
  -h, --help     this text

Rerun one failing simulation seed: the failure prints the command, e.g.
  HOMESTEAD_SEED=42 build/dev/tests/raft/raft_sim_test --gtest_filter='Raft.Figure8'
USAGE
}

preset=dev soak=0 install=1 jobs="$(nproc)"
selected=() extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tier) [[ $# -ge 2 ]] || { echo "run.sh: --tier needs a name" >&2; exit 2; }
            [[ " ${TIERS[*]} soak " == *" $2 "* ]] || { echo "run.sh: unknown tier '$2' (tiers: ${TIERS[*]})" >&2; exit 2; }
            selected+=("$2"); shift 2 ;;
    --preset) [[ $# -ge 2 ]] || { echo "run.sh: --preset needs a name" >&2; exit 2; }
              preset="$2"; shift 2 ;;
    --soak) soak=1; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ ${#selected[@]} -gt 0 ]] || selected=("${TIERS[@]}")
if [[ $soak == 1 ]]; then
  export HOMESTEAD_SOAK=1
  [[ " ${selected[*]} " == *" soak "* ]] || selected+=(soak)
fi

cd "$ROOT"
if ! deploy/install-deps.sh --check >/dev/null 2>&1; then
  if [[ $install == 1 ]]; then
    deploy/install-deps.sh
  else
    deploy/install-deps.sh --check || true
    echo "run.sh: dependencies missing and --no-install given" >&2; exit 1
  fi
fi

failed=() summary=()
main_tiers=()
for tier in "${selected[@]}"; do [[ $tier == cross && $preset != aarch64 ]] || main_tiers+=("$tier"); done

# The cross tier: the unit and sim tests built for aarch64 (Raspberry Pi class) and run
# under qemu-aarch64 through CMAKE_CROSSCOMPILING_EMULATOR.
run_cross_tier() {
  local start=$SECONDS
  if ! deploy/install-deps.sh --cross --check >/dev/null 2>&1; then
    if [[ $install == 1 ]]; then deploy/install-deps.sh --cross; else
      summary+=("cross: FAILED (cross toolchain missing; deploy/install-deps.sh --cross)"); failed+=(cross); return; fi
  fi
  echo "==> tier cross: configure + build aarch64 (unit and sim tests)"
  if ! { cmake --preset aarch64 >/dev/null && cmake --build --preset aarch64 --parallel "$jobs" --target tier_unit tier_sim; }; then
    summary+=("cross: FAILED (aarch64 build)"); failed+=(cross); return
  fi
  local count
  count=$(cd "$ROOT/build/aarch64" && ctest -N -L '^(unit|sim)$' | sed -n 's/^Total Tests: //p')
  echo "==> tier cross: $count test executables under qemu-aarch64"
  if (cd "$ROOT/build/aarch64" && ctest -L '^(unit|sim)$' --output-on-failure --parallel "$jobs" "${extra[@]}"); then
    summary+=("cross: passed ($count under qemu-aarch64, $((SECONDS - start)) s)")
  else
    summary+=("cross: FAILED ($((SECONDS - start)) s)"); failed+=(cross)
  fi
}

if [[ ${#main_tiers[@]} -gt 0 ]]; then
  echo "==> configure ($preset)"
  cmake --preset "$preset" >/dev/null
  echo "==> build ($preset, $jobs jobs)"
  start=$SECONDS
  cmake --build --preset "$preset" --parallel "$jobs"
  echo "==> built in $((SECONDS - start)) s"
fi

BUILD_DIR="$ROOT/build/$preset"
for tier in "${selected[@]}"; do
  if [[ $tier == cross && $preset != aarch64 ]]; then run_cross_tier; continue; fi
  count=$(cd "$BUILD_DIR" && ctest -N -L "^${tier}\$" | sed -n 's/^Total Tests: //p')
  if [[ -z "$count" || "$count" == 0 ]]; then
    echo "==> tier $tier: no tests yet"
    summary+=("$tier: no tests yet")
    continue
  fi
  echo "==> tier $tier: $count test executables"
  start=$SECONDS
  if (cd "$BUILD_DIR" && ctest -L "^${tier}\$" --output-on-failure --parallel "$jobs" "${extra[@]}"); then
    summary+=("$tier: passed ($count, $((SECONDS - start)) s)")
  else
    summary+=("$tier: FAILED ($((SECONDS - start)) s)")
    failed+=("$tier")
  fi
done

echo
echo "==> summary ($preset)"
for line in "${summary[@]}"; do echo "    $line"; done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "==> FAILED tiers: ${failed[*]}"
  exit 1
fi
echo "==> all tiers passed"
