#!/usr/bin/env python3
"""Prints a TCP port that is free on 127.0.0.1, chosen below the kernel's ephemeral range.

A port from bind(port 0) comes from the ephemeral range, the same pool the kernel draws the
local ports of outgoing connections from: any client socket on the machine (another test,
another home) can take it between this check and the daemon's bind. Below the range only a
listener can, and the random choice makes two concurrent picks unlikely to meet.
Used by deploy/home.sh and the e2e tests (tests/support/process.cpp does the same in C++,
plus a per-port lock among parallel tests).
"""
import random
import socket
import sys


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    low, high = ephemeral_range()
    lo, hi = 10000, low - 1
    if hi - lo < 2000:
        lo, hi = high + 1, 65535
    for _ in range(1000):
        port = random.randint(lo, hi)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    sys.exit(f"free_port: no free port in {lo}-{hi}")


if __name__ == "__main__":
    print(free_port())
