"""mmharness: end-to-end test harness for marketplace-milter (stdlib only).

One Harness = one private world under a temp dir:

    client --SMTP--> Postfix smtpd (127.0.0.1:P1) --milter--> marketplace-milter (127.0.0.1:P3)
                          |
                          +--smtp--> smtp-sink (127.0.0.1:P2), one dump file per message

* Postfix runs as a private instance (``postfix -c DIR start``) with its own
  main.cf/master.cf, queue_directory, data_directory and maillog_file inside
  the temp dir; the system's /etc/postfix is never read or changed (as root,
  ``postfix -c`` needs no alternate_config_directories).  chroot is off for
  every service (Debian's chroot needs files that only its init script copies).
* smtp-sink dumps every delivered transaction to ``dump/msg.<hex>``
  (``-d``).  The dump is text, LF line endings, dot-unstuffed:
  ``X-Client-Addr``, ``X-Client-Proto``, ``X-Helo-Args``, ``X-Mail-Args:
  <sender> [params]``, one ``X-Rcpt-Args: <rcpt> [ORCPT=...]`` per recipient,
  a three-line ``Received: ... (smtp-sink) ...`` header, then the message as
  received, then one empty line.  parse_dump() turns that into a Delivery.
* The milter runs with a generated config (own store.db, audit.log,
  hmac.key and a copy of the repo's etc/policy.yaml, with the test class's
  policy overrides applied: set_policy_values()).
* The smtpd that clients talk to is the marketplace's smtpd as
  etc/postfix/master.cf.notes describes it: its own cleanup service
  (mkt-cleanup) with etc/postfix/marketplace_header_checks, which takes the
  client's host name and IP out of Postfix's own Received header.  Clients
  say EHLO SENDER_HELO from SENDER_IP; the privacy checker also looks for
  those in every delivered message.

Ports are random free ports outside the kernel's ephemeral range, so several
harnesses (ctest -j2) can run at once.  Every wait polls a condition with a
deadline and fails loudly with the relevant logs; nothing sleeps and hopes.

Environment:
    MM_BINARY     path of marketplace-milter (default: REPO/build/milter/marketplace-milter)
    MM_REPO_ROOT  repository root (default: two levels above this file)
    MM_KEEP_TMP   keep the temp dir after the run (for debugging)
    MM_TMPDIR     parent of the temp dirs (default: the system temp dir)

Must run as root (Postfix's master does).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import dataclasses
import email
import email.policy
import email.utils
import json
import os
import quopri
import random
import itertools
import re
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Iterable, Optional

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


def crlf(data: bytes | str) -> bytes:
    """Normalises line endings to CRLF."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data.replace(b"\n", b"\r\n")


def make_message(*, from_: str, to: str | Iterable[str], subject: str, body: str,
                 headers: Iterable[tuple[str, str]] = (), message_id: Optional[str] = None,
                 date: Optional[str] = None) -> bytes:
    """A simple text/plain message with CRLF line endings."""
    if not isinstance(to, str):
        to = ", ".join(to)
    lines = [f"From: {from_}", f"To: {to}", f"Subject: {subject}",
             f"Date: {date or email.utils.formatdate(localtime=False)}",
             f"Message-ID: {message_id or email.utils.make_msgid(domain='client.test')}",
             "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
             "Content-Transfer-Encoding: 8bit"]
    lines += [f"{k}: {v}" for k, v in headers]
    return crlf("\n".join(lines) + "\n\n" + body.rstrip("\n") + "\n")


_unique = itertools.count(1)


def unique_line() -> str:
    """A sentence no other test message has: the marketplace refuses the same
    text sent twice to one buyer (marketplace.repeat), so tests that are not
    about that rule send a different text each time."""
    return f"(Message {next(_unique)} of this test run.)"


def addr_of(angle: str) -> str:
    """'<a@b> SIZE=1' -> 'a@b'."""
    m = re.match(r"\s*<([^>]*)>", angle)
    if m:
        return m.group(1)
    return angle.split()[0] if angle.split() else ""


# --------------------------------------------------------------------------
# SMTP client side


@dataclasses.dataclass
class SendResult:
    """What the MTA answered at each stage of one transaction.

    Stages that did not happen are None.  Replies are (code, text) with the
    text as Postfix sent it (multi-line replies joined with "\\n")."""
    mail_from: str
    rcpt_list: list
    greeting: Optional[tuple] = None
    ehlo: Optional[tuple] = None
    mail: Optional[tuple] = None
    rcpts: dict = dataclasses.field(default_factory=dict)
    data: Optional[tuple] = None
    error: Optional[str] = None  # connection-level failure

    @property
    def accepted_rcpts(self) -> list:
        return [r for r, (code, _) in self.rcpts.items() if 200 <= code < 300]

    @property
    def queued(self) -> bool:
        """True if the MTA took responsibility (250 after DATA)."""
        return self.data is not None and 200 <= self.data[0] < 300

    def refusal(self, rcpt: Optional[str] = None) -> Optional[tuple]:
        """The first non-2xx reply that stopped `rcpt` (or the message when
        rcpt is None): (stage, code, text), or None if it was queued."""
        for stage, reply in (("connect", self.greeting), ("ehlo", self.ehlo),
                             ("mail", self.mail)):
            if reply is not None and not 200 <= reply[0] < 300:
                return stage, reply[0], reply[1]
        if self.error:
            return "error", 0, self.error
        if rcpt is not None:
            if rcpt not in self.rcpts:
                return "not-sent", 0, "RCPT never sent"
            code, text = self.rcpts[rcpt]
            if not 200 <= code < 300:
                return "rcpt", code, text
        elif self.rcpts and not self.accepted_rcpts:
            first = next(iter(self.rcpts.items()))
            return "rcpt", first[1][0], first[1][1]
        if self.data is not None and not 200 <= self.data[0] < 300:
            return "data", self.data[0], self.data[1]
        if self.data is None:
            return "not-sent", 0, "DATA never sent"
        return None

    def __str__(self) -> str:
        parts = [f"EHLO -> {self.ehlo}"] if self.ehlo and self.ehlo[0] >= 300 else []
        parts.append(f"MAIL FROM:<{self.mail_from}> -> {self.mail}")
        parts += [f"RCPT TO:<{r}> -> {v}" for r, v in self.rcpts.items()]
        parts.append(f"DATA -> {self.data}")
        if self.error:
            parts.append(f"error: {self.error}")
        return "; ".join(parts)


def _reply(code, text) -> tuple:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return int(code), text


def smtp_send(port: int, mail_from: str, rcpts: Iterable[str], message: bytes,
              timeout: float = 120.0, helo: str = SENDER_HELO,
              auth: Optional[tuple] = None) -> SendResult:
    """auth: (login, password) for SMTP AUTH after EHLO; a refused login is
    result.error."""
    rcpts = list(rcpts)
    result = SendResult(mail_from=mail_from, rcpt_list=rcpts)
    try:
        client = smtplib.SMTP(timeout=timeout, local_hostname=helo)
    except OSError as e:
        result.error = f"socket: {e}"
        return result
    try:
        result.greeting = _reply(*client.connect("127.0.0.1", port))
        if not 200 <= result.greeting[0] < 300:
            return result
        result.ehlo = _reply(*client.ehlo())
        if not 200 <= result.ehlo[0] < 300:
            return result
        if auth is not None:
            client.login(*auth)
        result.mail = _reply(*client.mail(mail_from))
        if not 200 <= result.mail[0] < 300:
            return result
        for r in rcpts:
            result.rcpts[r] = _reply(*client.rcpt(r))
        if result.accepted_rcpts:
            try:
                result.data = _reply(*client.data(crlf(message)))
            except smtplib.SMTPDataError as e:
                result.data = _reply(e.smtp_code, e.smtp_error)
        else:
            client.rset()
    except smtplib.SMTPServerDisconnected as e:
        result.error = f"disconnected: {e}"
    except (OSError, smtplib.SMTPException) as e:
        result.error = f"{type(e).__name__}: {e}"
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return result


# --------------------------------------------------------------------------
# what reached the sink


@dataclasses.dataclass
class Delivery:
    """One message as smtp-sink received it."""
    path: str
    mail_from: str          # envelope sender, without <>
    mail_args: str          # the whole MAIL FROM argument line
    rcpts: list             # envelope recipients, without <>
    rcpt_args: list         # the whole RCPT TO argument lines
    raw: bytes              # the message (headers + body), LF line endings
    sink_lines: list        # smtp-sink's own header lines (X-Client-Addr, X-Mail-Args, ...)
    file_bytes: bytes       # the whole dump file

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    def headers(self, name: str) -> list:
        """All values of header `name` (decoded, unfolded), in order."""
        return [str(v) for v in (self.message.get_all(name) or [])]

    def header(self, name: str) -> Optional[str]:
        values = self.headers(name)
        return values[0] if values else None

    def header_names(self) -> list:
        return [k for k, _ in self.message.items()]

    @property
    def from_address(self) -> tuple:
        """(display name, address) of the From: header."""
        return email.utils.parseaddr(self.header("From") or "")

    @property
    def body_text(self) -> str:
        """Decoded text of every text part, joined."""
        out = []
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                try:
                    out.append(part.get_content())
                except (LookupError, ValueError):
                    out.append(part.get_payload(decode=True).decode("utf-8", "replace"))
        return "\n".join(out)

    def summary(self) -> str:
        return (f"{os.path.basename(self.path)}: from=<{self.mail_from}> "
                f"to={['<%s>' % r for r in self.rcpts]} subject={self.header('Subject')!r}")


def parse_dump(path: str) -> Delivery:
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    mail_args, rcpt_args, sink_lines = None, [], []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(b"X-"):
            sink_lines.append(line.decode("utf-8", "replace"))
        if line.startswith(b"X-Mail-Args:"):
            mail_args = line.split(b":", 1)[1].strip().decode("utf-8", "replace")
        elif line.startswith(b"X-Rcpt-Args:"):
            rcpt_args.append(line.split(b":", 1)[1].strip().decode("utf-8", "replace"))
        elif line.startswith(b"Received:") and b"(smtp-sink)" in b"".join(lines[i:i + 3]):
            i += 1
            while i < len(lines) and lines[i][:1] in (b"\t", b" "):
                i += 1
            break
        elif not line.startswith(b"X-"):
            raise HarnessError(f"{path}: unexpected smtp-sink header line {line!r}")
        i += 1
    else:
        raise HarnessError(f"{path}: no smtp-sink Received header (incomplete dump?)")
    if mail_args is None:
        raise HarnessError(f"{path}: no X-Mail-Args line")
    raw = b"\n".join(lines[i:])
    # smtp-sink appends one empty line after the message.
    if raw.endswith(b"\n\n"):
        raw = raw[:-1]
    return Delivery(path=path, mail_from=addr_of(mail_args), mail_args=mail_args,
                    rcpts=[addr_of(a) for a in rcpt_args], rcpt_args=rcpt_args, raw=raw,
                    sink_lines=sink_lines, file_bytes=data)


# --------------------------------------------------------------------------
# the privacy checker


def _decoded_views(d: Delivery) -> list:
    """Texts to search besides the raw bytes: decoded headers and decoded
    bodies of every MIME part (base64 / quoted-printable hide addresses)."""
    views = []
    try:
        msg = d.message
        for part in msg.walk():
            for k, v in part.items():
                views.append(f"{k}: {v}")
            if not part.is_multipart():
                payload = part.get_payload(decode=True)
                if payload:
                    views.append(payload.decode("utf-8", "replace"))
    except Exception as e:  # a message we cannot parse is searched raw only
        views.append(f"(unparsable: {e!r})")
    # belt and braces: try base64 / QP decoding of every long-enough run
    raw = d.raw.decode("latin-1")
    for run in re.findall(r"(?:[A-Za-z0-9+/]{16,}={0,2}\n?){1,}", raw):
        try:
            views.append(base64.b64decode(run.replace("\n", ""), validate=False)
                         .decode("latin-1"))
        except (ValueError, base64.binascii.Error):
            pass
    views.append(quopri.decodestring(d.raw).decode("latin-1"))
    return views


def client_trace_patterns(helo: str = SENDER_HELO, ip: str = SENDER_IP) -> list:
    """(label, regex) pairs for the sending client's host name and IP, as
    Postfix's own Received header writes them ("from HELO (NAME [IP])").
    The IP is matched as a whole dotted quad, bracketed or bare: in the
    delivered message itself (not smtp-sink's X-Client-Addr line, which is
    about the Postfix -> sink hop) nothing else puts the loopback address."""
    return [(f"sender host name {helo}", re.compile(re.escape(helo), re.I)),
            (f"sender IP {ip}", re.compile(r"(?<![0-9.])" + re.escape(ip) + r"(?![0-9])"))]


def privacy_violations(deliveries: Iterable[Delivery], real_addresses: Iterable[str],
                       client_traces: Iterable[tuple] = ()) -> list:
    """No delivered message may contain a real address of a provisioned
    party anywhere (envelope sender, sink-recorded headers, message headers
    and body, raw or decoded, case-insensitive) -- except a recipient's own
    address in its own envelope recipient (X-Rcpt-Args) line.

    Nor may the message (headers and body, raw or decoded) contain any of
    client_traces, (label, regex) pairs from client_trace_patterns(): the
    sending client's host name and IP, which Postfix's own Received header
    carries unless marketplace_header_checks took them out."""
    reals = sorted({a.lower() for a in real_addresses if a})
    traces = list(client_traces)
    problems = []
    for d in deliveries:
        found = set()
        message_texts = [("message", d.raw.decode("latin-1"))]
        message_texts += [("decoded message", v) for v in _decoded_views(d)]
        for label, pattern in traces:
            for where, text in message_texts:
                m = pattern.search(text)
                if m:
                    line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0]
                    problems.append(f"{d.summary()}: {label} in {where}: {line.strip()[:200]!r}")
                    break
        # Envelope recipient lines: the recipient's own address may appear
        # (also as ORCPT); any other real address may not.
        for args in d.rcpt_args:
            own = addr_of(args).lower()
            rest = args.lower().replace(own, "")
            for a in reals:
                if a in rest:
                    found.add((a, f"envelope recipient line {args!r}"))
        # Everything else: the sink's other header lines and the message.
        other_lines = [ln for ln in d.sink_lines if not ln.startswith("X-Rcpt-Args:")]
        texts = [("envelope", "\n".join(other_lines))] + message_texts
        for where, text in texts:
            low = text.lower()
            for a in reals:
                if a in low:
                    found.add((a, where))
        for a, where in sorted(found):
            problems.append(f"{d.summary()}: real address {a} in {where}")
    return problems


# --------------------------------------------------------------------------
# making the SQLite store unavailable to the milter

# The store is in WAL mode and the milter keeps its connections open.  An
# open WAL connection holds a SHARED lock on the database file for its whole
# life, so "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE" from another
# process fails ("database is locked") instead of locking the milter out,
# and a plain BEGIN EXCLUSIVE in WAL mode blocks writers only.  What does
# lock out every other process, whatever it has open, is holding the
# wal-index locks: the 8 lock bytes at offsets 120..127 of the -shm file
# (WAL_WRITE_LOCK, CKPT, RECOVER, READ_LOCK(0..4); see SQLite's walformat
# documentation), as POSIX record locks, which SQLite's unix VFS also uses.
# A reader then cannot get a read mark and gives up with SQLITE_PROTOCOL
# ("locking protocol") after about 10 s of internal retries (busy_timeout
# does not shorten that wait), a writer gets SQLITE_BUSY.  Releasing the
# locks restores normal service; nothing in the database is touched.
_SHM_LOCK_HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
deadline = time.monotonic() + float(sys.argv[2])
while True:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120)
        break
    except OSError:
        if time.monotonic() > deadline:
            print("busy", flush=True)
            sys.exit(1)
        time.sleep(0.01)
print("held", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def sqlite_store_locked(db_path: str, timeout: float = 10.0):
    """While the with-block runs, no other process can read or write the
    WAL-mode SQLite database at db_path (see above)."""
    shm = db_path + "-shm"
    if not os.path.exists(shm):
        raise HarnessError(f"{shm} missing: the database is not open in WAL mode by anyone")
    holder = subprocess.Popen([sys.executable, "-c", _SHM_LOCK_HOLDER, shm, str(timeout)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = holder.stdout.readline().strip()  # the holder answers within `timeout`
        if line != "held":
            raise HarnessError(f"could not lock {shm} within {timeout}s ({line or 'holder died'}):"
                               " some process keeps a read transaction open")
        yield
    finally:
        try:
            holder.stdin.close()
        except OSError:
            pass
        try:
            holder.wait(10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(10)
        holder.stdout.close()


# --------------------------------------------------------------------------
# patching policy.yaml (stdlib only: no YAML library)


def _yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))  # a JSON string is a valid YAML scalar


def set_yaml_scalar(text: str, path: str, value) -> str:
    """Replaces the value of the block-mapping key `path` ("a.b.c") in YAML
    text, keeping the line's comment and everything else byte for byte.
    The key must exist and hold a scalar on its own line."""
    keys = path.split(".")
    lines = text.split("\n")
    stack: list = []  # (indent, key) of the enclosing mapping keys
    key_re = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<rest>.*)$")
    for i, line in enumerate(lines):
        m = key_re.match(line)
        if not m or line.lstrip().startswith("#"):
            continue
        indent = len(m.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        here = [k for _, k in stack] + [m.group("key")]
        if here == keys:
            rest = m.group("rest")
            comment = re.search(r"\s+#.*$", rest)
            value_part = rest[:comment.start()] if comment else rest
            if not value_part.strip():
                raise HarnessError(f"policy key {path} is a mapping or list, not a scalar")
            lines[i] = (f"{m.group('indent')}{m.group('key')}: {_yaml_scalar(value)}"
                        + (comment.group(0) if comment else ""))
            return "\n".join(lines)
        stack.append((indent, m.group("key")))
    raise HarnessError(f"policy key {path} not found")


# --------------------------------------------------------------------------
# the harness


@dataclasses.dataclass
class Party:
    id: str
    role: str               # buyer | seller
    address: str            # real delivery address
    name: Optional[str] = None
    senders: tuple = ()     # approved sender addresses besides `address`

    @property
    def real_addresses(self) -> set:
        return {self.address.lower(), *(s.lower() for s in self.senders)}


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


# ---------------------------------------------------------------------------
# a PostgreSQL of one's own, for a milter with a postgres store
# ---------------------------------------------------------------------------

PG_SERVER = os.path.join(REPO_ROOT, "tests", "support", "pg_server")


def postgres_available() -> bool:
    """Whether Debian's PostgreSQL server (scripts/bootstrap) is installed."""
    root = "/usr/lib/postgresql"
    return os.path.isdir(root) and any(
        os.access(os.path.join(root, v, "bin", "initdb"), os.X_OK) for v in os.listdir(root))


class PgServer:
    """A throwaway PostgreSQL in a temp directory; `database()` makes a
    fresh database owned by the milter's role and returns its DSN."""

    def __init__(self, directory: Optional[str] = None):
        self.dir = directory or tempfile.mkdtemp(prefix="mm-it-pg-",
                                                 dir=os.environ.get("MM_TMPDIR"))
        self.base_dsn = ""

    def run(self, command: str):
        subprocess.run([PG_SERVER, command, self.dir], check=True, capture_output=True,
                       timeout=180)

    def start(self):
        self.run("start")
        with open(os.path.join(self.dir, "dsn")) as f:
            self.base_dsn = f.read().strip()

    def stop(self):
        self.run("stop")

    def database(self) -> str:
        name = f"mm_it_{secrets.token_hex(4)}"
        subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-qAt", self.base_dsn, "-c",
                        f"CREATE DATABASE {name}"], check=True, capture_output=True, timeout=60)
        return f"{self.base_dsn} dbname={name}"

    def remove(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Harness:
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

    # ---- smtp-sink ----------------------------------------------------------
    def _start_sink(self):
        os.makedirs(self.dump_dir)
        shutil.chown(self.dump_dir, user=SINK_USER)
        os.chmod(self.dump_dir, 0o755)
        self._spawn_sink(["-d", os.path.join(self.dump_dir, "msg."),
                          f"127.0.0.1:{self.sink_port}", "128"], self.p("sink.log"))

    def _spawn_sink(self, args: list, out_path: str):
        """Starts smtp-sink (as SINK_USER) with `args`, its output to
        out_path, and waits until it accepts connections."""
        out = open(out_path, "wb")
        self._sink = subprocess.Popen(
            [SMTP_SINK, "-u", SINK_USER, *args],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self._write_pid("sink.pid", self._sink.pid)

        def up():
            if self._sink.poll() is not None:
                raise HarnessError(f"smtp-sink exited with {self._sink.returncode}:\n"
                                   + tail(out_path))
            return port_accepts(self.sink_port)
        wait_for(up, 10, f"smtp-sink on port {self.sink_port}")

    # ---- Postfix ------------------------------------------------------------
    def postfix_main_cf(self) -> dict:
        relay_domains = ", ".join((DOMAIN,) + EXTERNAL_DOMAINS)
        milters = self.postfix_milter if self.with_milter else ""
        return {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.p("data"),
            "myhostname": "mx.marketplace.example",
            "mydomain": "marketplace.example",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": relay_domains,
            "mynetworks": "127.0.0.0/8",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "relayhost": f"[127.0.0.1]:{self.sink_port}",
            "default_transport": "smtp",
            "relay_transport": "smtp",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "in_flow_delay": "0",
            "smtpd_error_sleep_time": "0",
            "message_size_limit": "52428800",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "smtpd_milters": milters,
            "non_smtpd_milters": "",
            "milter_protocol": "6",
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "10s",
            "milter_command_timeout": "30s",
            "milter_content_timeout": "60s",
            # a refused delivery to the sink is an error to see, not to retry later
            "minimal_backoff_time": "300s",
            "delay_warning_time": "0",
            **(self._sasl_main_cf(self.conf_dir) if self.sasl_users else {}),
        }

    @staticmethod
    def _sasl_main_cf(conf_dir: str) -> dict:
        return {
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            # -> smtpd.conf in conf_dir/sasl: Debian's Postfix looks there
            # whatever cyrus_sasl_config_path says; other builds need it said
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": os.path.join(conf_dir, "sasl"),
            "smtpd_sasl_security_options": "noanonymous",  # plain text on loopback
        }

    def _write_sasl_db(self):
        """smtpd.conf and a sasldb with self.sasl_users (login user@realm)."""
        db = os.path.join(self.conf_dir, "sasldb2")
        os.makedirs(os.path.join(self.conf_dir, "sasl"), mode=0o755)
        with open(os.path.join(self.conf_dir, "sasl", "smtpd.conf"), "w") as f:
            f.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                    f"mech_list: PLAIN LOGIN\nsasldb_path: {db}\n")
        for login, password in self.sasl_users.items():
            user, _, realm = login.partition("@")
            r = subprocess.run(["saslpasswd2", "-f", db, "-p", "-c",
                                *(["-u", realm] if realm else []), user],
                               input=password, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise HarnessError(f"saslpasswd2 {login}: {r.stdout}{r.stderr}")
        os.chmod(db, 0o644)  # smtpd reads it as the postfix user

    MASTER_CF = """\
# private test instance: no chroot anywhere
{smtpd}   inet  n       -       n       -       -       smtpd
{smtpd_options}pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
{extra_services}"""

    # The marketplace's smtpd, as etc/postfix/master.cf.notes (5.) sets it up:
    # its mail goes through a cleanup service of its own whose header_checks
    # take the client's host and IP out of Postfix's Received header; other
    # services keep the default cleanup and their Received headers.
    MARKETPLACE_SMTPD_OPTIONS = """\
  -o cleanup_service_name=mkt-cleanup
"""
    MARKETPLACE_CLEANUP = """\
mkt-cleanup unix n      -       n       -       0       cleanup
  -o header_checks=regexp:{header_checks}
  -o mime_header_checks=
  -o nested_header_checks=
"""

    def _start_postfix(self):
        os.makedirs(self.conf_dir)
        os.makedirs(self.queue_dir, mode=0o755)
        with open(os.path.join(self.conf_dir, "main.cf"), "w") as f:
            for k, v in self.postfix_main_cf().items():
                f.write(f"{k} = {v}\n")
        if self.sasl_users:
            self._write_sasl_db()
        smtpd_options = extra_services = ""
        if self.hide_client_received:
            if not os.path.exists(HEADER_CHECKS):
                raise HarnessError(f"{HEADER_CHECKS} missing")
            header_checks = os.path.join(self.conf_dir, "marketplace_header_checks")
            shutil.copy(HEADER_CHECKS, header_checks)
            smtpd_options = self.MARKETPLACE_SMTPD_OPTIONS
            extra_services = self.MARKETPLACE_CLEANUP.format(header_checks=header_checks)
        with open(os.path.join(self.conf_dir, "master.cf"), "w") as f:
            f.write(self.MASTER_CF.format(smtpd=f"127.0.0.1:{self.smtpd_port}",
                                          smtpd_options=smtpd_options,
                                          extra_services=extra_services))
        r = subprocess.run([POSTFIX, "-c", self.conf_dir, "start"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise HarnessError(f"postfix start failed ({r.returncode}):\n{r.stdout}{r.stderr}\n"
                               + tail(self.maillog))
        self._postfix_started = True
        pid_file = os.path.join(self.queue_dir, "pid", "master.pid")

        def master_pid():
            try:
                with open(pid_file) as f:
                    return int(f.read().strip() or 0)
            except (OSError, ValueError):
                return 0
        self._master_pid = wait_for(master_pid, 20, "Postfix master.pid",
                                    on_timeout=lambda: tail(self.maillog))
        wait_for(lambda: port_accepts(self.smtpd_port), 20,
                 f"Postfix smtpd on port {self.smtpd_port}", on_timeout=lambda: tail(self.maillog))

    def _stop_postfix(self):
        subprocess.run([POSTFIX, "-c", self.conf_dir, "stop"], capture_output=True, timeout=60)
        pid = self._master_pid
        if pid:
            try:
                wait_for(lambda: not pid_alive(pid), 20, f"Postfix master {pid} to exit")
            except HarnessError:
                os.kill(pid, signal.SIGKILL)
        self._postfix_started = False

    def postconf(self, *settings: str):
        """postconf -e on the private instance, then reload."""
        subprocess.run(["postconf", "-c", self.conf_dir, "-e", *settings], check=True)
        subprocess.run([POSTFIX, "-c", self.conf_dir, "reload"], check=True,
                       capture_output=True)

    # ---- the milter ---------------------------------------------------------
    def _write_milter_files(self):
        mdir = self.p("milter")
        os.makedirs(mdir, exist_ok=True)
        policy_src = os.path.join(self.repo_root, "etc", "policy.yaml")
        if not os.path.exists(policy_src):
            raise HarnessError(f"{policy_src} missing")
        shutil.copy(policy_src, os.path.join(mdir, "policy.yaml"))
        # policy.yaml names its concepts file beside it (concepts: concepts.yaml).
        shutil.copy(os.path.join(self.repo_root, "etc", "concepts.yaml"),
                    os.path.join(mdir, "concepts.yaml"))
        if self.policy_overrides:
            self.set_policy_values(self.policy_overrides)
        key = os.path.join(mdir, "hmac.key")
        with open(key, "w") as f:  # what `openssl rand -hex 32` prints
            f.write(secrets.token_hex(32) + "\n")
        os.chmod(key, 0o600)
        self.write_milter_config()

    @property
    def policy_path(self) -> str:
        return self.p("milter", "policy.yaml")

    def set_policy_values(self, values: dict):
        """Sets scalar values in the milter's copy of policy.yaml, e.g.
        {"privacy.redact.seller_to_buyer": True}; every key must exist.
        Takes effect at the next milter start or reload_milter()."""
        with open(self.policy_path, encoding="utf-8") as f:
            text = f.read()
        for path, value in values.items():
            text = set_yaml_scalar(text, path, value)
        with open(self.policy_path, "w", encoding="utf-8") as f:
            f.write(text)

    def milter_settings(self, **overrides) -> dict:
        s = {
            "socket": (f"unix:{self.milter_socket_path}" if self.milter_socket == "unix"
                       else f"inet:{self.milter_port}@127.0.0.1"),
            "domain": DOMAIN,
            "policy": "policy.yaml",
            "store": {"type": "sqlite", "path": "store.db", "busy_timeout_ms": 5000},
            "audit_log": "audit.log",
            "hmac_key_file": "hmac.key",
            "cache_ttl_ms": 30000,
            "milter_timeout": 300,
            "log_stderr": True,
        }
        if self.milter_socket == "unix":
            s["socket_mode"] = "0666"  # smtpd runs as postfix; the directory is private
        for k, v in {**self.config_overrides, **overrides}.items():
            # A section of another store type replaces the SQLite one whole.
            if (isinstance(v, dict) and isinstance(s.get(k), dict)
                    and v.get("type", s[k].get("type")) == s[k].get("type")):
                s[k] = {**s[k], **v}
            else:
                s[k] = v
        return s

    def write_milter_config(self, **overrides):
        def scalar(v):
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, (int, float)):
                return str(v)
            return json.dumps(str(v))  # a JSON string is a valid YAML scalar
        lines = []
        for k, v in self.milter_settings(**overrides).items():
            if isinstance(v, dict):
                inner = ", ".join(f"{ik}: {scalar(iv)}" for ik, iv in v.items())
                lines.append(f"{k}: {{{inner}}}")
            else:
                lines.append(f"{k}: {scalar(v)}")
        with open(self.milter_config, "w") as f:
            f.write("# generated by tests/integration/mmharness.py\n" + "\n".join(lines) + "\n")

    def milter_running(self) -> bool:
        return self._milter is not None and self._milter.poll() is None

    def start_milter(self, **overrides):
        """Writes the config (defaults, the harness's overrides, then these
        overrides), starts `marketplace-milter run` and waits until its port
        accepts connections."""
        if self.milter_running():
            raise HarnessError("milter already running")
        self.write_milter_config(**overrides)
        self._milter_starts += 1
        log = open(self.milter_stderr, "ab")
        log.write(f"==== start #{self._milter_starts} ====\n".encode())
        log.flush()
        self._milter = subprocess.Popen([self.binary, "run", "-c", self.milter_config],
                                        stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=self.p("milter"))
        log.close()
        self._write_pid("milter.pid", self._milter.pid)

        def up():
            if self._milter.poll() is not None:
                raise HarnessError(
                    f"marketplace-milter exited with status {self._milter.returncode} "
                    f"before listening on {self.postfix_milter}; its output:\n"
                    + tail(self.milter_stderr, 60) + "\nconfig:\n" + open(self.milter_config).read())
            return self.milter_accepts()
        wait_for(up, 20, f"marketplace-milter on {self.postfix_milter}",
                 on_timeout=lambda: tail(self.milter_stderr, 60))

    def kill_milter(self, sig=signal.SIGKILL):
        """Kills the milter (SIGKILL by default: a crash) and waits until it
        is gone and its port refuses connections."""
        proc = self._milter
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
        self._milter = None
        if self.with_milter:
            wait_for(lambda: not self.milter_accepts(), 10,
                     f"milter socket {self.postfix_milter} to close")

    def restart_milter(self, **overrides):
        self.kill_milter(sig=signal.SIGTERM)
        self.start_milter(**overrides)

    def reload_milter(self):
        """SIGUSR1: reload config and policy, reopen the audit log."""
        if not self.milter_running():
            raise HarnessError("milter not running")
        self._milter.send_signal(signal.SIGUSR1)

    def reopen_milter_logs(self):
        """SIGUSR2: reopen the audit log only (logrotate's postrotate)."""
        if not self.milter_running():
            raise HarnessError("milter not running")
        self._milter.send_signal(signal.SIGUSR2)

    def milter_output(self) -> str:
        return tail(self.milter_stderr, 200)

    # ---- CLI and provisioning -------------------------------------------------
    def cli(self, *args, check: bool = True, input: Optional[bytes] = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Runs `marketplace-milter SUBCOMMAND... -c CONFIG ARGS`.  args[0:n]
        are the subcommand words; -c is inserted after them."""
        args = list(args)
        words = []
        while args and not args[0].startswith("-"):
            words.append(args.pop(0))
        cmd = [self.binary, *words, "-c", self.milter_config, *args]
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise HarnessError(f"{' '.join(cmd)} exited {r.returncode}:\n"
                               f"{r.stdout.decode(errors='replace')}"
                               f"{r.stderr.decode(errors='replace')}")
        return r

    def cli_json(self, *args):
        r = self.cli(*args)
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError as e:
            raise HarnessError(f"{args}: output is not JSON ({e}): {r.stdout!r}")

    def add_party(self, party: Party) -> dict:
        args = ["party", "add", "--id", party.id, "--role", party.role,
                "--address", party.address]
        if party.name:
            args += ["--name", party.name]
        for s in party.senders:
            args += ["--sender", s]
        self.parties[party.id] = party  # before the call: its addresses are now secret
        return self.cli_json(*args)

    def provision(self, buyer: Party | str, seller: Party | str) -> dict:
        """Adds the parties not added yet, creates the pair, returns the
        pair JSON (pair_id, buyer, seller, buyer_alias, seller_alias, ...)."""
        ids = []
        for party in (buyer, seller):
            if isinstance(party, Party):
                if party.id not in self.parties:
                    self.add_party(party)
                ids.append(party.id)
            else:
                ids.append(party)
        pair = self.cli_json("pair", "add", "--buyer", ids[0], "--seller", ids[1])
        for k in ("buyer_alias", "seller_alias"):
            if not re.fullmatch(r"[0-9a-f]{16}@" + re.escape(DOMAIN), str(pair.get(k, ""))):
                raise HarnessError(f"pair add: bad {k} in {pair}")
        self.pairs.append(pair)
        return pair

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

    # ---- the queue and the sink -----------------------------------------------
    def queue_files(self, queues: Iterable[str] = IN_FLIGHT_QUEUES) -> list:
        out = []
        for q in queues:
            for root, _, files in os.walk(os.path.join(self.queue_dir, q)):
                out += [os.path.join(root, f) for f in files]
        return out

    def queue_listing(self) -> str:
        r = subprocess.run([POSTQUEUE, "-c", self.conf_dir, "-p"], capture_output=True,
                           text=True, timeout=30)
        return (r.stdout + r.stderr).strip()

    def _dump_files(self) -> list:
        try:
            names = os.listdir(self.dump_dir)
        except FileNotFoundError:
            return []
        paths = [os.path.join(self.dump_dir, n) for n in names if n.startswith("msg.")]
        return sorted(paths, key=lambda p: (os.stat(p).st_mtime_ns, p))

    def diagnostics(self) -> str:
        return ("queue:\n" + self.queue_listing() + "\n--- maillog (tail):\n" + tail(self.maillog)
                + "\n--- milter output (tail):\n" + tail(self.milter_stderr, 40))

    def wait_queue_empty(self, timeout: float = DEFAULT_WAIT):
        wait_for(lambda: not self.queue_files(), timeout, "the Postfix queue to empty",
                 on_timeout=self.diagnostics)

    def wait_delivered(self, n: int, timeout: float = DEFAULT_WAIT) -> list:
        """Waits until exactly n messages that no earlier call returned have
        reached the sink and nothing is left in the queue; returns them
        parsed, oldest first.  More than n is an error too."""
        def ready():
            new = [p for p in self._dump_files() if p not in self._consumed]
            return len(new) >= n and not self.queue_files()
        wait_for(ready, timeout, f"{n} message(s) at the sink",
                 on_timeout=lambda: f"new at sink: {self._new_dumps()}\n" + self.diagnostics())
        new = self._new_dumps()
        if len(new) != n:
            raise HarnessError(f"expected {n} new message(s) at the sink, got {len(new)}:\n"
                               + "\n".join(parse_dump(p).summary() for p in new))
        self._consumed.update(new)
        return [parse_dump(p) for p in new]

    def _new_dumps(self) -> list:
        return [p for p in self._dump_files() if p not in self._consumed]

    def assert_nothing_delivered(self, timeout: float = DEFAULT_WAIT):
        """Waits for the queue to drain, then asserts that nothing new
        reached the sink (and that nothing sits in the hold queue)."""
        self.wait_queue_empty(timeout)
        new = self._new_dumps()
        if new:
            self._consumed.update(new)
            raise AssertionError("unexpected deliveries:\n"
                                 + "\n".join(parse_dump(p).summary() for p in new))

    def all_deliveries(self) -> list:
        return [parse_dump(p) for p in self._dump_files()]

    def hold_queue(self) -> list:
        return self.queue_files(("hold",))

    def drain(self, timeout: float = DEFAULT_WAIT):
        """Waits for the queue to empty and forgets whatever reached the sink
        so far (so one failed test does not confuse the next one's count)."""
        self.wait_queue_empty(timeout)
        self._consumed.update(self._dump_files())

    def lock_store(self, timeout: float = 10.0):
        """Context manager: the milter's SQLite store is unavailable inside."""
        return sqlite_store_locked(self.store_path, timeout)

    # ---- the audit log ----------------------------------------------------------
    def audit_lines(self) -> list:
        """Every complete line of audit.log, parsed."""
        try:
            with open(self.audit_log, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        out = []
        for line in data.split(b"\n")[:-1]:  # the last element is partial or empty
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise HarnessError(f"audit.log: bad JSON line ({e}): {line!r}")
        return out

    def wait_audit(self, predicate, timeout: float = 10.0, what: str = "an audit line",
                   since: int = 0) -> dict:
        """Waits for an audit line matching predicate(line) -> bool, among
        the lines after the first `since` ones."""
        def find():
            for line in self.audit_lines()[since:]:
                if predicate(line):
                    return line
            return None
        return wait_for(find, timeout, what, on_timeout=lambda: "audit.log:\n"
                        + tail(self.audit_log, 20) + "\n--- milter:\n" + tail(self.milter_stderr))

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


# --------------------------------------------------------------------------
# unittest integration


_AUDIT_FIELDS_RE = re.compile(r"decision=(?P<decision>[a-z]+); rules=(?P<rules>[^;]*);")


def audit_decision_and_rules(header_value: str) -> Optional[tuple]:
    """(decision, [rule ids]) of an X-Marketplace-Audit value; None if unreadable."""
    m = _AUDIT_FIELDS_RE.search(re.sub(r"\s+", " ", header_value))
    if m is None:
        return None
    return m.group("decision"), [x.strip() for x in m.group("rules").split(",") if x.strip()]


def add_test_per_entry(cls, entries, run: str):
    """One test method per entry name (file.eml -> test_file) that calls
    cls.<run>(name): a corpus checked message by message."""
    for name in entries:
        def test(self, name=name):
            getattr(self, run)(name)
        test.__name__ = "test_" + name.rsplit(".", 1)[0]
        test.__doc__ = name
        setattr(cls, test.__name__, test)


def load_corpus(subdir: str, generator: str, manifest: str) -> tuple:
    """(directory, generator module, manifest) of the corpus in
    tests/data/<subdir>: messages to the generator's PLACEHOLDER, from its
    SELLER to its BUYER, each with its verdict in the manifest (JSON, or
    YAML read with python3-yaml)."""
    import importlib
    directory = os.path.join(REPO_ROOT, "tests", "data", subdir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = importlib.import_module(generator)
    with open(os.path.join(directory, manifest), encoding="utf-8") as f:
        if manifest.endswith(".json"):
            expected = json.load(f)
        else:
            import yaml
            expected = yaml.safe_load(f)
    return directory, module, expected


def corpus_parties(module) -> tuple:
    """(seller, buyer) Parties of a corpus generator's SELLER and BUYER."""
    return (Party("acme", "seller", module.SELLER, "Acme Store"),
            Party("bob", "buyer", module.BUYER, "Bob Buyer"))


class HarnessTestCase(unittest.TestCase):
    """Base class: one Harness per test class (started in setUpClass).

    After the class's tests, tearDownClass runs the privacy checker over every
    message the sink received, so every test contributes to it; a violation
    fails the run (reported as an error in tearDownClass)."""

    harness_name = "it"
    with_milter = True
    milter_config: dict = {}
    policy_overrides: dict = {}   # {"privacy.redact.seller_to_buyer": True, ...}
    sasl_users: dict = {}         # {login: password} for SMTP AUTH (Harness)
    hide_client_received = True
    milter_socket = "inet"
    harness_class = Harness       # a subclass changes where things live (test_faults)
    h: Harness

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.h = cls.harness_class(cls.harness_name, with_milter=cls.with_milter,
                        config=cls.milter_config, policy=cls.policy_overrides,
                        hide_client_received=cls.hide_client_received,
                        milter_socket=cls.milter_socket, sasl_users=cls.sasl_users)
        cls.addClassCleanup(cls.h.stop)
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        violations = cls.h.privacy_violations()
        if os.environ.get("MM_VERBOSE"):
            print(f"\n{cls.__name__}: privacy checker saw {len(cls.h.all_deliveries())} "
                  f"message(s), {len(cls.h.real_addresses())} real address(es)",
                  file=sys.stderr)
        super().tearDownClass()
        if violations:
            cls.h.keep = True
            raise AssertionError("PRIVACY: real addresses or the sender's host delivered (kept "
                                 f"{cls.h.dir} for inspection):\n" + "\n".join(violations))

    # ---- assertions --------------------------------------------------------
    def assertRefused(self, result: SendResult, code: int, enhanced: str,
                      rcpt: Optional[str] = None, stages=("rcpt", "data", "mail")):
        """The transaction (or `rcpt`) was refused with `code` and the
        enhanced status `enhanced` in the reply text."""
        ref = result.refusal(rcpt)
        self.assertIsNotNone(ref, f"expected {code} {enhanced}, but it was queued: {result}")
        stage, got_code, text = ref
        self.assertIn(stage, stages, f"refused at {stage}: {result}")
        self.assertEqual(got_code, code, f"{result}")
        self.assertIn(enhanced, text, f"{result}")

    def send_and_check_verdict(self, name: str, data: bytes, sender: str, alias: str,
                               owner: str, *, decision: str, code: str = "",
                               enhanced: str = "5.", rules=()) -> Optional[Delivery]:
        """Sends `data` from `sender` to `alias`.  A refusal (decision reject)
        comes at DATA with `code` and `enhanced`, names one of `rules` ("rule
        X", or "limit X" for a limit) and delivers nothing (returns None); otherwise one message reaches
        `owner` whose audit header says `decision` and names every rule (as
        a prefix: a rule repeated many times may be summarised), returned."""
        r = self.h.send(sender, [alias], data)
        if decision == "reject":
            self.assertRefused(r, int(code), enhanced, stages=("data",))
            if rules:
                text = r.data[1]
                self.assertTrue(any(f"{kind} {rid}" in text
                                    for rid in rules for kind in ("rule", "limit")),
                                f"{name}: refusal does not name {list(rules)}: {text!r}")
            self.h.assert_nothing_delivered()
            return None
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [owner], d.summary())
        audit = d.headers("X-Marketplace-Audit")
        self.assertEqual(len(audit), 1, f"{name}: {audit}")
        read = audit_decision_and_rules(audit[0])
        self.assertIsNotNone(read, audit[0])
        self.assertEqual(read[0], decision, audit[0])
        for rid in rules:
            self.assertTrue(any(x.startswith(rid) for x in read[1]),
                            f"{name}: {rid} not in {audit[0]}")
        return d

    def assertTempfailed(self, result: SendResult):
        ref = result.refusal()
        self.assertIsNotNone(ref, f"expected a 4xx, but it was queued: {result}")
        stage, code, text = ref
        self.assertTrue(400 <= code < 500, f"expected a 4xx at some stage, got {ref}: {result}")

    def assertQueued(self, result: SendResult, rcpts: Optional[list] = None):
        self.assertTrue(result.queued, f"not queued: {result}")
        if rcpts is not None:
            self.assertEqual(sorted(result.accepted_rcpts), sorted(rcpts), f"{result}")


class CorpusTestCase(HarnessTestCase):
    """A corpus of messages between one pair (test_mime, test_hostile): the
    class attributes `seller` and `buyer` (corpus_parties) are provisioned
    once as `pair`, `outdir` takes `test --out` files, and each test starts
    with the milter running and the sink drained."""
    seller: Party
    buyer: Party

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair = cls.h.provision(cls.buyer, cls.seller)
        cls.outdir = tempfile.mkdtemp(prefix="out-", dir=cls.h.dir)

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()


class OnePairTestCase(HarnessTestCase):
    """A HarnessTestCase with one buyer (bob), one seller (acme) and their
    pair (cls.pair), provisioned once for the class."""

    bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
    acme = Party("acme", "seller", "support@acme.example", "Acme Store")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair = cls.h.provision(cls.bob, cls.acme)
