"""The milter's data as tests set it up: the parties, its copy of
policy.yaml patched key by key, its SQLite store made unavailable on
purpose, and a PostgreSQL of one's own for a postgres store."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from typing import Optional

from harness_common import REPO_ROOT, HarnessError

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
