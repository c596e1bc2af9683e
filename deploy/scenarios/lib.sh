# Shared by the scenario scripts: where the running home is, small REST helpers, polling
# with a deadline, and the guarantee checks' bookkeeping. Sourced, not run.
set -euo pipefail

SCENARIO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${HOMESTEAD_DATA:-$SCENARIO_ROOT/.homestead}"
TIMEOUT_S=40

scenario_usage() {  # name description
  cat <<USAGE
Usage: deploy/scenarios/$1.sh [--data DIR] [--timeout S]

$2

Runs against a home started with deploy/home.sh up (same --data; default ./.homestead, or
\$HOMESTEAD_DATA). Prints what the system did and one line per guarantee checked; exits 0
only when every guarantee held, 1 when one did not, 2 on a usage or setup error.
USAGE
}

parse_scenario_args() {  # name description "$@"
  local name="$1" description="$2"; shift 2
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --data) DATA="$(cd "$2" && pwd)"; shift 2 ;;
      --timeout) TIMEOUT_S="$2"; shift 2 ;;
      -h|--help) scenario_usage "$name" "$description"; exit 0 ;;
      *) echo "$name: unknown argument '$1'" >&2; scenario_usage "$name" "$description" >&2; exit 2 ;;
    esac
  done
  if [[ ! -f "$DATA/home.env" ]]; then
    echo "$name: no $DATA/home.env - start the home first: deploy/home.sh up" >&2; exit 2
  fi
  set -a; source "$DATA/home.env"; set +a
  GW_TOKEN="$(cat "$GATEWAY_TOKEN_FILE")"
  FW_TOKEN="$(cat "$FIRMWARE_SIM_TOKEN_FILE")"
  CLOUD_TOKEN="$(cat "$CLOUD_TOKEN_FILE" 2>/dev/null || true)"
  SCENARIO="$name"
  FAILED=0
  echo "== scenario $name: $description"
}

step() { echo "-- $*"; }

# REST helpers: print the response body; fail (exit 2) on a transport error.
gw() {  # METHOD PATH [JSON]
  curl -sS -X "$1" -H "Authorization: Bearer $GW_TOKEN" -H 'Content-Type: application/json' \
       ${3:+-d "$3"} "$GATEWAY_URL$2"
}
fw() {  # METHOD PATH [JSON]   firmware-sim's control API (inside the home namespace with --netns)
  ${HOMESTEAD_NETNS_HOME:+ip netns exec "$HOMESTEAD_NETNS_HOME"} curl -sS -X "$1" -H "Authorization: Bearer $FW_TOKEN" -H 'Content-Type: application/json' \
       ${3:+-d "$3"} "$FIRMWARE_SIM_URL$2"
}
cloud() {  # METHOD PATH [JSON]  any cloud member that answers
  local url
  for url in ${CLOUD_URLS//,/ }; do
    if curl -sS -f -X "$1" -H "Authorization: Bearer $CLOUD_TOKEN" -H 'Content-Type: application/json' \
            ${3:+-d "$3"} --max-time 2 "$url$2" 2>/dev/null; then return 0; fi
  done
  return 1
}

# jq-like field access with python3 (always present where home.sh runs): json_get EXPR
# reads JSON on stdin and prints eval(EXPR) with `d` bound to the document.
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); v=($1); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)"; }

# wait_for DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it succeeds; after
# TIMEOUT_S the scenario stops, saying what it was waiting for (a guarantee could not be
# checked, which counts as not held).
wait_for() {
  local what="$1"; shift
  local deadline=$((SECONDS + TIMEOUT_S))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "   timed out after ${TIMEOUT_S}s waiting for: $what"
      echo "== $SCENARIO: could not complete; see deploy/home.sh logs gatewayd"
      exit 1
    fi
    sleep 0.2
  done
}

# Sends a device command through the gateway and waits until the device acked it (so a
# slow actuator cannot finish later and undo what the scenario does next).
command_acked() {  # DEVICE COMMAND
  local id; id="$(gw POST "/api/v1/devices/$1/commands" "{\"command\": \"$2\"}" | json_get 'd["command_id"]')"
  is_acked() { [[ "$(gw GET "/api/v1/commands/$1?wait_ms=1000" | json_get 'd["status"]')" == acked ]]; }
  wait_for "$1 $2 acked" is_acked "$id"
}

# Puts the home back to a known start: alarm disarmed (alarmActive false), sirens off.
reset_alarm() {
  local run; run="$(trigger_app disarm)"
  wait_for "disarm run $run to finish" run_finished "$run"
  local dev
  for dev in "$@"; do command_acked "$dev" turn_off; done
}

check() {  # DESCRIPTION COMMAND...: one guarantee
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then echo "   HELD   $what"
  else echo "   BROKEN $what"; FAILED=1; fi
}

finish() {
  if [[ $FAILED == 0 ]]; then echo "== $SCENARIO: every guarantee held"; exit 0; fi
  echo "== $SCENARIO: a guarantee did NOT hold (see BROKEN above)"; exit 1
}

trigger_app() { gw POST "/api/v1/apps/$1/trigger" '{}' | json_get 'd["id"]'; }
run_of() { gw GET "/api/v1/transactuations/$1"; }
run_status() { run_of "$1" | json_get 'd["status"]'; }
run_finished() { [[ "$(run_status "$1")" =~ ^(committed|committed_partial|aborted)$ ]]; }
app_state() { gw GET /api/v1/app-state | json_get "d['state'].get('$1')"; }
newest_run_of() {  # APP -> id of its newest run (0 if none)
  gw GET "/api/v1/transactuations?app=$1&limit=1" | json_get 'd["transactuations"][0]["id"] if d["transactuations"] else 0'
}
# The newest run of APP newer than BEFORE that sent actuations (0 if none yet).
acting_run_after() {  # APP BEFORE
  local ids id
  ids="$(gw GET "/api/v1/transactuations?app=$1&limit=20" | json_get "' '.join(str(t['id']) for t in d['transactuations'] if t['id'] > $2)")"
  for id in $ids; do
    if [[ "$(run_of "$id" | json_get 'len(d.get("actuations", []))')" != 0 ]]; then echo "$id"; return; fi
  done
  echo 0
}
# Fires a sensor EVENT on DEVICE (its "_clear" first, so it is a change) and waits for the
# first run of APP newer than BEFORE that sends actuations; sets RUN to its id.
event_run() {  # APP BEFORE DEVICE EVENT
  fw POST "/devices/$3/events" "{\"event\": \"$4_clear\"}" >/dev/null
  fw POST "/devices/$3/events" "{\"event\": \"$4\"}" >/dev/null
  RUN=0
  acting() { RUN="$(acting_run_after "$1" "$2")"; [[ "$RUN" != 0 ]]; }
  wait_for "a $1 run that actuates after $3 $4" acting "$1" "$2"
}
nonzero() { [[ "$("$@")" != 0 ]]; }
device_field() { fw GET "/devices/$1" | json_get "$2"; }
# Every cmd_id the run sent reached the device's firmware at most once.
actuated_at_most_once() {  # RUN
  local run="$1" pairs dev cmd n
  pairs="$(run_of "$run" | json_get "' '.join(a['device'] + ':' + a['cmd_id'] for a in d['actuations'] if a.get('cmd_id'))")"
  for pair in $pairs; do
    dev="${pair%%:*}"; cmd="${pair#*:}"
    n="$(device_field "$dev" "d['actuations'].get('$cmd', 0)")"
    [[ "$n" -le 1 ]] || { echo "   $dev actuated cmd_id $cmd $n times"; return 1; }
  done
}
