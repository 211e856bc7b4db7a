"""Shared by the harness modules: where things are, the names and addresses
of the test world, and the small waits and process checks everything uses."""

from __future__ import annotations

import os
import random
import socket
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.environ.get("MM_REPO_ROOT") or os.path.dirname(os.path.dirname(HERE))
DOMAIN = "marketplace.example"
# What the test client says in EHLO and where it connects from: Postfix's own
# Received header names both ("from HELO (unknown [IP])"), and neither may be
# delivered.  The HELO name is used nowhere else (make_message's Message-IDs
# use client.test), so finding it in a delivered message means a leak.
SENDER_HELO = "sender-host.client.example"
SENDER_IP = "127.0.0.1"
HEADER_CHECKS = os.path.join(REPO_ROOT, "etc", "postfix", "marketplace_header_checks")
EXTERNAL_DOMAINS = ("gmail.example", "acme.example")

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
SMTP_SINK = "/usr/sbin/smtp-sink"
SINK_USER = "postfix"

# Queue subdirectories that hold mail still on its way to the sink.
IN_FLIGHT_QUEUES = ("maildrop", "incoming", "active", "deferred")

DEFAULT_WAIT = 30.0


class HarnessError(AssertionError):
    """Something in the test world did not come up or behave; carries logs."""


def default_binary() -> str:
    return os.environ.get("MM_BINARY") or os.path.join(
        REPO_ROOT, "build", "milter", "marketplace-milter")


# --------------------------------------------------------------------------
# small utilities


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05, on_timeout=None):
    """Polls predicate() until it returns a truthy value; returns that value.
    On timeout raises HarnessError naming `what`, plus on_timeout()'s text."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = ""
            if on_timeout is not None:
                try:
                    extra = "\n" + on_timeout()
                except Exception as e:  # diagnostics must not hide the timeout
                    extra = f"\n(diagnostics failed: {e!r})"
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


_taken_ports: set[int] = set()


def free_port() -> int:
    """A port that is free now, chosen at random below the ephemeral range
    (so it cannot collide with the local port of an outgoing connection)."""
    lo, _ = _ephemeral_range()
    top = max(lo - 1, 20000)
    for _ in range(200):
        port = random.randint(20000, top) if top > 20000 else random.randint(40000, 60000)
        if port in _taken_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken_ports.add(port)
        return port
    raise HarnessError("no free port found")


def tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"({path}: {e.strerror})"
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def pid_alive(pid: int) -> bool:
    """True if pid runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True
