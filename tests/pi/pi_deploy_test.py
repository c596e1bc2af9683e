#!/usr/bin/env python3
"""e2e test of the Raspberry Pi deployment files (deploy/systemd/, deploy/pi/).

  * every unit passes `systemd-analyze verify` without a single warning (unknown keys and
    bad values are only warnings there, so any output fails) and scores at most 2.0 on
    `systemd-analyze security --offline` (systemd's "OK" band); when systemd-analyze is not
    installed these two are reported as not checked and the key checks below still run;
  * every unit has the required hardening keys with the required values;
  * the sample configs agree with the units: credential paths name the unit's LoadCredential
    entries, data and pid paths lie in the unit's State/RuntimeDirectory;
  * deploy/pi/gateway.json passes `gatewayd --check-config` (paths moved to a temp folder),
    and a misspelt field in it fails, naming the field;
  * deploy/pi/cloudd.json (addresses moved to loopback) starts a real cloudd that serves /ping;
  * deploy/pi/mosquitto.conf (paths and listener moved) starts a real Mosquitto that admits
    the gateway user with its password and refuses an anonymous client.

Usage: pi_deploy_test.py --gatewayd PATH --cloudd PATH [--run-prefix "qemu-aarch64 -L /"] [unittest args]
"""
import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEMD = os.path.join(ROOT, "deploy/systemd")
PI = os.path.join(ROOT, "deploy/pi")
UNITS = ["gatewayd.service", "cloudd@.service", "homestead-mosquitto.service"]
OPTIONS = argparse.Namespace(gatewayd=None, cloudd=None, run_prefix="")

# key -> required value (None: present with a non-empty value)
REQUIRED_HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes", "UMask": "0077",
    "Restart": "on-failure", "StateDirectory": None, "User": None,
}


def unit_entries(name):
    """[(section, key, value)] of a unit file, in order (repeated keys kept)."""
    entries, section = [], None
    with open(os.path.join(SYSTEMD, name)) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(name, key):
    return [v for s, k, v in unit_entries(name) if k == key]


def credential_path(unit_instance, name):
    return f"/run/credentials/{unit_instance}/{name}"


def free_port():
    # Below the kernel's ephemeral range, so no client socket takes it first (deploy/lib/free_port.py).
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "lib", "free_port.py")
    return int(subprocess.run([sys.executable, helper], check=True, capture_output=True, text=True).stdout)


def wait_until(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class UnitHardening(unittest.TestCase):
    def test_required_keys(self):
        for unit in UNITS:
            for key, wanted in REQUIRED_HARDENING.items():
                values = unit_values(unit, key)
                with self.subTest(unit=unit, key=key):
                    self.assertTrue(values, f"{unit}: {key}= missing")
                    if wanted is None:
                        self.assertNotEqual(values[-1], "", f"{unit}: {key}= is empty")
                    else:
                        self.assertEqual(values[-1], wanted, f"{unit}: {key}=")
            with self.subTest(unit=unit, key="User"):
                self.assertNotIn(unit_values(unit, "User")[-1], ("root", "0"), f"{unit} must not run as root")

    def test_units_install_into_multi_user(self):
        for unit in UNITS:
            self.assertEqual(unit_values(unit, "WantedBy"), ["multi-user.target"], unit)

    def test_sysusers_creates_the_service_user(self):
        with open(os.path.join(SYSTEMD, "homestead.sysusers.conf")) as f:
            lines = [l.split() for l in f if l.strip() and not l.startswith("#")]
        self.assertIn(["u", "homestead", "-"], [l[:3] for l in lines])
        self.assertEqual(unit_values("gatewayd.service", "User"), ["homestead"])
        self.assertEqual(unit_values("cloudd@.service", "User"), ["homestead"])


@unittest.skipIf(shutil.which("systemd-analyze") is None, "systemd-analyze not installed: key checks only")
class SystemdAnalyze(unittest.TestCase):
    def setUp(self):
        # verify insists the ExecStart binaries exist: point them at stand-ins in a temp dir.
        self.dir = tempfile.mkdtemp(prefix="pi-units-")
        os.makedirs(os.path.join(self.dir, "bin"))
        for binary in ("gatewayd", "cloudd"):
            path = os.path.join(self.dir, "bin", binary)
            with open(path, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(path, 0o755)
        for unit in UNITS:
            with open(os.path.join(SYSTEMD, unit)) as f:
                text = f.read().replace("/usr/local/bin/", os.path.join(self.dir, "bin") + "/")
            # A template is verified as an instance (cloudd@1.service).
            with open(os.path.join(self.dir, unit.replace("@.", "@1.")), "w") as f:
                f.write(text)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def instances(self):
        return [u.replace("@.", "@1.") for u in UNITS]

    def test_verify_is_clean(self):
        for unit in self.instances():
            run = subprocess.run(["systemd-analyze", "verify", "--man=no", "./" + unit], cwd=self.dir,
                                 capture_output=True, text=True)
            with self.subTest(unit=unit):
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assertEqual((run.stdout + run.stderr).strip(), "", "warnings from systemd-analyze verify")

    def test_verify_catches_a_misspelt_key(self):
        # Proves the check above can fail: a typo is reported (as a warning).
        path = os.path.join(self.dir, "typo.service")
        with open(os.path.join(self.dir, "gatewayd.service")) as f:
            text = f.read().replace("NoNewPrivileges=", "NoNewPrivilege=")
        with open(path, "w") as f:
            f.write(text)
        run = subprocess.run(["systemd-analyze", "verify", "--man=no", "./typo.service"], cwd=self.dir,
                             capture_output=True, text=True)
        self.assertIn("Unknown key 'NoNewPrivilege'", run.stdout + run.stderr)

    def test_security_exposure_is_ok(self):
        for unit in self.instances():
            run = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", "./" + unit],
                                 cwd=self.dir, capture_output=True, text=True)
            match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", run.stdout)
            with self.subTest(unit=unit):
                self.assertIsNotNone(match, run.stdout[-2000:] + run.stderr)
                self.assertLessEqual(float(match.group(1)), 2.0, f"{unit} exposure")


class SampleConfigsMatchUnits(unittest.TestCase):
    def load(self, name):
        with open(os.path.join(PI, name)) as f:
            return json.load(f)

    def credentials(self, unit):
        return {v.split(":", 1)[0] for v in unit_values(unit, "LoadCredential")}

    def test_gateway_config_uses_the_units_paths(self):
        config = self.load("gateway.json")
        self.assertEqual(config["data_dir"], "/var/lib/" + unit_values("gatewayd.service", "StateDirectory")[0])
        names = self.credentials("gatewayd.service")
        self.assertIn(config["mqtt"]["password_file"], [credential_path("gatewayd.service", n) for n in names])
        self.assertEqual(config["http"]["bind"], "127.0.0.1", "admin API stays on loopback by default")
        exec_start = unit_values("gatewayd.service", "ExecStart")[0]
        self.assertIn("--config /etc/homestead/gateway.json", exec_start)

    def test_cloudd_config_uses_the_units_paths(self):
        config = self.load("cloudd.json")
        instance = f"cloudd@{config['id']}.service"
        state = unit_values("cloudd@.service", "StateDirectory")[0].replace("%i", str(config["id"]))
        self.assertEqual(config["data_dir"], "/var/lib/" + state)
        names = self.credentials("cloudd@.service")
        self.assertEqual({config["token_file"], config["cluster_secret_file"]},
                         {credential_path(instance, n) for n in names})
        self.assertIn(config["id"], [m["id"] for m in config["members"]])

    def test_mosquitto_config_is_secure_and_fits_the_unit(self):
        settings = {}
        with open(os.path.join(PI, "mosquitto.conf")) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    key, _, value = line.strip().partition(" ")
                    settings.setdefault(key, value)
        unit = "homestead-mosquitto.service"
        self.assertEqual(settings["allow_anonymous"], "false")
        self.assertEqual(settings["set_tcp_nodelay"], "true")
        readable = unit_values(unit, "ReadOnlyPaths")[0]
        for key in ("password_file", "acl_file"):
            self.assertTrue(settings[key].startswith(readable + "/"), f"{key} outside {readable}")
        self.assertTrue(settings["pid_file"].startswith("/run/" + unit_values(unit, "RuntimeDirectory")[0] + "/"))
        self.assertTrue(settings["persistence_location"].startswith("/var/lib/" + unit_values(unit, "StateDirectory")[0]))
        self.assertEqual(unit_values(unit, "ExecStart"), ["/usr/sbin/mosquitto -c /etc/homestead/mosquitto.conf"])


class SampleConfigsLoad(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pi-configs-")
        self.processes = []

    def tearDown(self):
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def gateway_config(self, **extra):
        with open(os.path.join(PI, "gateway.json")) as f:
            config = json.load(f)
        password = os.path.join(self.dir, "mqtt-password")
        with open(password, "w") as f:
            f.write("not-a-real-password\n")
        config["home_file"] = os.path.join(ROOT, "deploy/homes/default.json")
        config["data_dir"] = os.path.join(self.dir, "data")
        config["mqtt"]["password_file"] = password
        config.update(extra)
        path = os.path.join(self.dir, "gateway.json")
        with open(path, "w") as f:
            json.dump(config, f)
        return path

    def check_config(self, path):
        argv = shlex.split(OPTIONS.run_prefix) + [OPTIONS.gatewayd, "--config", path, "--check-config"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def test_gateway_sample_passes_check_config(self):
        run = self.check_config(self.gateway_config())
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("OK", run.stdout)

    def test_misspelt_gateway_field_is_named(self):
        run = self.check_config(self.gateway_config(stale_after_sec=5))
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("stale_after_sec", run.stdout + run.stderr)

    def test_cloudd_sample_starts_and_serves(self):
        # The sample's fields are accepted: member 1 of the three, moved to loopback ports.
        with open(os.path.join(PI, "cloudd.json")) as f:
            config = json.load(f)
        addresses = {m["id"]: (free_port(), free_port()) for m in config["members"]}
        for m in config["members"]:
            m["http"], m["peer"] = (f"127.0.0.1:{p}" for p in addresses[m["id"]])
        http_port, peer_port = addresses[config["id"]]
        config["http_listen"], config["peer_listen"] = f"127.0.0.1:{http_port}", f"127.0.0.1:{peer_port}"
        config["data_dir"] = os.path.join(self.dir, "cloud")
        for key in ("token_file", "cluster_secret_file"):
            config[key] = os.path.join(self.dir, key)
            with open(os.open(config[key], os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(os.urandom(16).hex() + "\n")
        path = os.path.join(self.dir, "cloudd.json")
        with open(path, "w") as f:
            json.dump(config, f)
        log_path = os.path.join(self.dir, "cloudd.log")
        with open(log_path, "w") as log:
            process = subprocess.Popen(shlex.split(OPTIONS.run_prefix) + [OPTIONS.cloudd, "--config", path], stdout=log,
                                       stderr=subprocess.STDOUT)
        self.processes.append(process)

        def pong():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/ping", timeout=1) as r:
                    return r.status == 200 and r.read() == b"pong\n"
            except OSError:
                return process.poll() is not None  # exited: stop waiting, fail below
        served = wait_until(pong, 30) and process.poll() is None
        with open(log_path) as log:
            self.assertTrue(served, "cloudd did not serve with the sample config:\n" + log.read())

    def test_mosquitto_sample_admits_the_gateway_and_refuses_anonymous(self):
        port = free_port()
        passwd, acl = os.path.join(self.dir, "passwd"), os.path.join(self.dir, "acl")
        password = os.urandom(12).hex()
        with open(os.open(passwd, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"gateway:{password}\n")
        subprocess.run(["mosquitto_passwd", "-U", passwd], check=True)
        shutil.copyfile(os.path.join(PI, "acl.example"), acl)
        os.chmod(acl, 0o600)
        moved = {"listener": f"listener {port} 127.0.0.1", "password_file": f"password_file {passwd}",
                 "acl_file": f"acl_file {acl}", "pid_file": f"pid_file {self.dir}/mosquitto.pid",
                 "persistence_location": f"persistence_location {self.dir}/"}
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(os.path.join(PI, "mosquitto.conf")) as f, open(conf, "w") as out:
            for line in f:
                out.write(moved.get(line.split(" ", 1)[0], line.rstrip("\n")) + "\n")
            if os.geteuid() == 0:
                out.write("user root\n")  # as root Mosquitto would switch to 'mosquitto' and lose our 0600 files
        log_path = os.path.join(self.dir, "mosquitto.log")
        with open(log_path, "w") as log:
            self.processes.append(subprocess.Popen(["mosquitto", "-c", conf], stdout=log, stderr=subprocess.STDOUT))

        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return False
        if not wait_until(listening, 10):
            with open(log_path) as log:
                self.fail("mosquitto did not start with the sample config:\n" + log.read())
        publish = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", "homestead/pi/test/state",
                   "-m", "{}"]
        admitted = subprocess.run(publish + ["-u", "gateway", "-P", password], capture_output=True, text=True, timeout=20)
        self.assertEqual(admitted.returncode, 0, admitted.stderr)
        anonymous = subprocess.run(publish, capture_output=True, text=True, timeout=20)
        self.assertNotEqual(anonymous.returncode, 0, "anonymous client was admitted")
        wrong = subprocess.run(publish + ["-u", "gateway", "-P", password + "x"], capture_output=True, text=True,
                               timeout=20)
        self.assertNotEqual(wrong.returncode, 0, "wrong password was admitted")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gatewayd", required=True, help="the gatewayd binary to run --check-config with")
    parser.add_argument("--cloudd", required=True, help="the cloudd binary to start with the sample config")
    parser.add_argument("--run-prefix", default="", help="emulator prefix for a cross-built gatewayd")
    OPTIONS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
