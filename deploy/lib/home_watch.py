#!/usr/bin/env python3
"""Live status view of a running emulated home (deploy/home.sh status --watch).

Reads <data>/home.env, polls the gateway and cloud REST APIs every INTERVAL seconds and
redraws: processes, devices online, the latest sensor reports, recent transactuations with
outcomes, the cloud leader and the gateway's sync state. Standard library only. With
--once it prints one frame and exits (what the e2e test checks).
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    return env


def get(url, token, timeout=1.0):
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode())
    except urllib.error.HTTPError as e:
        return {"_error": "HTTP %d" % e.code}
    except (OSError, ValueError) as e:
        return {"_error": str(getattr(e, "reason", e))}


def token_of(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def alive(run_dir, name):
    try:
        with open(os.path.join(run_dir, name + ".pid")) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def age(now_ms, then_ms):
    if not then_ms:
        return "never"
    seconds = max(0, (now_ms - then_ms) / 1000.0)
    return "%.1fs ago" % seconds if seconds < 120 else "%dm ago" % (seconds // 60)


def frame(env, data_dir):
    now_ms = int(time.time() * 1000)
    lines = ["Homestead home  %s  (data %s)" % (time.strftime("%H:%M:%S"), data_dir), ""]
    run_dir = os.path.join(data_dir, "run")
    names = ["mosquitto", "cloudd-1", "cloudd-2", "cloudd-3", "gatewayd", "firmware-sim"]
    lines.append("processes: " + "  ".join("%s %s" % (n, "up" if alive(run_dir, n) else "DOWN") for n in names))

    gw, gw_token = env.get("GATEWAY_URL", ""), token_of(env.get("GATEWAY_TOKEN_FILE", ""))
    if gw:
        devices = get(gw + "/api/v1/devices", gw_token).get("devices", [])
        online = sum(1 for d in devices if d.get("online"))
        lines.append("devices:   %d/%d online" % (online, len(devices)))
        lines.append("")
        lines.append("latest sensor reports:")
        recent = sorted(devices, key=lambda d: d.get("last_seen_ms") or 0, reverse=True)[:6]
        for d in recent:
            state = get(gw + "/api/v1/devices/%s/state" % d["id"], gw_token)
            reported = json.dumps(state.get("reported", {}), separators=(",", ":"))
            lines.append("  %-24s %-10s %s" % (d["id"], age(now_ms, d.get("last_seen_ms")), reported[:60]))
        lines.append("")
        lines.append("recent transactuations:")
        runs = get(gw + "/api/v1/transactuations?limit=6", gw_token)
        if "_error" in runs:
            lines.append("  (%s)" % runs["_error"])
        for t in runs.get("transactuations", []):
            outcome = t.get("status", "")
            if t.get("reason"):
                outcome += " (%s)" % t["reason"]
            finished = t.get("finished_at") or t.get("triggered_at") or 0
            # The runtime's times are microseconds.
            lines.append("  #%-12s %-18s %-28s %s" % (t.get("id"), t.get("app", ""), outcome,
                                                      age(now_ms, finished // 1000 if finished else 0)))
        state = get(gw + "/api/v1/app-state", gw_token).get("state", {})
        lines.append("app state: " + json.dumps(state, separators=(",", ":"))[:100])
        sync = get(gw + "/api/v1/sync", gw_token)
        lines.append("")
        if "_error" in sync or not sync.get("enabled", False):
            lines.append("sync:      not configured" if "_error" not in sync else "sync:      (%s)" % sync["_error"])
        else:
            outbox = sync.get("outbox", {})
            lines.append("sync:      %s, outbox %s (oldest %s ms), applied through %s, last success %s, conflicts %s" % (
                "connected" if sync.get("connected") else "OFFLINE", outbox.get("depth"), outbox.get("oldest_age_ms"),
                sync.get("applied_through"), age(now_ms, sync.get("last_success_ms")), sync.get("conflicts_resolved")))

    cloud_token = token_of(env.get("CLOUD_TOKEN_FILE", ""))
    for url in [u for u in env.get("CLOUD_URLS", "").split(",") if u]:
        cluster = get(url + "/api/v1/cluster", cloud_token, timeout=0.5)
        if "_error" in cluster:
            continue
        lines.append("cloud:     leader member %s, term %s, commit %s (asked %s)" % (
            cluster.get("leader"), cluster.get("term"), cluster.get("commit_index", cluster.get("commit")), url))
        break
    else:
        if env.get("CLOUD_URLS"):
            lines.append("cloud:     no member answers")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the home's data folder (holds home.env)")
    parser.add_argument("--interval", type=float, default=1.0, help="refresh period in seconds")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    args = parser.parse_args()
    env_file = os.path.join(args.data, "home.env")
    if not os.path.exists(env_file):
        sys.exit("home.sh status --watch: no %s; is the home up?" % env_file)
    env = read_env(env_file)
    if args.once:
        print(frame(env, args.data))
        return
    try:
        while True:
            text = frame(env, args.data)
            sys.stdout.write("\033[H\033[2J" + text + "\n\n(Ctrl-C to stop)\n")
            sys.stdout.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        print()


if __name__ == "__main__":
    main()
