#!/usr/bin/env bash
# Burglary: the alarm is armed, motion in the hall, and the strobe's first command is lost
# on the way. The intrusion alarm must retry, actuate every device exactly once, and write
# state.alarmActive only with an acknowledged strobe (the seed's example).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_scenario_args burglary "armed home, motion in the hall, the strobe's first command dropped" "$@"

step "start from a disarmed home with the strobe and siren off"
reset_alarm landing_strobe hall_siren
step "arm the alarm (API-triggered app 'arm')"
arm_run="$(trigger_app arm)"
wait_for "arm run $arm_run to commit" run_finished "$arm_run"
echo "   arm run $arm_run: $(run_status "$arm_run"), state.armed=$(app_state armed)"

step "the strobe will lose the next command it is sent"
before_received="$(device_field landing_strobe 'd["commands_received"]')"
before_dropped="$(device_field landing_strobe 'd["commands_dropped"]')"
fw PUT /devices/landing_strobe/faults '{"drop_commands": 1}' >/dev/null
before="$(newest_run_of intrusion_alarm)"

step "motion in the hall"
event_run intrusion_alarm "$before" hall_motion motion; run="$RUN"
dropped_one() { [[ "$(device_field landing_strobe 'd["commands_dropped"]')" -gt "$before_dropped" ]]; }
wait_for "the strobe to drop its first command" dropped_one
echo "   the strobe dropped a command (firmware-sim counter); clearing the fault so the retry gets through"
fw DELETE /devices/landing_strobe/faults >/dev/null

wait_for "run $run to finish" run_finished "$run"
record="$(run_of "$run")"
echo "   intrusion_alarm run $run: $(json_get 'd["status"]' <<<"$record") ($(json_get 'd["reason"]' <<<"$record"))"
json_get '"\n".join("   %s %s: %s after %d attempt(s)" % (a["device"], a["command"], a["state"], a["attempts"]) for a in d["actuations"])' <<<"$record"

strobe_attempts() { json_get '[a for a in d["actuations"] if a["device"] == "landing_strobe"][0]["attempts"]' <<<"$record"; }
strobe_ok() { [[ "$(json_get '[a for a in d["actuations"] if a["device"] == "landing_strobe"][0]["state"]' <<<"$record")" == ok ]]; }
committed() { [[ "$(json_get 'd["status"]' <<<"$record")" == committed ]]; }
retried() { [[ "$(strobe_attempts)" -ge 2 ]]; }
alarm_only_with_strobe() {
  local active; active="$(app_state alarmActive)"
  if [[ "$active" == true ]]; then strobe_ok; else ! strobe_ok; fi
}
strobe_is_on() { [[ "$(device_field landing_strobe 'd["state"]["on"]')" == true ]]; }
received_more() { [[ "$(device_field landing_strobe 'd["commands_received"]')" -gt "$before_received" ]]; }

step "guarantees"
check "the run committed although a command was lost" committed
check "the lost strobe command was retried (attempts >= 2)" retried
check "state.alarmActive is true only with an acked strobe command" alarm_only_with_strobe
check "the strobe is really on (firmware-sim state)" strobe_is_on
check "every cmd_id actuated at most once on the devices (retries are deduplicated)" actuated_at_most_once "$run"
check "the firmware saw the commands (not a gateway-side shortcut)" received_more

step "clean up: disarm, strobe and siren off"
reset_alarm landing_strobe hall_siren
finish
