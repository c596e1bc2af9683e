#!/usr/bin/env python3
"""Footprint report for a Raspberry Pi class gateway (issue 9, item 5).

Measures, and prints as tables beside the targets:
  * stripped sizes of gatewayd, homectl, firmware-sim and cloudd for x86-64 and aarch64;
  * gatewayd startup time: from exec until GET /api/v1/ping answers (first start creates the
    database and the admin token; later starts open them), and until the broker link is up;
  * gatewayd RSS and CPU at idle (broker up, no device running) and with the default home
    (deploy/homes/default.json run by the real firmware-sim, every device online);
  * optionally the aarch64 gatewayd's startup under qemu-aarch64 (emulated, so only a
    sanity check that the cross build serves, not a Pi number).

The broker runs deploy/pi/mosquitto.conf (the sample the Pi install uses) with only its
paths and listener rewritten for a temporary directory and a free loopback port.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BINARIES = [("gatewayd", "gateway/gatewayd"), ("homectl", "gateway/homectl"),
            ("firmware-sim", "firmware-sim/firmware-sim"), ("cloudd", "cloud/cloudd/cloudd")]
RSS_TARGET_MB = 16.0
STARTUP_TARGET_MS = 1000.0
IDLE_CPU_TARGET_PERCENT = 1.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s, what, poll_s=0.02):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")


def http_get(port, path, token=None, timeout_s=2.0):
    """(status, body) or None when nothing answers yet."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        result = (response.status, response.read())
        conn.close()
        return result
    except OSError:
        return None


def proc_status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[11], fields[12] are utime and stime (fields 14 and 15 of proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stripped_size(path, strip_tool, scratch):
    if not os.path.isfile(path):
        return None
    copy = os.path.join(scratch, "strip-" + os.path.basename(path))
    shutil.copyfile(path, copy)
    subprocess.run([strip_tool, copy], check=True)
    size = os.path.getsize(copy)
    os.unlink(copy)
    return size


class Home:
    """A broker, the default home's credentials and a gateway config in a temporary folder."""

    def __init__(self, root, build, home_file, scratch):
        self.root, self.build, self.home_file, self.dir = root, build, home_file, scratch
        self.processes = []
        self.mqtt_port = free_port()
        self.http_port = free_port()
        self.logs = os.path.join(scratch, "logs")
        os.makedirs(self.logs, exist_ok=True)

    def binary(self, relative):
        path = os.path.join(self.build, relative)
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is not built (build gatewayd, firmware-sim: see run.sh --help)")
        return path

    def spawn(self, name, argv):
        log = open(os.path.join(self.logs, name + ".log"), "ab")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def log_tail(self, name, lines=20):
        try:
            with open(os.path.join(self.logs, name + ".log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def start_broker(self):
        auth = os.path.join(self.dir, "auth")
        self.credentials = os.path.join(self.dir, "devices.json")
        subprocess.run([self.binary("firmware-sim/firmware-sim"), "--home", self.home_file, "--credentials",
                        self.credentials, "--generate-credentials", "--write-broker-auth", auth],
                       check=True, stdout=subprocess.DEVNULL)
        self.gateway_password_file = os.path.join(self.dir, "mqtt-gateway")
        gateway_password = os.urandom(18).hex()
        with open(os.open(self.gateway_password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(gateway_password + "\n")
        passwd = os.path.join(auth, "passwd")
        with open(passwd, "a") as f:
            f.write(f"gateway:{gateway_password}\n")
        subprocess.run(["mosquitto_passwd", "-U", passwd], check=True)
        acl = os.path.join(auth, "acl")
        with open(acl, "a") as f:
            f.write("\nuser gateway\ntopic readwrite homestead/#\ntopic readwrite homeassistant/#\ntopic read $SYS/#\n")
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(os.path.join(self.root, "deploy/pi/mosquitto.conf")) as f:
            sample = f.read().splitlines()
        replacements = {"listener": f"listener {self.mqtt_port} 127.0.0.1", "password_file": f"password_file {passwd}",
                        "acl_file": f"acl_file {acl}", "pid_file": f"pid_file {self.dir}/mosquitto.pid",
                        "persistence_location": f"persistence_location {self.dir}/"}
        with open(conf, "w") as f:
            for line in sample:
                key = line.split(" ", 1)[0]
                f.write(replacements.get(key, line) + "\n")
            if os.geteuid() == 0:
                f.write("user root\n")  # else Mosquitto switches to 'mosquitto' and cannot read our 0600 files
        self.broker = self.spawn("mosquitto", ["mosquitto", "-c", conf])

        def broker_listening():
            try:
                socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=0.5).close()
                return True
            except OSError:
                return False
        try:
            wait_for(broker_listening, 10, "mosquitto to listen")
        except RuntimeError:
            raise RuntimeError("mosquitto did not start:\n" + self.log_tail("mosquitto"))

    def write_gateway_config(self):
        self.gateway_data = os.path.join(self.dir, "gateway")
        self.gateway_config = os.path.join(self.dir, "gateway.json")
        # The Pi sample config with this machine's paths and ports.
        with open(os.path.join(self.root, "deploy/pi/gateway.json")) as f:
            config = json.load(f)
        config["home_file"] = self.home_file
        config["data_dir"] = self.gateway_data
        config["mqtt"]["uri"] = f"tcp://127.0.0.1:{self.mqtt_port}"
        config["mqtt"]["password_file"] = self.gateway_password_file
        config["http"]["port"] = self.http_port
        config["log_level"] = "warn"
        with open(self.gateway_config, "w") as f:
            json.dump(config, f)

    def token(self):
        with open(os.path.join(self.gateway_data, "admin.token")) as f:
            return f.read().strip()

    def health(self):
        answer = http_get(self.http_port, "/api/v1/health", self.token())
        return json.loads(answer[1]) if answer and answer[0] == 200 else None

    def start_gateway(self, prefix=(), name="gatewayd"):
        """Starts gatewayd; returns (process, ms until /ping answers, ms until broker connected)."""
        started = time.monotonic()
        process = self.spawn(name, list(prefix) + [self.binary("gateway/gatewayd"), "--config", self.gateway_config])

        def pinged():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n" + self.log_tail(name))
            answer = http_get(self.http_port, "/api/v1/ping", timeout_s=0.5)
            return answer is not None and answer[0] == 200
        wait_for(pinged, 60, f"{name} /api/v1/ping", poll_s=0.002)
        serving_ms = (time.monotonic() - started) * 1000
        wait_for(lambda: (self.health() or {}).get("broker", {}).get("connected"), 60, f"{name} broker link",
                 poll_s=0.005)
        connected_ms = (time.monotonic() - started) * 1000
        return process, serving_ms, connected_ms

    def stop(self, process, timeout_s=20):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self.processes:
            self.processes.remove(process)

    def close(self):
        for process in reversed(list(self.processes)):
            self.stop(process, 10)


def measure_window(pid, seconds):
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # the measurement window itself
    cpu_percent = (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100
    return {"rss_mb": proc_status_kb(pid, "VmRSS") / 1024, "peak_rss_mb": proc_status_kb(pid, "VmHWM") / 1024,
            "cpu_percent": cpu_percent}


def fmt_size(size):
    return "not built" if size is None else f"{size / 1048576:.2f} MB"


def verdict(ok):
    return "ok" if ok else "MISSED"


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.environ.get("HOMESTEAD_BUILD_DIR", os.path.join(root, "build/release")),
                        help="x86-64 build directory (default $HOMESTEAD_BUILD_DIR or build/release)")
    parser.add_argument("--aarch64-build", default=os.environ.get("HOMESTEAD_AARCH64_BUILD_DIR",
                                                                  os.path.join(root, "build/aarch64")),
                        help="aarch64 build directory (default $HOMESTEAD_AARCH64_BUILD_DIR or build/aarch64)")
    parser.add_argument("--home", default=os.path.join(root, "deploy/homes/default.json"))
    parser.add_argument("--window", type=float, default=10.0, help="seconds per idle/home measurement window")
    parser.add_argument("--starts", type=int, default=5, help="gatewayd starts to time (the first is cold)")
    parser.add_argument("--quick", action="store_true", help="3 s windows, 3 starts")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--no-cross", action="store_true",
                        help="(run.sh) do not build the aarch64 binaries first; use what is in --aarch64-build")
    args = parser.parse_args()
    if args.quick:
        args.window, args.starts = 3.0, 3
    results = {"sizes": {}, "build": args.build, "aarch64_build": args.aarch64_build}

    scratch = tempfile.mkdtemp(prefix="homestead-footprint-")
    home = Home(root, args.build, args.home, scratch)
    try:
        # --- binary sizes ---
        for name, relative in BINARIES:
            results["sizes"][name] = {
                "x86_64": stripped_size(os.path.join(args.build, relative), "strip", scratch),
                "aarch64": stripped_size(os.path.join(args.aarch64_build, relative), "aarch64-linux-gnu-strip", scratch)
                if shutil.which("aarch64-linux-gnu-strip") else None}

        # --- startup time to serving ---
        home.start_broker()
        home.write_gateway_config()
        starts = []
        for _ in range(max(args.starts, 2)):
            process, serving_ms, connected_ms = home.start_gateway()
            starts.append((serving_ms, connected_ms))
            home.stop(process)
        cold, warm = starts[0], starts[1:]
        results["startup"] = {"cold_serving_ms": cold[0], "cold_connected_ms": cold[1],
                              "warm_serving_ms_median": statistics.median(s[0] for s in warm),
                              "warm_serving_ms_max": max(s[0] for s in warm),
                              "warm_connected_ms_median": statistics.median(s[1] for s in warm)}

        # --- aarch64 gatewayd under qemu (a sanity check of the cross build, not a Pi number) ---
        aarch64_gatewayd = os.path.join(args.aarch64_build, "gateway/gatewayd")
        if os.access(aarch64_gatewayd, os.X_OK) and shutil.which("qemu-aarch64"):
            saved_build, home.build = home.build, args.aarch64_build
            try:
                process, serving_ms, connected_ms = home.start_gateway(("qemu-aarch64", "-L", "/"), "gatewayd-aarch64")
                results["qemu_aarch64"] = {"serving_ms": serving_ms, "connected_ms": connected_ms}
                home.stop(process)
            finally:
                home.build = saved_build

        # --- RSS and CPU: idle, then the default home ---
        gateway, _, _ = home.start_gateway()
        time.sleep(1)  # let start-up work (database open, first $SYS messages) pass before the idle window
        results["idle"] = measure_window(gateway.pid, args.window)
        devices = len(json.load(open(args.home))["devices"])
        firmware = home.spawn("firmware-sim", [home.binary("firmware-sim/firmware-sim"), "--home", args.home,
                                               "--broker", f"127.0.0.1:{home.mqtt_port}", "--credentials",
                                               home.credentials, "--summary-interval-ms", "0"])
        try:
            wait_for(lambda: (home.health() or {}).get("devices", {}).get("online") == devices, 60,
                     f"all {devices} devices online in the gateway", poll_s=0.1)
        except RuntimeError:
            raise RuntimeError("devices did not come online:\n" + home.log_tail("firmware-sim") + home.log_tail("gatewayd"))
        time.sleep(1)  # the burst of first reports and discovery is start-up, not steady state
        results["home"] = measure_window(gateway.pid, args.window)
        results["home"]["devices_online"] = (home.health() or {}).get("devices", {}).get("online")
        results["home"]["firmware_sim_rss_mb"] = proc_status_kb(firmware.pid, "VmRSS") / 1024
        results["home"]["mosquitto_rss_mb"] = proc_status_kb(home.broker.pid, "VmRSS") / 1024
    finally:
        home.close()
        if os.environ.get("HOMESTEAD_KEEP_TMP") == "1":
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    report(results, devices, args.window)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


def report(r, devices, window):
    print("Stripped binary sizes (dynamically linked against Debian's Paho, cpp-httplib, SQLite, OpenSSL):")
    print("| binary | x86-64 | aarch64 |")
    print("|---|---|---|")
    for name, sizes in r["sizes"].items():
        print(f"| {name} | {fmt_size(sizes['x86_64'])} | {fmt_size(sizes['aarch64'])} |")
    s = r["startup"]
    print()
    print(f"gatewayd footprint (x86-64 build {r['build']}; {window:g} s windows; default home = {devices} devices "
          "run by firmware-sim):")
    print("| what | measured | target | |")
    print("|---|---|---|---|")
    print(f"| startup to serving (exec -> /ping answers), first start | {s['cold_serving_ms']:.0f} ms | < 1000 ms | "
          f"{verdict(s['cold_serving_ms'] < STARTUP_TARGET_MS)} |")
    print(f"| startup to serving, later starts (median / max) | {s['warm_serving_ms_median']:.0f} / "
          f"{s['warm_serving_ms_max']:.0f} ms | < 1000 ms | {verdict(s['warm_serving_ms_max'] < STARTUP_TARGET_MS)} |")
    print(f"| exec -> broker link up (first / later median) | {s['cold_connected_ms']:.0f} / "
          f"{s['warm_connected_ms_median']:.0f} ms | | |")
    for label, key in (("idle (broker up, no devices running)", "idle"), (f"default home ({devices} devices online)", "home")):
        m = r[key]
        rss_ok = m["rss_mb"] < RSS_TARGET_MB
        print(f"| RSS, {label} | {m['rss_mb']:.1f} MB (peak {m['peak_rss_mb']:.1f}) | < 16 MB | {verdict(rss_ok)} |")
        print(f"| CPU, {label} | {m['cpu_percent']:.2f}% of a core | < 1% | "
              f"{verdict(m['cpu_percent'] < IDLE_CPU_TARGET_PERCENT)} |")
    print(f"| beside it: firmware-sim / mosquitto RSS | {r['home']['firmware_sim_rss_mb']:.1f} / "
          f"{r['home']['mosquitto_rss_mb']:.1f} MB | | |")
    if "qemu_aarch64" in r:
        q = r["qemu_aarch64"]
        print(f"| aarch64 gatewayd under qemu-aarch64 (emulated, not a Pi): to serving / broker link | "
              f"{q['serving_ms']:.0f} / {q['connected_ms']:.0f} ms | | |")
    else:
        print(f"| aarch64 gatewayd under qemu | not run ({r['aarch64_build']}/gateway/gatewayd not built) | | |")
    print("footprint-json " + json.dumps(r, separators=(",", ":")))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.CalledProcessError) as e:
        print(f"footprint: {e}", file=sys.stderr)
        sys.exit(1)
