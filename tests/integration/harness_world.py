"""The Harness: one private Postfix + smtp-sink + milter world in a temp
directory (see mmharness's docstring), its paths and its lifecycle, and the
clean-up of what harnesses left behind (at exit, on a signal, or after a
killed run).  Postfix and the milter are in harness_postfix and
harness_milter."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from typing import Iterable, Optional

from harness_common import (POSTFIX, POSTQUEUE, REPO_ROOT, SMTP_SINK, HarnessError,
                            default_binary, free_port, pid_alive, port_accepts)
from harness_mail import SendResult, client_trace_patterns, privacy_violations, smtp_send
from harness_milter import MilterMixin
from harness_postfix import PostfixMixin

_live_harnesses: list = []


def _stop_all_at_exit():
    for h in list(_live_harnesses):
        try:
            h.stop()
        except Exception as e:
            print(f"mmharness: stop at exit failed: {e!r}", file=sys.stderr)


atexit.register(_stop_all_at_exit)


def _on_term(signum, frame):
    _stop_all_at_exit()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_signal_handlers():
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(sig, _on_term)
        except ValueError:  # not the main thread
            pass


class Harness(PostfixMixin, MilterMixin):
    """A private Postfix + smtp-sink + milter world in one directory.

    Usage:
        h = Harness("core").start()
        pair = h.provision(Party("bob", "buyer", "bob@gmail.example", "Bob Buyer"),
                           Party("acme", "seller", "support@acme.example", "Acme Store"))
        r = h.send("support@acme.example", [pair["buyer_alias"]], msg)
        [d] = h.wait_delivered(1)
        h.stop()
    """

    def __init__(self, name: str = "it", *, binary: Optional[str] = None,
                 repo_root: str = REPO_ROOT, workdir: Optional[str] = None,
                 with_milter: bool = True, config: Optional[dict] = None,
                 policy: Optional[dict] = None, hide_client_received: bool = True,
                 keep: Optional[bool] = None, verbose: bool = False,
                 milter_socket: str = "inet", sasl_users: Optional[dict] = None):
        """config: milter config overrides; policy: {"dotted.key": value}
        overrides for the copy of etc/policy.yaml (set_policy_values);
        hide_client_received=False runs the smtpd without
        marketplace_header_checks (only to prove that the privacy checker
        catches Postfix's own Received header); milter_socket: "inet"
        (TCP loopback) or "unix" (a socket in the milter's directory);
        sasl_users: {login: password} that smtpd accepts for SMTP AUTH (Cyrus
        SASL, a sasldb of the instance's own), which Postfix hands the milter
        as {auth_authen}; without it smtpd offers no AUTH."""
        if milter_socket not in ("inet", "unix"):
            raise ValueError(f"milter_socket must be inet or unix, not {milter_socket!r}")
        self.milter_socket = milter_socket
        self.name = name
        self.binary = binary or default_binary()
        self.repo_root = repo_root
        self.with_milter = with_milter
        self.config_overrides = dict(config or {})
        self.policy_overrides = dict(policy or {})
        self.sasl_users = dict(sasl_users or {})
        self.hide_client_received = hide_client_received
        self.keep = bool(os.environ.get("MM_KEEP_TMP")) if keep is None else keep
        self.verbose = verbose
        self._own_dir = workdir is None
        self.dir = workdir
        self.parties: dict = {}
        self.extra_real_addresses: set = set()
        self.pairs: list = []
        self._consumed: set = set()
        self._milter: Optional[subprocess.Popen] = None
        self._milter_log = None
        self._milter_starts = 0
        self._sink: Optional[subprocess.Popen] = None
        self._postfix_started = False
        self._master_pid: Optional[int] = None
        self._stopped = False

    # ---- paths ------------------------------------------------------------
    def p(self, *parts) -> str:
        return os.path.join(self.dir, *parts)

    @property
    def conf_dir(self) -> str:
        return self.p("postfix")

    @property
    def queue_dir(self) -> str:
        return self.p("queue")

    @property
    def dump_dir(self) -> str:
        return self.p("dump")

    @property
    def maillog(self) -> str:
        return self.p("maillog")

    @property
    def milter_config(self) -> str:
        return self.p("milter", "marketplace-milter.yaml")

    @property
    def audit_log(self) -> str:
        return self.p("milter", "audit.log")

    @property
    def store_path(self) -> str:
        return self.p("milter", "store.db")

    @property
    def milter_socket_path(self) -> str:
        return self.p("milter", "milter.sock")

    @property
    def postfix_milter(self) -> str:
        """The milter as Postfix's smtpd_milters names it."""
        if self.milter_socket == "unix":
            return f"unix:{self.milter_socket_path}"
        return f"inet:127.0.0.1:{self.milter_port}"

    def milter_accepts(self) -> bool:
        if self.milter_socket == "inet":
            return port_accepts(self.milter_port)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(self.milter_socket_path)
            return True
        except OSError:
            return False

    @property
    def milter_stderr(self) -> str:
        return self.p("milter", "milter.stderr")

    # ---- lifecycle --------------------------------------------------------
    def start(self) -> "Harness":
        if os.geteuid() != 0:
            raise HarnessError("the integration harness must run as root (Postfix master)")
        for tool in (POSTFIX, POSTQUEUE, SMTP_SINK):
            if not os.access(tool, os.X_OK):
                raise HarnessError(f"{tool} missing: run scripts/bootstrap")
        if self.with_milter and not os.access(self.binary, os.X_OK):
            raise HarnessError(f"milter binary {self.binary} missing: build first")
        _install_signal_handlers()
        reap_stale_harnesses()
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix=f"mm-it-{self.name}-",
                                        dir=os.environ.get("MM_TMPDIR"))
        else:
            self.dir = os.path.abspath(self.dir)
            if os.path.exists(self.dir):
                reap_dir(self.dir)
                shutil.rmtree(self.dir)
            os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)  # smtp-sink runs as postfix and writes below
        with open(self.p("owner.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        _live_harnesses.append(self)
        self.smtpd_port = free_port()
        self.sink_port = free_port()
        self.milter_port = free_port()
        try:
            self._start_sink()
            if self.with_milter:
                self._write_milter_files()
                if self.milter_settings()["store"].get("type") == "postgres":
                    self.cli("migrate")  # as an operator does: the daemon never migrates
                self.start_milter()
            elif os.access(self.binary, os.X_OK) and os.path.exists(
                    os.path.join(self.repo_root, "etc", "policy.yaml")):
                self._write_milter_files()  # the CLI works without the daemon
            self._start_postfix()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stops everything this harness started; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        errors = []
        if self._postfix_started:
            try:
                self._stop_postfix()
            except Exception as e:
                errors.append(f"postfix: {e}")
        try:
            self.kill_milter(sig=signal.SIGTERM)
        except Exception as e:
            errors.append(f"milter: {e}")
        if self._sink is not None and self._sink.poll() is None:
            self._sink.terminate()
            try:
                self._sink.wait(10)
            except subprocess.TimeoutExpired:
                self._sink.kill()
                self._sink.wait(10)
        if self in _live_harnesses:
            _live_harnesses.remove(self)
        if self.dir and self._own_dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir:
            try:
                os.unlink(self.p("owner.pid"))
            except OSError:
                pass
        if errors:
            raise HarnessError("; ".join(errors))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- sending ---------------------------------------------------------------
    def send(self, mail_from: str, rcpts: Iterable[str] | str, message: bytes | str,
             timeout: float = 120.0, auth: Optional[tuple] = None) -> SendResult:
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        result = smtp_send(self.smtpd_port, mail_from, rcpts,
                           message if isinstance(message, bytes) else message.encode(),
                           timeout=timeout, auth=auth)
        if self.verbose:
            print(f"send: {result}", file=sys.stderr)
        return result

    # ---- privacy ------------------------------------------------------------------
    def real_addresses(self) -> set:
        out = set(self.extra_real_addresses)
        for party in self.parties.values():
            out |= party.real_addresses
        return out

    def privacy_violations(self) -> list:
        return privacy_violations(self.all_deliveries(), self.real_addresses(),
                                  client_trace_patterns())

    # ---- misc -----------------------------------------------------------------------
    def _write_pid(self, name: str, pid: int):
        with open(self.p(name), "w") as f:
            f.write(f"{pid}\n")


# --------------------------------------------------------------------------
# leftovers of a harness whose process was killed (e.g. a ctest timeout)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def reap_dir(d: str):
    """Stops what a dead harness left running in directory d: only the pids
    it recorded, and only if they still run the program it started."""
    conf = os.path.join(d, "postfix")
    master_pid_file = os.path.join(d, "queue", "pid", "master.pid")
    try:
        with open(master_pid_file) as f:
            mpid = int(f.read().strip())
        if "master" in _cmdline(mpid):
            subprocess.run([POSTFIX, "-c", conf, "stop"], capture_output=True, timeout=60)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    for name, expect in (("milter.pid", "marketplace-milter"), ("sink.pid", "smtp-sink")):
        try:
            with open(os.path.join(d, name)) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if expect in _cmdline(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def reap_stale_harnesses():
    parent = os.environ.get("MM_TMPDIR") or tempfile.gettempdir()
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for n in names:
        d = os.path.join(parent, n)
        if not n.startswith("mm-it-") or not os.path.isdir(d):
            continue
        try:
            with open(os.path.join(d, "owner.pid")) as f:
                owner = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if pid_alive(owner):
            continue
        reap_dir(d)
        shutil.rmtree(d, ignore_errors=True)
