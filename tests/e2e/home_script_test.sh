#!/usr/bin/env bash
# deploy/home.sh end to end: up starts a secured broker, writes home.env and 0600 secrets,
# refuses to start twice, status reports, down stops by PID, --wipe removes the data.
set -euo pipefail
ROOT="$1" PRESET="$2"
DATA="$(mktemp -d)"
PORT=$(python3 "$ROOT/deploy/lib/free_port.py")
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

# The gateway sees every device online and a command round-trips to an ack, actuating the
# device exactly once (counted by firmware-sim).
[[ -n "${GATEWAY_URL:-}" ]] || fail "home.env lacks GATEWAY_URL"
[[ "$(stat -c %a "$GATEWAY_TOKEN_FILE")" == 600 ]] || fail "gateway admin token is not mode 0600"
gw_auth="Authorization: Bearer $(cat "$GATEWAY_TOKEN_FILE")"
gw_online=0
for _ in $(seq 300); do
  gw_online=$(curl -s -H "$gw_auth" "$GATEWAY_URL/api/v1/devices" |
    python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin)["devices"] if d.get("online")))' 2>/dev/null || echo 0)
  [[ "$gw_online" == "$expected" ]] && break
  sleep 0.1
done
[[ "$gw_online" == "$expected" ]] || fail "gateway sees $gw_online of $expected devices online"
set -a; source "$DATA/home.env"; set +a
homectl="$(find -L "$ROOT/build/$PRESET" -maxdepth 3 -type f -name homectl -perm -u+x | head -1)"
cmd_out="$("$homectl" command hall_light turn_on)" || fail "homectl command failed: $cmd_out"
grep -q acked <<<"$cmd_out" || fail "command not acked: $cmd_out"
cmd_id="$(awk '{print $1}' <<<"$cmd_out" | tail -1)"
actuations=$(curl -s -H "Authorization: Bearer $(cat "$FIRMWARE_SIM_TOKEN_FILE")" "$FIRMWARE_SIM_URL/devices/hall_light/actuations" |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$cmd_id")
[[ "$actuations" == 1 ]] || fail "command $cmd_id actuated hall_light $actuations times"

# The cloud: three members with an elected leader (up waited for it); a write through one
# member is read back linearizably through another.
IFS=, read -r -a cloud_urls <<<"${CLOUD_URLS:-}"
[[ ${#cloud_urls[@]} == 3 ]] || fail "CLOUD_URLS should list 3 members: '${CLOUD_URLS:-}'"
cloud_auth="Authorization: Bearer $(cat "$CLOUD_TOKEN_FILE")"
curl -sf -X PUT -H "$cloud_auth" -d '{"value":"e2e"}' "${cloud_urls[2]}/api/v1/kv/e2e%2Fprobe" >/dev/null \
  || fail "cloud write failed"
got=$(curl -sf -H "$cloud_auth" "${cloud_urls[0]}/api/v1/kv/e2e%2Fprobe" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
[[ "$got" == e2e ]] || fail "cloud read through another member gave '$got'"
code=$(curl -s -o /dev/null -w '%{http_code}' "${cloud_urls[0]}/api/v1/kv/e2e%2Fprobe")
[[ "$code" == 401 ]] || fail "cloud answered $code without a token"

if home up >/dev/null 2>&1; then fail "second up did not refuse"; fi
second="$(home up 2>&1 || true)"; grep -q "already running" <<<"$second" || fail "second up does not say already running"

pids="$(cat "$DATA"/run/*.pid)"
[[ $(wc -w <<<"$pids") == 6 ]] || fail "expected 6 pid files (mosquitto, 3 cloudd, firmware-sim, gatewayd): $pids"
down_out="$(home down)"
grep -q "stopped mosquitto" <<<"$down_out" || fail "down did not stop mosquitto"
grep -q "stopped firmware-sim" <<<"$down_out" || fail "down did not stop firmware-sim"
grep -q "stopped gatewayd" <<<"$down_out" || fail "down did not stop gatewayd"
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then fail "pid $pid still alive after down"; fi
done
[[ -d "$DATA/secrets" ]] || fail "down without --wipe removed data"
# Up again over the kept data: the cloud still has what was written before.
home up >/dev/null || fail "second up over kept data failed"
source "$DATA/home.env"
IFS=, read -r -a cloud_urls <<<"$CLOUD_URLS"
got=$(curl -sf -H "$cloud_auth" "${cloud_urls[1]}/api/v1/kv/e2e%2Fprobe" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
[[ "$got" == e2e ]] || fail "after down/up the cloud lost its data (got '$got')"
home down >/dev/null
home down --wipe >/dev/null
[[ ! -d "$DATA" ]] || fail "--wipe left $DATA"
echo "PASS"
