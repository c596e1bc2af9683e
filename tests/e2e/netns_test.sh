#!/usr/bin/env bash
# deploy/home.sh up --netns (root): the home LAN and the cloud in their own network
# namespaces joined by a WAN link. Checks that everything comes up on the namespace
# addresses, a scenario runs through them, `wan cut` really isolates the gateway from the
# cloud (connections hang) while the host still reaches both, `wan heal` restores it, and
# `down` removes the namespaces and links. With cloud sync configured, also that the gateway
# goes offline-first on a cut and drains its outbox on heal.
set -euo pipefail
ROOT="$1" PRESET="$2"
DATA="$(mktemp -d)"
PORT=$(python3 "$ROOT/deploy/lib/free_port.py")
home() { "$ROOT/deploy/home.sh" "$@" --data "$DATA" --preset "$PRESET" --mqtt-port "$PORT" --no-build; }
fail() { echo "FAIL: $*"; home logs gatewayd 2>/dev/null | tail -20 || true; home down >/dev/null 2>&1 || true; rm -rf "$DATA"; exit 1; }
trap 'home down >/dev/null 2>&1 || true; rm -rf "$DATA"' EXIT
poll() {  # seconds command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || return 1; sleep 0.2; done
}

home up --netns >/dev/null || fail "up --netns failed"
ip netns list | grep -qw hs-home || fail "no hs-home namespace"
ip netns list | grep -qw hs-cloud || fail "no hs-cloud namespace"
source "$DATA/home.env"
[[ "$GATEWAY_URL" == http://10.77.1.2:* ]] || fail "GATEWAY_URL is not on the home namespace: $GATEWAY_URL"
[[ "$CLOUD_URLS" == http://10.77.0.2:* ]] || fail "CLOUD_URLS are not on the cloud's WAN address: $CLOUD_URLS"
# Nothing of the home listens on the host's loopback.
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then fail "the broker is reachable on the host's 127.0.0.1"; fi

gw_auth="Authorization: Bearer $(cat "$GATEWAY_TOKEN_FILE")"
expected=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["devices"]))' "$ROOT/deploy/homes/default.json")
all_online() {
  [[ "$(curl -s -H "$gw_auth" "$GATEWAY_URL/api/v1/devices" |
        python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin)["devices"] if d.get("online")))')" == "$expected" ]]
}
poll 60 all_online || fail "not every device online through the home namespace"
poll 30 curl -sf -H "$gw_auth" "$GATEWAY_URL/api/v1/apps" || fail "transactuation runtime not up"

out="$("$ROOT/deploy/scenarios/burglary.sh" --data "$DATA" 2>&1)" || { echo "$out"; fail "burglary scenario failed in netns mode"; }
grep -q "every guarantee held" <<<"$out" || fail "burglary did not hold in netns mode"

cloud_port="$(head -1 "$DATA/cloud-ports" | awk '{print $2}')"
from_home() { ip netns exec hs-home curl -sf -m 2 "http://10.77.0.2:$cloud_port/ping"; }
from_home >/dev/null || fail "the home cannot reach the cloud over the WAN"
home wan cut >/dev/null
if from_home >/dev/null; then fail "the home still reaches the cloud after wan cut"; fi
curl -sf -m 2 "http://10.77.0.2:$cloud_port/ping" >/dev/null || fail "the host lost the cloud on wan cut (admin access must stay)"
home wan heal >/dev/null
poll 10 from_home || fail "wan heal did not restore the WAN"

# Offline-first over a real cut WAN: apps keep running, the outbox fills, `wan heal` drains it
# exactly once, and a desired change made in the cloud meanwhile is resolved by the rule.
out="$("$ROOT/deploy/scenarios/internet-outage.sh" --data "$DATA" 2>&1)" || { echo "$out"; fail "internet-outage failed in netns mode"; }
echo "$out"
grep -q "every guarantee held" <<<"$out" || fail "internet-outage did not hold in netns mode"
grep -q "HELD   the offline conflict" <<<"$out" || fail "the netns outage did not exercise the conflict rule"

pids="$(cat "$DATA"/run/*.pid)"
home down >/dev/null
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then fail "pid $pid still alive after down"; fi
done
if ip netns list | grep -qw -e hs-home -e hs-cloud; then fail "namespaces left after down"; fi
if ip link show hsh0 >/dev/null 2>&1; then fail "veth hsh0 left after down"; fi
echo "PASS"
