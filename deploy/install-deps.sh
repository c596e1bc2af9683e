#!/usr/bin/env bash
# Install Homestead's build and test dependencies from Debian 12 packages. Idempotent:
# packages already present are skipped and `apt-get update` runs at most once, only when
# something is missing. Works as root or through sudo. Nothing comes from anywhere else.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy/install-deps.sh [--check] [--bench] [--cross] [--quiet]

Installs the Debian 12 packages Homestead needs (DESIGN.md section 5).

  --check   only report what is missing; exit 1 if anything is
  --bench   also the benchmark-only peers (etcd-server, gRPC C++, protobuf compiler)
  --cross   also the aarch64 cross toolchain, qemu-user and the :arm64 -dev packages
  --quiet   print only what is installed
  -h,--help this text
USAGE
}

CORE_PACKAGES=(
  build-essential cmake ninja-build pkgconf ccache
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  mosquitto mosquitto-clients
  libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev sqlite3
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 procps curl openssl
)
BENCH_PACKAGES=(etcd-server etcd-client libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev gnuplot-nox)
CROSS_HOST_PACKAGES=(g++-aarch64-linux-gnu qemu-user)
CROSS_TARGET_PACKAGES=(
  libpaho-mqttpp-dev:arm64 libpaho-mqtt-dev:arm64 libssl-dev:arm64 libcpp-httplib-dev:arm64
  nlohmann-json3-dev libsqlite3-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
)

check_only=0 bench=0 cross=0 quiet=0
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    --bench) bench=1 ;;
    --cross) cross=1 ;;
    --quiet) quiet=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-deps: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

say() { [[ $quiet == 1 ]] || echo "install-deps: $*"; }

wanted=("${CORE_PACKAGES[@]}")
[[ $bench == 1 ]] && wanted+=("${BENCH_PACKAGES[@]}")
[[ $cross == 1 ]] && wanted+=("${CROSS_HOST_PACKAGES[@]}" "${CROSS_TARGET_PACKAGES[@]}")

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for pkg in "${wanted[@]}"; do
  if is_installed "$pkg"; then continue; fi
  missing+=("$pkg")
done

if [[ ${#missing[@]} == 0 ]]; then
  say "all ${#wanted[@]} packages present"
  exit 0
fi
if [[ $check_only == 1 ]]; then
  echo "install-deps: missing: ${missing[*]}"
  exit 1
fi

SUDO=()
if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "install-deps: not root and no sudo; install as root: ${missing[*]}" >&2; exit 1
  fi
fi

if [[ $cross == 1 ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "install-deps: adding the arm64 architecture"
  "${SUDO[@]}" dpkg --add-architecture arm64
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
