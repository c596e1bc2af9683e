#!/usr/bin/env bash
# Internet outage: the cloud is unreachable for a while. The home must keep running its apps
# locally (offline-first), queue what the cloud should know in the durable outbox, and on
# reconnect deliver it exactly once and in order: every transactuation the gateway finished
# appears in the cloud's audit log once, none missing, in the gateway's order.
#
# Loopback homes: the outage is a SIGSTOP of every cloudd (connections hang, nothing
# answers), then SIGCONT. --netns homes: `deploy/home.sh wan cut` / `wan heal`, and since the
# cloud stays up for its admins, a desired change made in the cloud during the outage while
# the same light is switched locally shows the conflict rule.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_scenario_args internet-outage "the cloud unreachable for a while; apps keep running; the outbox drains exactly once" "$@"
HOME_SH="$SCENARIO_ROOT/deploy/home.sh"
OUTAGE_EVENTS=3

sync_field() { gw GET /api/v1/sync | json_get "$1"; }
if [[ "$(sync_field 'd.get("enabled", False)')" != true ]]; then
  echo "internet-outage: the gateway has no cloud sync configured (deploy/home.sh up configures it)" >&2; exit 2
fi
audit() { cloud GET "/api/v1/homes/$CLOUD_HOME_ID/audit?limit=100000"; }
connected() { [[ "$(sync_field 'd["connected"]')" == true ]]; }
drained() { connected && [[ "$(sync_field 'd["outbox"]["depth"]')" == 0 ]]; }

step "before: the gateway is connected and its outbox is drained"
wait_for "the gateway connected to the cloud with an empty outbox" drained
reset_alarm landing_strobe hall_siren
command_acked hall_light turn_on
wait_for "the outbox drained again" drained
before_seq="$(sync_field 'd["applied_through"]')"
echo "   applied through seq $before_seq; cloud audit log has $(audit | json_get 'len(d["records"])') records of home $CLOUD_HOME_ID"

netns_mode=0; [[ -n "${HOMESTEAD_NETNS_HOME:-}" ]] && netns_mode=1
if [[ $netns_mode == 1 ]]; then
  step "outage: the WAN link is cut"
  "$HOME_SH" wan cut --data "$DATA" | sed 's/^/   /'
else
  step "outage: every cloud member stops answering (SIGSTOP)"
  for f in "$DATA"/run/cloudd-*.pid; do kill -STOP "$(cat "$f")"; done
fi
resume_cloud() {
  if [[ $netns_mode == 1 ]]; then "$HOME_SH" wan heal --data "$DATA" | sed 's/^/   /'
  else for f in "$DATA"/run/cloudd-*.pid; do kill -CONT "$(cat "$f")" 2>/dev/null || true; done; fi
}
trap resume_cloud EXIT

offline() { [[ "$(sync_field 'd["connected"]')" == false ]]; }
step "the home keeps running: arm, then $OUTAGE_EVENTS intrusions (each disarm + arm + motion)"
runs=()
for i in $(seq "$OUTAGE_EVENTS"); do
  reset_alarm landing_strobe hall_siren
  arm_run="$(trigger_app arm)"; wait_for "arm" run_finished "$arm_run"
  before="$(newest_run_of intrusion_alarm)"
  event_run intrusion_alarm "$before" hall_motion motion; run="$RUN"
  wait_for "run $run to finish" run_finished "$run"
  echo "   intrusion_alarm run $run: $(run_status "$run") (cloud unreachable)"
  runs+=("$run")
done
wait_for "the gateway to notice it is offline" offline
depth="$(sync_field 'd["outbox"]["depth"]')"
echo "   /api/v1/sync: connected=false, outbox depth $depth, oldest $(sync_field 'd["outbox"]["oldest_age_ms"]') ms"
outbox_grew() { [[ "$depth" -gt 0 ]]; }
all_committed() { local r; for r in "${runs[@]}"; do [[ "$(run_status "$r")" == committed ]] || return 1; done; }

if [[ $netns_mode == 1 ]]; then
  step "meanwhile: hall_light is switched off at home, and a user in the cloud sets it on"
  command_acked hall_light turn_off
  cloud PATCH "/api/v1/homes/$CLOUD_HOME_ID/devices/hall_light/shadow" '{"desired": {"on": true}}' >/dev/null
  conflicts_before="$(sync_field 'd["conflicts_resolved"]')"
fi

step "the cloud is back"
trap - EXIT
resume_cloud
wait_for "the outbox to drain" drained
echo "   drained: applied through seq $(sync_field 'd["applied_through"]')"

records="$(audit)"
every_run_once() {
  local r n
  for r in "${runs[@]}"; do
    n="$(json_get "sum(1 for r in d['records'] if r['record'].get('id') == $r)" <<<"$records")"
    [[ "$n" == 1 ]] || { echo "run $r is in the cloud $n times"; return 1; }
  done
}
no_duplicates() { [[ "$(json_get "len(set((r['gateway'], r['seq']) for r in d['records'])) == len(d['records']) == len(set(r['record'].get('id') for r in d['records']))" <<<"$records")" == true ]]; }
# The log answers newest first; in seq order the gateway's commit times never go back.
in_gateway_order() { [[ "$(json_get "[r['at_ms'] for r in sorted((r for r in d['records'] if r['gateway'] == '$CLOUD_GATEWAY_ID'), key=lambda r: r['seq'])] == sorted(r['at_ms'] for r in d['records'] if r['gateway'] == '$CLOUD_GATEWAY_ID')" <<<"$records")" == true ]]; }
shadow_matches() {
  [[ "$(cloud GET "/api/v1/homes/$CLOUD_HOME_ID/devices/landing_strobe/shadow" | json_get 'd["reported"].get("on")')" == \
     "$(device_field landing_strobe 'd["state"]["on"]')" ]]
}

step "guarantees"
check "apps kept running with the cloud unreachable (every intrusion run committed)" all_committed
check "the outbox held the records while offline (depth $depth > 0)" outbox_grew
check "every transactuation from the outage is in the cloud audit log exactly once" every_run_once
check "the cloud audit log has no duplicate (gateway, seq) or transactuation id" no_duplicates
check "the records are this gateway's ($CLOUD_GATEWAY_ID)" [ -n "$CLOUD_GATEWAY_ID" ]
check "the cloud keeps the gateway's order (seq order = commit order)" in_gateway_order
check "the cloud shadow's reported state matches the device (landing_strobe)" shadow_matches
if [[ $netns_mode == 1 ]]; then
  light_on() { [[ "$(device_field hall_light 'd["state"]["on"]')" == true ]]; }
  wait_for "the cloud's desired hall_light on to be applied" light_on || true
  check "desired comes from the cloud: hall_light is on again after reconnect" light_on
fi
if [[ $netns_mode == 1 ]]; then
  conflict_recorded() { [[ "$(sync_field 'd["conflicts_resolved"]')" -gt "$conflicts_before" ]]; }
  wait_for "the conflict to be resolved" conflict_recorded || true
  check "the offline conflict on hall_light was detected and resolved by the rule" conflict_recorded
  in_cloud_log() { [[ "$(cloud GET "/api/v1/homes/$CLOUD_HOME_ID/conflicts" | json_get "sum(1 for c in d.get('conflicts', []) if c.get('device') == 'hall_light')")" -gt 0 ]]; }
  wait_for "the conflict record in the cloud" in_cloud_log || true
  check "the resolution is recorded in the cloud's conflict log" in_cloud_log
fi

step "clean up: disarm, strobe and siren off"
reset_alarm landing_strobe hall_siren
finish
