#!/usr/bin/env bash
# Every scenario script of deploy/scenarios/ against a freshly started home: each must run
# to the end and report every guarantee as held. Also checks the live status view renders.
set -euo pipefail
ROOT="$1" PRESET="$2"
DATA="$(mktemp -d)"
PORT=$(python3 "$ROOT/deploy/lib/free_port.py")
home() { "$ROOT/deploy/home.sh" "$@" --data "$DATA" --preset "$PRESET" --mqtt-port "$PORT" --no-build; }
fail() { echo "FAIL: $*"; home logs gatewayd 2>/dev/null | tail -30 || true; home down >/dev/null 2>&1 || true; rm -rf "$DATA"; exit 1; }
trap 'home down >/dev/null 2>&1 || true; rm -rf "$DATA"' EXIT

home up >/dev/null || fail "up failed"
source "$DATA/home.env"
gw_auth="Authorization: Bearer $(cat "$GATEWAY_TOKEN_FILE")"

# Wait for the whole house to be online in the gateway before acting on it.
expected=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["devices"]))' "$ROOT/deploy/homes/default.json")
for _ in $(seq 300); do
  online=$(curl -s -H "$gw_auth" "$GATEWAY_URL/api/v1/devices" |
    python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin)["devices"] if d.get("online")))' 2>/dev/null || echo 0)
  [[ "$online" == "$expected" ]] && break
  sleep 0.1
done
[[ "$online" == "$expected" ]] || fail "gateway sees $online of $expected devices online"

# The built-in apps and the arm/disarm modes are installed (the runtime starts once the
# broker link is up, which it is once the gateway sees the devices).
apps="$(curl -s -H "$gw_auth" "$GATEWAY_URL/api/v1/apps" | python3 -c 'import json,sys; print(" ".join(sorted(a["name"] for a in json.load(sys.stdin)["apps"])))')"
for app in arm disarm intrusion_alarm fire_safety climate_guard night_auto_lock energy_saver; do
  grep -qw "$app" <<<"$apps" || fail "app $app not installed (apps: $apps)"
done

frame="$(python3 "$ROOT/deploy/lib/home_watch.py" --data "$DATA" --once)" || fail "status view failed"
grep -q "devices: *$expected/$expected online" <<<"$frame" || fail "status view does not show all devices online: $frame"
grep -q "cloud: *leader member [123]" <<<"$frame" || fail "status view does not show the cloud leader: $frame"

for scenario in "$ROOT"/deploy/scenarios/*.sh; do
  name="$(basename "$scenario" .sh)"
  [[ "$name" == lib ]] && continue
  echo "---- $name"
  out="$("$scenario" --data "$DATA" 2>&1)" || { echo "$out"; fail "scenario $name failed"; }
  echo "$out"
  grep -q "== $name: every guarantee held" <<<"$out" || fail "scenario $name did not report its guarantees as held"
  grep -q "BROKEN" <<<"$out" && fail "scenario $name printed a broken guarantee"
done
# The gateway restarted by power-cut is the one `down` stops.
pids="$(cat "$DATA"/run/*.pid)"
home down >/dev/null
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then fail "pid $pid still alive after down"; fi
done
echo "PASS"
