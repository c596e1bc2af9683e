#!/usr/bin/env bash
# Power cut: the gateway dies (kill -9) in the middle of an intrusion-alarm transactuation,
# with its strobe and siren commands in flight, and comes back. Recovery must finish the
# run from the durable intent log: no command actuated twice, state.alarmActive only with
# an acked strobe, the databases intact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_scenario_args power-cut "kill -9 of gatewayd mid-transactuation, then restart" "$@"
HOME_SH="$SCENARIO_ROOT/deploy/home.sh"

step "start from a disarmed home, then arm"
reset_alarm landing_strobe hall_siren
arm_run="$(trigger_app arm)"
wait_for "arm run $arm_run to commit" run_finished "$arm_run"

step "strobe and siren will act at once but ack only after 4 s (commands stay in flight)"
fw PUT /devices/landing_strobe/faults '{"ack_delay_ms": 4000}' >/dev/null
fw PUT /devices/hall_siren/faults '{"ack_delay_ms": 4000}' >/dev/null
before="$(newest_run_of intrusion_alarm)"
strobe_received="$(device_field landing_strobe 'd["commands_received"]')"

step "motion in the hall"
event_run intrusion_alarm "$before" hall_motion motion; run="$RUN"
strobe_got_it() { [[ "$(device_field landing_strobe 'd["commands_received"]')" -gt "$strobe_received" ]]; }
wait_for "the strobe to receive its command" strobe_got_it
echo "   run $run is $(run_status "$run") with its commands at the devices"

step "power cut: kill -9 gatewayd (pid $(cat "$DATA/run/gatewayd.pid"))"
kill -9 "$(cat "$DATA/run/gatewayd.pid")"
"$HOME_SH" restart gatewayd --data "$DATA" | sed 's/^/   /'
fw DELETE /devices/landing_strobe/faults >/dev/null
fw DELETE /devices/hall_siren/faults >/dev/null
wait_for "run $run to finish after recovery" run_finished "$run"
record="$(run_of "$run")"
echo "   run $run after restart: $(json_get 'd["status"]' <<<"$record") ($(json_get 'd["reason"]' <<<"$record")), recovered=$(json_get 'd.get("recovered")' <<<"$record")"
json_get '"\n".join("   %s %s: %s after %d attempt(s) %s" % (a["device"], a["command"], a["state"], a["attempts"], a.get("error", "")) for a in d["actuations"])' <<<"$record"

recovered() { [[ "$(json_get 'd.get("recovered")' <<<"$record")" == true ]]; }
strobe_ok() { [[ "$(json_get '[a for a in d["actuations"] if a["device"] == "landing_strobe"][0]["state"]' <<<"$record")" == ok ]]; }
alarm_only_with_strobe() {
  if [[ "$(app_state alarmActive)" == true ]]; then strobe_ok; else ! strobe_ok; fi
}
databases_intact() {
  local db
  for db in "$DATA"/gateway/*.db; do
    [[ "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$db")" == ok ]] || return 1
  done
}

step "guarantees"
check "the interrupted run was finished by recovery (recovered=true)" recovered
check "state.alarmActive is true only with an acked strobe command" alarm_only_with_strobe
check "no command actuated twice across the crash" actuated_at_most_once "$run"
check "every gateway database passes PRAGMA integrity_check" databases_intact

step "clean up: disarm, strobe and siren off"
reset_alarm landing_strobe hall_siren
finish
