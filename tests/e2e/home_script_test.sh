#!/usr/bin/env bash
# deploy/home.sh end to end: up starts a secured broker, writes home.env and 0600 secrets,
# refuses to start twice, status reports, down stops by PID, --wipe removes the data.
set -euo pipefail
ROOT="$1" PRESET="$2"
DATA="$(mktemp -d)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
home() { "$ROOT/deploy/home.sh" "$@" --data "$DATA" --preset "$PRESET" --mqtt-port "$PORT" --no-build; }
fail() { echo "FAIL: $*"; home down >/dev/null 2>&1 || true; rm -rf "$DATA"; exit 1; }
trap 'home down >/dev/null 2>&1 || true; rm -rf "$DATA"' EXIT

help="$("$ROOT/deploy/home.sh" --help)"
for word in "up " "down " "status " "logs "; do
  grep -q "^  $word" <<<"$help" || fail "--help does not explain '$word'"
done

home up || fail "up failed"
[[ -f "$DATA/home.env" ]] || fail "no home.env"
grep -q "^MQTT_PORT=$PORT$" "$DATA/home.env" || fail "home.env lacks MQTT_PORT"
while IFS= read -r f; do
  [[ "$(stat -c %a "$f")" == 600 ]] || fail "secret $f is not mode 0600"
done < <(find "$DATA/secrets" -type f)
[[ "$(stat -c %a "$DATA/secrets")" == 700 ]] || fail "secrets dir is not mode 0700"
[[ "$(stat -c %a "$DATA/home.env")" == 600 ]] || fail "home.env is not mode 0600"
status_out="$(home status)"; grep -q "mosquitto *running" <<<"$status_out" || fail "status does not show mosquitto running"

# Auth on by default: anonymous and wrong passwords are refused, the gateway's works.
if mosquitto_pub -h 127.0.0.1 -p "$PORT" -t homestead/x -m 1 -q 1 2>/dev/null; then fail "anonymous publish accepted"; fi
if mosquitto_pub -h 127.0.0.1 -p "$PORT" -u gateway -P wrong -t homestead/x -m 1 -q 1 2>/dev/null; then fail "wrong password accepted"; fi
mosquitto_pub -h 127.0.0.1 -p "$PORT" -u gateway -P "$(cat "$DATA/secrets/mqtt-gateway")" -t homestead/x -m 1 -q 1 \
  || fail "gateway credentials refused"

# The default house comes online: every device of deploy/homes/default.json is its own MQTT
# client, counted by firmware-sim's control API.
source "$DATA/home.env"
[[ -n "${FIRMWARE_SIM_URL:-}" ]] || fail "home.env lacks FIRMWARE_SIM_URL"
expected=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["devices"]))' "$ROOT/deploy/homes/default.json")
online=0
for _ in $(seq 300); do
  summary="$(curl -s -H "Authorization: Bearer $(cat "$FIRMWARE_SIM_TOKEN_FILE")" "$FIRMWARE_SIM_URL/summary" || true)"
  online=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1] or "{}").get("online", 0))' "$summary" 2>/dev/null || echo 0)
  [[ "$online" == "$expected" ]] && break
  sleep 0.1
done
[[ "$online" == "$expected" ]] || fail "only $online of $expected devices online"
# The broker holds each device's retained "online" status, readable by the gateway user.
statuses=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u gateway -P "$(cat "$DATA/secrets/mqtt-gateway")" \
  -t 'homestead/+/+/status' -C "$expected" -W 10 | grep -c '^online$' || true)
[[ "$statuses" == "$expected" ]] || fail "retained online statuses: $statuses of $expected"
curl -s "$FIRMWARE_SIM_URL/summary" | grep -q '"error"' || fail "firmware-sim control API answered without a token"

if home up >/dev/null 2>&1; then fail "second up did not refuse"; fi
second="$(home up 2>&1 || true)"; grep -q "already running" <<<"$second" || fail "second up does not say already running"

pids="$(cat "$DATA/run/mosquitto.pid" "$DATA/run/firmware-sim.pid")"
down_out="$(home down)"
grep -q "stopped mosquitto" <<<"$down_out" || fail "down did not stop mosquitto"
grep -q "stopped firmware-sim" <<<"$down_out" || fail "down did not stop firmware-sim"
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then fail "pid $pid still alive after down"; fi
done
[[ -d "$DATA/secrets" ]] || fail "down without --wipe removed data"
home down --wipe >/dev/null
[[ ! -d "$DATA" ]] || fail "--wipe left $DATA"
echo "PASS"
