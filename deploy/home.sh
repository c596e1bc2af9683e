#!/usr/bin/env bash
# The emulated home: one command brings up the whole stack on this machine.
# Components that do not exist yet in this checkout are reported as such and skipped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.homestead"
PRESET=release
MQTT_PORT=18830
SPEED=1
HOME_FILE="$ROOT/deploy/homes/default.json"
LATENCY=realistic
APPS=default

usage() {
  cat <<'USAGE'
Usage: deploy/home.sh <command> [options]

Runs an emulated Homestead home on this machine: a secured Mosquitto broker, the cloud
cluster (cloudd x3), the gateway (gatewayd) and simulated devices (firmware-sim).

Commands:
  up              install dependencies and build if needed, generate secrets, start
                  everything, wait until it answers, write <data>/home.env
  down [--wipe]   stop everything this script started (by PID); --wipe also deletes <data>
  status [--watch]
                  what runs, with PIDs; --watch: a live view of devices, sensor events,
                  transactuations, the cloud leader and sync (Ctrl-C to stop)
  wan cut|heal|slow|status
                  --netns homes only: cut the WAN link between home and cloud, heal it
                  (back to the default shaping), slow it, or show it
  restart NAME    restart one component with the command line it was started with
                  (e.g. after a scenario kill -9'd it): gatewayd, firmware-sim, cloudd-N
  logs [NAME]     list logs, or print the log of one component (e.g. mosquitto)

Options:
  --data DIR      where secrets, databases, logs and PID files live (default ./.homestead)
  --preset NAME   build preset (default release)
  --mqtt-port N   broker port on 127.0.0.1 (default 18830)
  --speed X       time acceleration for the simulated environment (default 1)
  --home FILE     home description (default deploy/homes/default.json)
  --latency MODE  device actuation latency: realistic (default) or zero
  --apps FILE     built-in apps config for the gateway (default deploy/apps/builtin-default-home.json
                  with the default home, none with another home; "none" runs none)
  --interval S    status --watch: refresh period in seconds (default 1)
  --no-build      use the binaries already in build/<preset> (no install, no build)
  --netns         (root) run the home LAN (broker, gateway, devices) and the cloud in two
                  network namespaces joined by a shaped WAN link (deploy/lib/netns.sh);
                  the home is then on 10.77.1.2 and the cloud on 10.77.0.2
  -h, --help      this text

Secrets are generated on first start and stored with mode 0600 under <data>/secrets.
USAGE
}

command="${1:-}"
[[ -n "$command" ]] || { usage; exit 2; }
shift || true
wipe=0 log_name="" NO_BUILD=0 WATCH=0 INTERVAL=1 NETNS=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) DATA="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --preset) PRESET="$2"; shift 2 ;;
    --mqtt-port) MQTT_PORT="$2"; shift 2 ;;
    --speed) SPEED="$2"; shift 2 ;;
    --home) HOME_FILE="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --latency) LATENCY="$2"; shift 2 ;;
    --apps) APPS="$2"; shift 2 ;;
    --watch) WATCH=1; shift ;;
    --interval) INTERVAL="$2"; shift 2 ;;
    --wipe) wipe=1; shift ;;
    --no-build) NO_BUILD=1; shift ;;
    --netns) NETNS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "home.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) if [[ ( "$command" == logs || "$command" == restart || "$command" == wan ) && -z "$log_name" ]]; then log_name="$1"; shift
       else echo "home.sh: unexpected argument '$1'" >&2; exit 2; fi ;;
  esac
done

BUILD="$ROOT/build/$PRESET"
RUN="$DATA/run"
LOGS="$DATA/logs"
SECRETS="$DATA/secrets"
COMPONENTS=(mosquitto cloudd-1 cloudd-2 cloudd-3 gatewayd firmware-sim)

say() { echo "home: $*"; }

source "$ROOT/deploy/lib/netns.sh"
# A home started with --netns stays one: later commands (down, restart, wan) read the mode.
if [[ -f "$RUN/netns" ]]; then NETNS=1; fi
# Where each side runs and how the host reaches it.
HOME_EXEC=() CLOUD_EXEC=() HOME_HOST=127.0.0.1 CLOUD_HOST=127.0.0.1 CLOUD_BIND=127.0.0.1
if [[ $NETNS == 1 ]]; then
  HOME_EXEC=(ip netns exec "$NS_HOME") CLOUD_EXEC=(ip netns exec "$NS_CLOUD")
  HOME_HOST="$NS_HOME_ADDR" CLOUD_HOST="$NS_CLOUD_WAN_ADDR" CLOUD_BIND=0.0.0.0
fi

pid_of() { [[ -f "$RUN/$1.pid" ]] && cat "$RUN/$1.pid" || true; }
alive() { local pid; pid="$(pid_of "$1")"; [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }

# Starts a component in the background, remembering its command line in <run>/NAME.cmd so
# `restart NAME` can start it again the same way.
launch() {  # name command...
  local name="$1"; shift
  printf '%q ' "$@" >"$RUN/$name.cmd"
  nohup "$@" >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

wait_for_port() {  # port seconds [host]; host defaults to 127.0.0.1
  local deadline=$((SECONDS + $2)) host="${3:-127.0.0.1}"
  while ((SECONDS < deadline)); do
    if (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# The same inside the home namespace (for ports bound to its loopback only).
wait_for_home_port() {  # port seconds
  if [[ $NETNS == 0 ]]; then wait_for_port "$1" "$2"; return; fi
  "${HOME_EXEC[@]}" bash -c "$(declare -f wait_for_port); wait_for_port $1 $2"
}

secret() {  # name -> prints the secret, creating it (mode 0600) on first use
  local file="$SECRETS/$1"
  if [[ ! -s "$file" ]]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$file")
  fi
  cat "$file"
}

build() {
  [[ $NO_BUILD == 0 ]] || return 0
  "$ROOT/deploy/install-deps.sh" --quiet
  if [[ ! -f "$BUILD/build.ninja" ]]; then
    say "configuring ($PRESET)"
    (cd "$ROOT" && cmake --preset "$PRESET" >/dev/null)
  fi
  say "building ($PRESET)"
  (cd "$ROOT" && cmake --build --preset "$PRESET" >/dev/null)
}

binary() {  # name -> path of the built binary, or nothing
  find -L "$BUILD" -maxdepth 3 -type f -name "$1" -perm -u+x 2>/dev/null | head -1
}

start_mosquitto() {
  local conf="$RUN/mosquitto.conf" passwd="$SECRETS/mosquitto.passwd" acl="$RUN/mosquitto.acl"
  # Credentials: every device has its own user confined to its own topics (generated by
  # firmware-sim once, mode 0600); the gateway user may see the whole home.
  local gateway_password; gateway_password="$(secret mqtt-gateway)"
  (umask 077; : >"$passwd")
  : >"$acl"
  local fw; fw="$(binary firmware-sim)"
  if [[ -n "$fw" ]]; then
    "$fw" --home "$HOME_FILE" --credentials "$SECRETS/devices.json" --generate-credentials \
          --write-broker-auth "$SECRETS/broker-auth" >>"$LOGS/firmware-sim.log" 2>&1
    (umask 077; cat "$SECRETS/broker-auth/passwd" >>"$passwd")
    cat "$SECRETS/broker-auth/acl" >>"$acl"
    echo >>"$acl"
  fi
  (umask 077; echo "gateway:$gateway_password" >>"$passwd"; mosquitto_passwd -U "$passwd")
  cat >>"$acl" <<ACL
user gateway
topic readwrite homestead/#
topic readwrite homeassistant/#
topic read \$SYS/#
ACL
  # gatewayd's provisioning rewrites the live files from these bases plus the devices
  # registered through its API, then SIGHUPs the broker (docs/gateway-api.md).
  (umask 077; cp "$passwd" "$SECRETS/mosquitto.base.passwd"); cp "$acl" "$RUN/mosquitto.base.acl"
  cat >"$conf" <<CONF
# Generated by deploy/home.sh; secure by default: no anonymous clients, per-user ACL.
listener $MQTT_PORT 127.0.0.1
$( [[ $NETNS == 1 ]] && echo "listener $MQTT_PORT $HOME_HOST" )
allow_anonymous false
password_file $passwd
acl_file $acl
pid_file $RUN/mosquitto.broker.pid
sys_interval 1
set_tcp_nodelay true
persistence false
max_queued_messages 10000
max_inflight_messages 100
$( [[ $(id -u) == 0 ]] && echo "user root" )
CONF
  launch mosquitto "${HOME_EXEC[@]}" mosquitto -c "$conf"
  echo "$MQTT_PORT" >"$RUN/mosquitto.port"
  if ! wait_for_port "$MQTT_PORT" 10 "$HOME_HOST"; then
    say "mosquitto did not start; last log lines:"; tail -20 "$LOGS/mosquitto.log" >&2; exit 1
  fi
  say "mosquitto up on $HOME_HOST:$MQTT_PORT (pid $(pid_of mosquitto))"
}

start_firmware_sim() {
  local fw; fw="$(binary firmware-sim)"
  if [[ -z "$fw" ]]; then say "firmware-sim: not built in this checkout yet; skipped"; return; fi
  FIRMWARE_SIM_PORT="$(free_port)"
  launch firmware-sim "${HOME_EXEC[@]}" "$fw" --home "$HOME_FILE" --broker "127.0.0.1:$MQTT_PORT" --credentials "$SECRETS/devices.json" \
        --speed "$SPEED" --latency "$LATENCY" --control-port "$FIRMWARE_SIM_PORT" \
        --control-token-file "$SECRETS/firmware-sim-control.token" --summary-interval-ms 10000
  if ! wait_for_home_port "$FIRMWARE_SIM_PORT" 20; then
    say "firmware-sim did not start; last log lines:"; tail -20 "$LOGS/firmware-sim.log" >&2; exit 1
  fi
  local devices; devices="$(grep -c '"kind"' "$HOME_FILE" || true)"
  say "firmware-sim up: $devices devices from $(basename "$HOME_FILE"), control API on 127.0.0.1:$FIRMWARE_SIM_PORT (pid $(pid_of firmware-sim))"
  echo "$FIRMWARE_SIM_PORT" >"$RUN/firmware-sim.port"
}

# Three cloudd members on loopback. Ports are chosen once and kept in <data>/cloud-ports,
# because the members' addresses are part of the replicated cluster configuration.
start_cloud() {
  local cloudd; cloudd="$(binary cloudd)"
  if [[ -z "$cloudd" ]]; then say "cloudd: not built in this checkout yet; skipped"; return; fi
  local ports_file="$DATA/cloud-ports"
  if [[ ! -s "$ports_file" ]]; then
    for i in 1 2 3; do echo "$i $(free_port) $(free_port)"; done >"$ports_file"
  fi
  # Shared by all members; generated here so three first starts do not race to create them.
  secret cloud-token >/dev/null
  secret cluster-secret >/dev/null
  local members="" id http peer
  while read -r id http peer; do
    members+="${members:+,}{\"id\": $id, \"peer\": \"127.0.0.1:$peer\", \"http\": \"$CLOUD_HOST:$http\"}"
  done <"$ports_file"
  CLOUD_URLS=""
  while read -r id http peer; do
    mkdir -p "$DATA/cloud/$id"
    cat >"$RUN/cloudd-$id.json" <<JSON
{"id": $id, "data_dir": "$DATA/cloud/$id",
 "http_listen": "$CLOUD_BIND:$http", "peer_listen": "127.0.0.1:$peer",
 "members": [$members],
 "token_file": "$SECRETS/cloud-token", "cluster_secret_file": "$SECRETS/cluster-secret"}
JSON
    launch "cloudd-$id" "${CLOUD_EXEC[@]}" "$cloudd" --config "$RUN/cloudd-$id.json"
    echo "$http" >"$RUN/cloudd-$id.port"
    CLOUD_URLS+="${CLOUD_URLS:+,}http://$CLOUD_HOST:$http"
  done <"$ports_file"
  while read -r id http peer; do
    if ! wait_for_port "$http" 20 "$CLOUD_HOST"; then
      say "cloudd-$id did not start; last log lines:"; tail -20 "$LOGS/cloudd-$id.log" >&2; exit 1
    fi
  done <"$ports_file"
  # Wait for an elected leader so the home is usable when up returns.
  local first_url="${CLOUD_URLS%%,*}" leader=0 deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    leader="$(curl -s -H "Authorization: Bearer $(cat "$SECRETS/cloud-token")" "$first_url/api/v1/cluster" |
              python3 -c 'import json,sys; print(json.load(sys.stdin).get("leader", 0))' 2>/dev/null || echo 0)"
    [[ "$leader" != 0 && -n "$leader" ]] && break
    sleep 0.1
  done
  if [[ "$leader" == 0 || -z "$leader" ]]; then say "cloud has no leader after 30 s; see deploy/home.sh logs cloudd-1"; exit 1; fi
  say "cloud up: 3 cloudd members ($CLOUD_URLS), leader is member $leader"
}

# The gateway's "transactuations" section: the built-in apps of --apps and the API-triggered
# arm/disarm apps of deploy/apps/modes.json.
transactuation_settings() {
  local apps="$APPS"
  if [[ "$apps" == default ]]; then
    if [[ "$HOME_FILE" == "$ROOT/deploy/homes/default.json" ]]; then apps="$ROOT/deploy/apps/builtin-default-home.json"
    else apps=none; fi
  fi
  local builtin="{}" app_files="[]"
  if [[ "$apps" != none ]]; then
    [[ -f "$apps" ]] || { echo "home.sh: --apps: no such file '$apps'" >&2; exit 2; }
    builtin="$(cat "$apps")"
    app_files="[\"$ROOT/deploy/apps/modes.json\"]"
  fi
  echo "{\"builtin\": $builtin, \"app_files\": $app_files}"
}

# Registers the home and its gateway in the cloud (issue 8) once: the gateway's own token is
# answered only at registration, so it is kept in <data>/secrets/cloud-gateway-token (0600);
# if that file is lost the gateway is revoked and registered again.
CLOUD_HOME_ID="" CLOUD_GATEWAY_ID=gateway-1
register_in_cloud() {
  [[ -n "${CLOUD_URLS:-}" ]] || return 0
  CLOUD_HOME_ID="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["home"])' "$HOME_FILE")"
  local name; name="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("name", ""))' "$HOME_FILE")"
  local token_file="$SECRETS/cloud-gateway-token" url="${CLOUD_URLS%%,*}" auth
  auth="Authorization: Bearer $(cat "$SECRETS/cloud-token")"
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$auth" -H 'Content-Type: application/json' \
          -d "{\"id\": \"$CLOUD_HOME_ID\", \"name\": \"$name\"}" "$url/api/v1/homes")"
  [[ "$code" == 201 || "$code" == 409 ]] || { say "cloud: registering home '$CLOUD_HOME_ID' answered HTTP $code"; exit 1; }
  if [[ ! -s "$token_file" ]]; then
    curl -s -o /dev/null -X DELETE -H "$auth" "$url/api/v1/homes/$CLOUD_HOME_ID/gateways/$CLOUD_GATEWAY_ID" || true
    local answer
    answer="$(curl -s -X POST -H "$auth" -H 'Content-Type: application/json' -d "{\"id\": \"$CLOUD_GATEWAY_ID\"}" \
              "$url/api/v1/homes/$CLOUD_HOME_ID/gateways")"
    (umask 077; python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$answer" >"$token_file") ||
      { rm -f "$token_file"; say "cloud: registering the gateway failed: $answer"; exit 1; }
  fi
  say "cloud: home '$CLOUD_HOME_ID' with gateway '$CLOUD_GATEWAY_ID' registered (gateway token in $token_file)"
}

# The gateway's "cloud" section: sync with the cluster when it runs.
cloud_settings() {
  if [[ -z "$CLOUD_HOME_ID" ]]; then echo '{"enabled": false}'; return; fi
  local urls; urls="$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split(",")))' "$CLOUD_URLS")"
  echo "{\"enabled\": true, \"urls\": $urls, \"home_id\": \"$CLOUD_HOME_ID\", \"gateway_id\": \"$CLOUD_GATEWAY_ID\", \"token_file\": \"$SECRETS/cloud-gateway-token\"}"
}

start_gateway() {
  local gw; gw="$(binary gatewayd)"
  if [[ -z "$gw" ]]; then say "gatewayd: not built in this checkout yet; skipped"; return; fi
  [[ -s "$DATA/gateway-port" ]] || free_port >"$DATA/gateway-port"
  GATEWAY_PORT="$(cat "$DATA/gateway-port")"
  mkdir -p "$DATA/gateway"
  cat >"$RUN/gateway.json" <<JSON
{"home_file": "$HOME_FILE", "data_dir": "$DATA/gateway",
 "transactuations": $(transactuation_settings),
 "cloud": $(cloud_settings),
 "mqtt": {"uri": "tcp://127.0.0.1:$MQTT_PORT", "username": "gateway", "password_file": "$SECRETS/mqtt-gateway"},
 "http": {"bind": "$HOME_HOST", "port": $GATEWAY_PORT},
 "provisioning": {"enabled": true, "password_file": "$SECRETS/mosquitto.passwd", "acl_file": "$RUN/mosquitto.acl",
                  "base_password_file": "$SECRETS/mosquitto.base.passwd", "base_acl_file": "$RUN/mosquitto.base.acl",
                  "broker_pid_file": "$RUN/mosquitto.broker.pid"}}
JSON
  launch gatewayd "${HOME_EXEC[@]}" "$gw" --config "$RUN/gateway.json"
  echo "$GATEWAY_PORT" >"$RUN/gatewayd.port"
  if ! wait_for_port "$GATEWAY_PORT" 20 "$HOME_HOST"; then
    say "gatewayd did not start; last log lines:"; tail -20 "$LOGS/gatewayd.log" >&2; exit 1
  fi
  say "gatewayd up: http://$HOME_HOST:$GATEWAY_PORT (admin token in $DATA/gateway/admin.token, pid $(pid_of gatewayd))"
}

free_port() { python3 "$ROOT/deploy/lib/free_port.py"; }

write_env() {
  local env="$DATA/home.env"
  (umask 077; cat >"$env" <<ENV
# Written by deploy/home.sh up; source it to drive the running home from scripts.
MQTT_HOST=$HOME_HOST
MQTT_PORT=$MQTT_PORT
MQTT_GATEWAY_USER=gateway
MQTT_GATEWAY_PASSWORD_FILE=$SECRETS/mqtt-gateway
GATEWAY_URL=${GATEWAY_PORT:+http://$HOME_HOST:$GATEWAY_PORT}
GATEWAY_TOKEN_FILE=$DATA/gateway/admin.token
HOMECTL_URL=${GATEWAY_PORT:+http://$HOME_HOST:$GATEWAY_PORT}
HOMECTL_TOKEN_FILE=$DATA/gateway/admin.token
CLOUD_URLS=${CLOUD_URLS:-}
CLOUD_TOKEN_FILE=$SECRETS/cloud-token
CLOUD_HOME_ID=$CLOUD_HOME_ID
CLOUD_GATEWAY_ID=$CLOUD_GATEWAY_ID
CLOUD_GATEWAY_TOKEN_FILE=$SECRETS/cloud-gateway-token
# firmware-sim's control API listens on the home's loopback: with --netns, reach it with
# ip netns exec \$HOMESTEAD_NETNS_HOME curl ... (deploy/scenarios/lib.sh does).
FIRMWARE_SIM_URL=${FIRMWARE_SIM_PORT:+http://127.0.0.1:$FIRMWARE_SIM_PORT}
HOMESTEAD_NETNS_HOME=$( [[ $NETNS == 1 ]] && echo "$NS_HOME" )
FIRMWARE_SIM_TOKEN_FILE=$SECRETS/firmware-sim-control.token
HOMESTEAD_DATA=$DATA
HOMESTEAD_SPEED=$SPEED
ENV
  )
}

cmd_up() {
  mkdir -p "$RUN" "$LOGS"
  (umask 077; mkdir -p "$SECRETS")
  chmod 700 "$SECRETS"
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then
      say "already running ($c, pid $(pid_of "$c")); use 'deploy/home.sh status' or 'down' first"
      exit 1
    fi
  done
  # The cloud members' addresses are part of the replicated configuration kept in <data>,
  # so a data folder stays in the mode it was created in.
  local mode; [[ $NETNS == 1 ]] && mode=netns || mode=loopback
  if [[ -f "$DATA/mode" && "$(cat "$DATA/mode")" != "$mode" ]]; then
    say "$DATA was created in $(cat "$DATA/mode") mode; use the same mode, or 'down --wipe' first"; exit 1
  fi
  echo "$mode" >"$DATA/mode"
  build
  if [[ $NETNS == 1 ]]; then netns_up; : >"$RUN/netns"; fi
  start_mosquitto
  start_cloud
  register_in_cloud
  start_firmware_sim
  start_gateway
  write_env
  say "home is up. Environment for scripts: $DATA/home.env"
  local homectl; homectl="$(binary homectl)"
  if [[ -n "$homectl" ]]; then
    say "try (homectl reads its URL and token from home.env):"
    echo "    set -a; source $DATA/home.env; set +a"
    echo "    $homectl devices"
    echo "    $homectl state hall_light"
    echo "    $homectl command hall_light turn_on"
    echo "    $homectl watch"
    echo "    deploy/home.sh status --watch        # live view: devices, transactuations, cloud, sync"
    echo "    deploy/scenarios/burglary.sh          # scenarios: burglary fire power-cut internet-outage"
  fi
  say "raw MQTT: mosquitto_sub -h $HOME_HOST -p $MQTT_PORT -u gateway -P \"\$(cat $SECRETS/mqtt-gateway)\" -t 'homestead/#' -v"
  say "stop with: deploy/home.sh down   (add --wipe to delete $DATA)"
}

cmd_down() {
  local stopped=0
  for c in "${COMPONENTS[@]}"; do
    local pid; pid="$(pid_of "$c")"
    [[ -n "$pid" ]] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      say "stopped $c (pid $pid)"
      stopped=$((stopped + 1))
    fi
    rm -f "$RUN/$c.pid"
  done
  [[ $stopped -gt 0 ]] || say "nothing was running"
  if [[ -f "$RUN/netns" ]]; then netns_down; rm -f "$RUN/netns"; fi
  if [[ $wipe == 1 ]]; then
    rm -rf "$DATA"
    say "wiped $DATA"
  fi
}

cmd_status() {
  if [[ $WATCH == 1 ]]; then
    exec python3 "$ROOT/deploy/lib/home_watch.py" --data "$DATA" --interval "$INTERVAL"
  fi
  local any=0
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then
      printf '  %-14s running  pid %s\n' "$c" "$(pid_of "$c")"; any=1
    elif [[ -n "$(pid_of "$c")" ]]; then
      printf '  %-14s DEAD     (pid file %s, see logs %s)\n' "$c" "$(pid_of "$c")" "$c"
    else
      printf '  %-14s stopped\n' "$c"
    fi
  done
  [[ -f "$DATA/home.env" ]] && echo "  environment: $DATA/home.env"
  [[ $any == 1 ]] || return 3
}

cmd_restart() {
  local name="$log_name"
  [[ -n "$name" ]] || { echo "home.sh: restart needs a component name (${COMPONENTS[*]})" >&2; exit 2; }
  [[ -f "$RUN/$name.cmd" ]] || { echo "home.sh: '$name' was not started by 'up' in $DATA" >&2; exit 2; }
  local pid; pid="$(pid_of "$name")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  local words; words="$(cat "$RUN/$name.cmd")"
  eval "set -- $words"
  launch "$name" "$@"
  local ok=1 port; port="$(cat "$RUN/$name.port" 2>/dev/null || true)"
  if [[ -n "$port" ]]; then
    case "$name" in
      firmware-sim) wait_for_home_port "$port" 20 || ok=0 ;;
      cloudd-*) wait_for_port "$port" 20 "$CLOUD_HOST" || ok=0 ;;
      *) wait_for_port "$port" 20 "$HOME_HOST" || ok=0 ;;
    esac
  fi
  if [[ $ok == 0 ]]; then
    say "$name did not come back; last log lines:"; tail -20 "$LOGS/$name.log" >&2; exit 1
  fi
  say "restarted $name (pid $(pid_of "$name"))"
}

cmd_logs() {
  if [[ -z "$log_name" ]]; then
    ls "$LOGS" 2>/dev/null || say "no logs in $LOGS"
  elif [[ -f "$LOGS/$log_name.log" ]]; then
    cat "$LOGS/$log_name.log"
  else
    echo "home.sh: no log for '$log_name' in $LOGS" >&2; exit 1
  fi
}

case "$command" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  logs) cmd_logs ;;
  restart) cmd_restart ;;
  wan) wan_command "$log_name" ;;
  -h|--help|help) usage ;;
  *) echo "home.sh: unknown command '$command'" >&2; usage >&2; exit 2 ;;
esac
