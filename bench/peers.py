"""The milters scripts/bench compares against: MIMEDefang and rspamd, and
the libmilter floor (bench/null_milter).

Both are Debian's packages, started by this module directly in the
foreground (-D / -f) as children of the benchmark, never through init.d or
systemd, and stopped by pid.  Each one keeps its sockets, spool, state and
logs in a directory of its own below the benchmark's work directory, so
nothing under /etc or /var is written; the one system change is MIMEDefang's
(see MIMEDefang.start).  Stdlib only.
"""

from __future__ import annotations

import grp
import os
import pwd
import signal
import subprocess
from typing import Optional

from mmharness import HarnessError, free_port, pid_alive, port_accepts, tail, wait_for


def descendants(pid: int) -> list:
    """pid and every process below it (from /proc/*/stat ppid links)."""
    children: dict = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def status_kb(pid: int, field: str) -> int:
    """A kB field of /proc/PID/status (VmHWM, VmRSS); 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak_rss(pids):
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0),
    so a run's peak is not an earlier run's."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


class Daemon:
    """A foreground daemon we started; stop() ends it and its children."""

    name = "daemon"

    def __init__(self, workdir: str):
        self.dir = os.path.join(workdir, self.name)
        self.procs: list = []

    def _spawn(self, argv: list, logname: str) -> subprocess.Popen:
        log = open(os.path.join(self.dir, logname), "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=self.dir)
        log.close()
        self.procs.append(proc)
        with open(os.path.join(self.dir, f"{logname}.pid"), "w") as f:
            f.write(f"{proc.pid}\n")
        return proc

    def pids(self) -> list:
        """Every live process of this peer (daemons and their workers)."""
        out = []
        for proc in self.procs:
            if proc.poll() is None:
                out += descendants(proc.pid)
        return out

    def stop(self):
        """SIGTERM in reverse start order, SIGKILL after 10 s; then any
        worker left behind (by pid, found before the parent went away)."""
        leftovers = set(self.pids())
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        for pid in leftovers:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.procs = []


class NullMilter(Daemon):
    """bench/null_milter: a libmilter filter that does no work and adds one
    header, on a unix socket as marketplace-milter's.  What any libmilter
    filter costs per message before it does anything."""

    name = "null"
    args: tuple = ()

    def __init__(self, workdir: str, binary: str):
        super().__init__(workdir)
        self.binary = binary

    @property
    def sock(self) -> str:
        return os.path.join(self.dir, "null.sock")

    @property
    def milter(self) -> str:
        return f"unix:{self.sock}"

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        out = f"{self.name}.out"
        proc = self._spawn([self.binary, *self.args, f"unix:{self.sock}"], out)

        def up():
            if proc.poll() is not None:
                raise HarnessError(f"null_milter exited with {proc.returncode}:\n"
                                   + tail(os.path.join(self.dir, out)))
            return os.path.exists(self.sock) and os.stat(self.sock).st_mode & 0o002
        wait_for(up, 10, f"null_milter {' '.join(self.args)} on {self.sock}")
        return self

    def messages_scanned(self) -> Optional[int]:
        return None  # it keeps no count; the sink's count and the header check suffice


class FloorMilter(NullMilter):
    """bench/null_milter --edits: the null filter plus the edits
    marketplace-milter makes to every delivered buyer message (sender,
    recipient, From, Message-ID, audit header; the body handed back
    unchanged over 16 KiB), deciding nothing.  What Postfix charges any
    filter in marketplace-milter's place."""

    name = "floor"
    args = ("--edits",)


def reap_stale(workdir: str):
    """Kills peers a killed earlier run left behind: only pids recorded in
    its pid files, and only if they still run the recorded program."""
    for name, expect in (("mimedefang", "mimedefang"), ("rspamd", "rspamd"),
                         ("null", "null_milter"), ("floor", "null_milter")):
        d = os.path.join(workdir, name)
        if not os.path.isdir(d):
            continue
        for fn in os.listdir(d):
            if not fn.endswith(".pid"):
                continue
            try:
                with open(os.path.join(d, fn)) as f:
                    pid = int(f.read().strip())
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except (OSError, ValueError):
                continue
            if expect.encode() in cmd:
                for p in reversed(descendants(pid)):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass


class MIMEDefang(Daemon):
    """mimedefang-multiplexor + mimedefang, Debian's stock filter
    (/etc/mail/mimedefang-filter), options as in /work/shared/perf-anchors:
    embedded Perl, 2..10 workers, busy timeout 600 s, request queueing
    (multiplexor -q 100 -Q 30, mimedefang -q: without it the stock setup
    tempfails whenever all 10 workers are busy), -G on both sockets."""

    name = "mimedefang"
    USER = "defang"
    MX_OPTS = ["-E", "-m", "2", "-x", "10", "-b", "600", "-l", "-G", "-q", "100", "-Q", "30"]
    MD_OPTS = ["-R", "-1", "-G", "-q"]

    @property
    def milter(self) -> str:
        return f"unix:{self.sock}"

    def start(self):
        self.spool = os.path.join(self.dir, "spool")
        self.sock = os.path.join(self.spool, "mimedefang.sock")
        self.mx_sock = os.path.join(self.spool, "mimedefang-multiplexor.sock")
        os.makedirs(self.spool, exist_ok=True)
        uid, gid = pwd.getpwnam(self.USER).pw_uid, grp.getgrnam(self.USER).gr_gid
        os.chown(self.spool, uid, gid)
        # Postfix's smtpd (user postfix) connects to the milter socket: -G makes
        # it group-writable, postfix must be in group defang and reach the spool.
        os.chmod(self.spool, 0o750)
        self._postfix_in_group()
        mx = self._spawn(["mimedefang-multiplexor", "-D", "-U", self.USER, "-z", self.spool,
                          "-s", self.mx_sock, "-o", os.path.join(self.spool, "mx.lock"),
                          *self.MX_OPTS], "multiplexor.log")
        wait_for(lambda: self._alive_and(mx, lambda: os.path.exists(self.mx_sock)), 30,
                 "the MIMEDefang multiplexor socket",
                 on_timeout=lambda: tail(os.path.join(self.dir, "multiplexor.log")))
        md = self._spawn(["mimedefang", "-D", "-U", self.USER, "-z", self.spool,
                          "-m", self.mx_sock, "-p", self.sock,
                          "-o", os.path.join(self.spool, "md.lock"), *self.MD_OPTS],
                         "mimedefang.log")
        wait_for(lambda: self._alive_and(md, lambda: os.path.exists(self.sock)), 30,
                 "the MIMEDefang milter socket",
                 on_timeout=lambda: tail(os.path.join(self.dir, "mimedefang.log")))
        # The stock filter needs Perl modules that the Debian package does not
        # depend on (Net::DNS): a worker that cannot start shows up here.
        wait_for(self._workers_idle, 30, "MIMEDefang workers to start",
                 on_timeout=lambda: tail(os.path.join(self.dir, "multiplexor.log")))
        return self

    def _alive_and(self, proc, cond):
        if proc.poll() is not None:
            raise HarnessError(f"{proc.args[0]} exited with {proc.returncode}")
        return cond()

    def _workers_idle(self) -> bool:
        r = subprocess.run(["md-mx-ctrl", "-s", self.mx_sock, "status"], capture_output=True,
                           text=True, timeout=10)
        return r.returncode == 0 and "idle" in r.stdout

    def messages_scanned(self) -> Optional[int]:
        """Messages the multiplexor scanned in its lifetime (md-mx-ctrl
        "msgs"), or None if it does not say."""
        r = subprocess.run(["md-mx-ctrl", "-s", self.mx_sock, "msgs"], capture_output=True,
                           text=True, timeout=10)
        try:
            return int(r.stdout.split()[0])
        except (IndexError, ValueError):
            return None

    @staticmethod
    def _postfix_in_group():
        """usermod -a -G defang postfix (idempotent): the one change outside
        the work directory, as MIMEDefang's own docs prescribe for Postfix."""
        if "postfix" in grp.getgrnam(MIMEDefang.USER).gr_mem:
            return
        subprocess.run(["usermod", "-a", "-G", MIMEDefang.USER, "postfix"], check=True)


class Rspamd(Daemon):
    """rspamd 3.4 from Debian with a private config: the stock
    /etc/rspamd/rspamd.conf read with --var LOCAL_CONFDIR (and RUNDIR,
    DBDIR, LOGDIR) pointing below the work directory, so its local.d and
    override.d are ours and /etc/rspamd is only read.

    Topology: the proxy worker in milter mode on a loopback port forwards to
    2 normal workers (one per core).  MIME parsing, URL extraction, the
    regexp/Lua rules and mime_types (local map) stay on; every module that
    does DNS or fetches remote maps is off, and the resolver is forced to
    127.0.0.1:53 (nothing listens there), because this host's resolv.conf
    points off the machine."""

    name = "rspamd"
    USER = "_rspamd"
    NETWORK_MODULES = ("asn spf dkim dmarc arc rbl surbl hfilter mid multimap whitelist phishing "
                       "emails dkim_signing mx_check rspamd_update bimi url_redirector maillist "
                       "reputation neural greylist ratelimit replies history_redis fuzzy_check "
                       "external_services antivirus dcc p0f spamassassin clickhouse elastic "
                       "metadata_exporter aws_s3").split()

    @property
    def milter(self) -> str:
        return f"inet:127.0.0.1:{self.proxy_port}"

    def write_config(self):
        self.proxy_port, self.normal_port, self.ctl_port = free_port(), free_port(), free_port()
        local, override = (os.path.join(self.dir, "etc", d) for d in ("local.d", "override.d"))
        for d in (local, override):
            os.makedirs(d, exist_ok=True)
        files = {
            # priority 10 (override.d): replaces the stock values instead of merging
            f"{override}/options.inc": (
                'dns { nameserver = ["127.0.0.1:53"]; timeout = 0.2s; retransmits = 0; }\n'
                'filters = "chartable,regexp";\n'),   # no dkim, fuzzy_check (network)
            f"{override}/worker-proxy.inc": (
                f'bind_socket = "127.0.0.1:{self.proxy_port}";\nmilter = yes;\n'
                'timeout = 120s;\ncount = 1;\n'
                f'upstream "local" {{ default = yes; self_scan = no; '
                f'hosts = "127.0.0.1:{self.normal_port}"; }}\n'),
            f"{override}/worker-normal.inc": (
                f'bind_socket = "127.0.0.1:{self.normal_port}";\ncount = 2;\n'),
            f"{override}/worker-controller.inc": f'bind_socket = "127.0.0.1:{self.ctl_port}";\n',
            # mime_types: only the map shipped in /etc/rspamd/maps.d
            f"{override}/mime_types.conf": 'file = ["${CONFDIR}/maps.d/mime_types.inc"];\n',
            # one header on every message, local ones too: rspamd modifies
            # each message, as the other milters do
            f"{local}/milter_headers.conf": ('use = ["x-spamd-result"]; skip_local = false; '
                                            'skip_authenticated = false;\n'),
        }
        for m in self.NETWORK_MODULES:
            files[f"{local}/{m}.conf"] = "enabled = false;\n"
        for path, text in files.items():
            with open(path, "w") as f:
                f.write(text)

    def argv_vars(self) -> list:
        out = []
        for k, v in (("LOCAL_CONFDIR", os.path.join(self.dir, "etc")),
                     ("RUNDIR", os.path.join(self.dir, "run")),
                     ("DBDIR", os.path.join(self.dir, "db")),
                     ("LOGDIR", os.path.join(self.dir, "log"))):
            out.append(f"--var={k}={v}")  # GOption: "--var K=V" is refused
        return out

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.write_config()
        uid, gid = pwd.getpwnam(self.USER).pw_uid, grp.getgrnam(self.USER).gr_gid
        for d in ("run", "db", "log"):
            path = os.path.join(self.dir, d)
            os.makedirs(path, exist_ok=True)
            os.chown(path, uid, gid)
        r = subprocess.run(["rspamadm", *self.argv_vars(), "configtest", "-c",
                            "/etc/rspamd/rspamd.conf"], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise HarnessError(f"rspamadm configtest failed:\n{r.stdout}{r.stderr}")
        proc = self._spawn(["rspamd", "-f", "-u", self.USER, "-g", self.USER,
                            "-c", "/etc/rspamd/rspamd.conf", *self.argv_vars()], "rspamd.out")

        def up():
            if proc.poll() is not None:
                raise HarnessError(f"rspamd exited with {proc.returncode}:\n"
                                   + tail(os.path.join(self.dir, "rspamd.out"))
                                   + tail(self.log_path))
            return port_accepts(self.proxy_port) and port_accepts(self.normal_port)
        wait_for(up, 90, f"rspamd proxy on port {self.proxy_port}",
                 on_timeout=lambda: tail(self.log_path))
        return self

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "log", "rspamd.log")

    def messages_scanned(self) -> int:
        """Scan results the normal workers logged ("(default: ..." lines)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().count(b"(default: ")
        except OSError:
            return 0
