#!/usr/bin/env python3
"""End-to-end benchmark: Postfix alone, with marketplace-milter, with
MIMEDefang and with rspamd, in one sitting.  Run it through
scripts/bench, which installs and builds first; see bench/README.md.

One private Postfix (tests/integration/mmharness.py) with one smtpd listener
per mode; the listeners differ only in `-o smtpd_milters=...`, so switching
modes needs no reload:

    smtp-source -s 20 --> smtpd :P_none        (no milter)           --+
                      --> smtpd :P_marketplace (marketplace-milter)  --+--> smtp-sink -c
                      --> smtpd :P_mimedefang  (MIMEDefang)          --+    (counts)
                      --> smtpd :P_rspamd      (rspamd proxy)        --+

Every message goes from a buyer's real address to a seller's alias with the
default policy (etc/policy.yaml) unchanged.  A run is over when the sink's
counter has grown by N; every run must deliver exactly N.  Stdlib only.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import fcntl
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
from mmharness import (Harness, HarnessError, Party, PgServer, free_port,  # noqa: E402
                       port_accepts, tail, wait_for)
import peers  # noqa: E402
import workloads  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MODES = ("none", "null", "floor", "marketplace", "mimedefang", "rspamd")
WORKLOADS = ("small", "mime", "strip")
DEFAULT_N = {"small": 2000, "mime": 1000, "strip": 1000}
QUICK_N = {"small": 300, "mime": 150, "strip": 150}

BUYER = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
SELLER = Party("acme", "seller", "support@acme.example", "Acme Store")

# The throughput and CPU targets (bench/README.md).
# The targets against the floor (issue 18): the floor filter makes only the
# edits this product must make, through libmilter, and no other work.
MIN_FLOOR_RATIO = {"small": 0.95, "mime": 0.95, "strip": 0.95}
MAX_OWN_CPU_ABOVE_FLOOR_MS = {"small": 0.25, "mime": 0.5, "strip": 0.5}
MAX_POSTFIX_SIDE_VS_FLOOR = 1.1
# The earlier targets against Postfix alone and the peers' added CPU, kept as
# information: the floor alone misses them (bench/RESULTS.md).
MIN_RATIO = {"small": 0.80, "mime": 0.70, "strip": 0.70}
MAX_SHARE_OF_RSPAMD = 1 / 3
MAX_SHARE_OF_MIMEDEFANG = 1 / 8
MAX_P99_MS = {"small": 5.0, "mime": 5.0}
MAX_MEMORY_RSS_MB = 150


class Interrupted(Exception):
    """SIGINT/SIGTERM/SIGHUP: unwind through every finally block."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def on_signal(signum, frame):
    # Ctrl-C reaches both scripts/bench and this process, and scripts/bench
    # then sends SIGTERM too: neither may interrupt the cleanup.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


# --------------------------------------------------------------------------
# CPU accounting


class CpuMeter:
    """CPU time of every process the benchmark starts (Postfix, the milters,
    smtp-source, smtp-sink): a cpuacct cgroup that this process joins before
    starting anything, so all of them inherit it; this process's own time
    is subtracted.  Other work on the machine
    (the parallel compiles) stays out of it, which /proc/stat cannot do.
    Falls back to /proc/stat (busy time of all cores) without cgroup v1
    cpuacct.  box_seconds() is /proc/stat in both cases."""

    ROOT = "/sys/fs/cgroup/cpuacct"

    def __init__(self, name: str = "mm-bench"):
        self.path = os.path.join(self.ROOT, name)
        self.source = "/proc/stat (all processes on the machine)"
        try:
            os.makedirs(self.path, exist_ok=True)
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            self.source = "cgroup cpuacct (the benchmark's processes only)"
            self.joined = True
        except OSError:
            self.joined = False

    def seconds(self) -> float:
        if self.joined:
            with open(os.path.join(self.path, "cpuacct.usage")) as f:
                usage = int(f.read()) / 1e9
            # minus this process: its polling is not part of the mail path,
            # and a slow mode would pay for more of it per message
            own = os.times()
            return usage - own.user - own.system
        return self.box_seconds()

    @staticmethod
    def _all_cpus() -> list:
        """The "cpu" line of /proc/stat in ticks: user nice system idle
        iowait irq softirq steal (steal 0 where the kernel has none)."""
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v + [0] * (8 - len(v))

    @staticmethod
    def steal_seconds() -> float:
        """Time the hypervisor ran something else while a vCPU of this VM
        wanted to run, summed over the vCPUs."""
        return CpuMeter._all_cpus()[7] / CLK_TCK

    @staticmethod
    def box_seconds() -> float:
        v = CpuMeter._all_cpus()
        return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK

    def leave(self):
        """Back to the root group; the group goes once its last process has."""
        if not self.joined:
            return
        try:
            with open(os.path.join(self.ROOT, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            for _ in range(50):
                try:
                    os.rmdir(self.path)
                    return
                except OSError:
                    time.sleep(0.1)
        except OSError:
            pass


def file_size(path: str) -> int:
    """0 for a file not written yet."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def proc_cpu_seconds(pid: Optional[int]) -> float:
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    except OSError:
        return 0.0


# --------------------------------------------------------------------------
# the Postfix world


class BenchHarness(Harness):
    """The integration harness with a counting sink and one extra smtpd
    listener per mode besides marketplace (the harness's own listener)."""

    def __init__(self, *a, mode_milters: dict, **kw):
        super().__init__(*a, **kw)
        self.mode_milters = mode_milters  # mode -> smtpd_milters value
        self.mode_ports: dict = {}

    def _start_sink(self):
        os.makedirs(self.dump_dir)  # unused, but the harness expects it
        self.sink_out = self.p("sink.counter")
        # -c: "sess=N quit=N mesg=N" after every transaction, nothing stored
        self._spawn_sink(["-c", f"127.0.0.1:{self.sink_port}", "256"], self.sink_out)

    def _start_postfix(self):
        self.mode_ports = {"marketplace": self.smtpd_port}
        extra = ""
        for mode, milter in self.mode_milters.items():
            port = self.mode_ports[mode] = free_port()
            # Same cleanup service as the marketplace listener (its
            # header_checks), so the listeners differ only in the milter.
            # The template is str.format()ed: no braces in here.
            extra += (f"127.0.0.1:{port} inet n - n - - smtpd\n"
                      f"  -o smtpd_milters={milter}\n"
                      "  -o cleanup_service_name=mkt-cleanup\n")
        self.MASTER_CF = Harness.MASTER_CF + extra
        super()._start_postfix()
        for mode, port in self.mode_ports.items():
            wait_for(lambda: port_accepts(port), 20, f"smtpd for mode {mode} on port {port}",
                     on_timeout=lambda: tail(self.maillog))

    def sink_count(self) -> int:
        """The sink's mesg counter (completed DATA transactions)."""
        with open(self.sink_out, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256))
            data = f.read().decode("ascii", "replace")
        for rec in reversed(data.replace("\n", "\r").split("\r")):
            if "mesg=" in rec:
                try:
                    return int(rec.rsplit("mesg=", 1)[1].split()[0])
                except (ValueError, IndexError):
                    continue  # a record cut by the seek
        return 0

    def log_size(self) -> int:
        return file_size(self.maillog)

    def log_since(self, offset: int) -> str:
        try:
            with open(self.maillog, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def audit_size(self) -> int:
        return file_size(self.audit_log)

    def audit_since(self, offset: int) -> list:
        with open(self.audit_log, "rb") as f:
            f.seek(offset)
            data = f.read()
        return [json.loads(ln) for ln in data.split(b"\n") if ln.strip()]


# Postfix logs a refusal as "reject: STAGE from HOST: [CODE ]X.Y.Z text" (NOQUEUE
# and milter-reject alike); X is 5 for a rejection, 4 for a tempfail.
REJECT_RE = re.compile(r"reject: \S+ from \S+: (?:\d{3} )?([45])\.\d{1,3}\.\d{1,3}")


def count_refusals(log: str) -> dict:
    out = {"rejects": 0, "tempfails": 0, "milter_warnings": 0, "not_delivered": 0}
    for line in log.splitlines():
        m = REJECT_RE.search(line)
        if m:
            out["rejects" if m.group(1) == "5" else "tempfails"] += 1
        elif "warning: milter" in line:
            out["milter_warnings"] += 1
        elif "status=deferred" in line or "status=bounced" in line:
            out["not_delivered"] += 1
    return out


def percentile(values: list, q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


# --------------------------------------------------------------------------
# one run


@dataclasses.dataclass
class Run:
    mode: str
    workload: str
    n: int
    sessions: int
    round: int = 0
    delivered: int = 0
    seconds: float = 0.0          # start -> N-th arrival at the sink
    source_seconds: float = 0.0   # smtp-source's own wall time
    cpu_s: float = 0.0            # see CpuMeter
    box_cpu_s: float = 0.0        # /proc/stat, whole machine
    milter_cpu_s: float = 0.0     # the filter's own process (marketplace or null) only
    steal_s: float = 0.0          # /proc/stat steal, all vCPUs
    peak_rss_kb: int = 0          # milter (or the peer's processes, summed)
    rejects: int = 0
    tempfails: int = 0
    milter_warnings: int = 0
    not_delivered: int = 0
    decisions: dict = dataclasses.field(default_factory=dict)
    milter_us: list = dataclasses.field(default_factory=list)
    milter_cpu_us: list = dataclasses.field(default_factory=list)
    time_field: str = ""
    scanned: Optional[int] = None  # messages the peer says it scanned
    source_rc: int = 0
    source_err: str = ""

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.n

    @property
    def box_cpu_ms(self) -> float:
        return 1000 * self.box_cpu_s / self.n

    @property
    def steal_ms_per_s(self) -> float:
        return 1000 * self.steal_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def lost(self) -> int:
        return self.n - self.delivered - self.rejects


class Bench:
    def __init__(self, h: BenchHarness, args, meter: CpuMeter, peer_objs: dict,
                 sender: str, recipient: str):
        self.h, self.args, self.meter, self.peers = h, args, meter, peer_objs
        self.sender, self.recipient = sender, recipient
        self.source_proc: Optional[subprocess.Popen] = None

    def port(self, mode: str) -> int:
        return self.h.mode_ports[mode]

    def start_source(self, mode: str, path: str, n: int, sessions: int) -> subprocess.Popen:
        # -A: do not stop at the first 4xx/5xx (refusals are counted from the log)
        cmd = [SMTP_SOURCE, "-A", "-s", str(sessions), "-m", str(n), "-F", path,
               "-f", self.sender, "-t", self.recipient, f"127.0.0.1:{self.port(mode)}"]
        self.source_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        return self.source_proc

    def kill_source(self):
        p = self.source_proc
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()

    def warm_up(self, mode: str, path: str, sessions: int):
        """2 x sessions messages, not measured: smtpd/cleanup/smtp processes,
        the milters' workers and caches."""
        self.h.wait_queue_empty(300)
        base = self.h.sink_count()
        p = self.start_source(mode, path, 2 * sessions, sessions)
        p.communicate(timeout=self.args.timeout)
        wait_for(lambda: self.h.sink_count() - base >= 2 * sessions, 120,
                 f"{mode} warm-up at the sink", on_timeout=self.h.diagnostics)
        self.h.wait_queue_empty(120)

    def watched_pids(self, mode: str) -> list:
        if mode == "marketplace":
            return [self.h._milter.pid]
        if mode in self.peers:
            return self.peers[mode].pids()
        return []

    def scanned(self, mode: str) -> Optional[int]:
        return self.peers[mode].messages_scanned() if mode in self.peers else None

    def measure(self, mode: str, workload: str, path: str, n: int, sessions: int,
                warm: bool = True) -> Run:
        run = Run(mode, workload, n, sessions)
        if warm:
            self.warm_up(mode, path, sessions)
        else:
            self.h.wait_queue_empty(300)
        pids = self.watched_pids(mode)
        peers.reset_peak_rss(pids)
        scanned0 = self.scanned(mode)
        base, log_off, audit_off = self.h.sink_count(), self.h.log_size(), self.h.audit_size()
        # The filter's own process, where it is one process (not the peers'
        # worker pools): marketplace-milter, or the null filter.
        mpid = (self.h._milter.pid if mode == "marketplace"
                else self.peers[mode].procs[0].pid if mode in ("null", "floor") else None)
        m0, c0, b0 = proc_cpu_seconds(mpid), self.meter.seconds(), self.meter.box_seconds()
        st0 = self.meter.steal_seconds()
        t0 = time.monotonic()
        src = self.start_source(mode, path, n, sessions)
        got, t_last, t_src, peak = self.wait_arrivals(src, base, n, t0, mode, pids)
        c1, b1, m1 = self.meter.seconds(), self.meter.box_seconds(), proc_cpu_seconds(mpid)
        run.steal_s = self.meter.steal_seconds() - st0
        try:
            _, err = src.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill_source()
            err = b"smtp-source still running 60 s after the last arrival; killed"
        run.source_seconds = (t_src or time.monotonic()) - t0
        run.source_rc, run.source_err = src.returncode, err.decode(errors="replace").strip()[-300:]
        # late arrivals after a give-up still count as delivered (not lost)
        self.h.wait_queue_empty(120)
        run.delivered = max(got, self.h.sink_count() - base)
        run.seconds = t_last - t0
        run.cpu_s, run.box_cpu_s, run.milter_cpu_s = c1 - c0, b1 - b0, m1 - m0
        run.peak_rss_kb = max(peak, self.peak_rss(mode, pids))
        for k, v in count_refusals(self.h.log_since(log_off)).items():
            setattr(run, k, v)
        if mode == "marketplace":
            self.read_audit(run, audit_off)
        s1 = self.scanned(mode)
        if scanned0 is not None and s1 is not None:
            run.scanned = s1 - scanned0
        return run

    def peak_rss(self, mode: str, pids: list) -> int:
        """Peak RSS in kB since reset_peak_rss: the milter's VmHWM; for a
        peer, the sum of its processes' VmHWM (workers come and go, so
        wait_arrivals also samples it during the run)."""
        live = set(pids) | set(self.watched_pids(mode))
        return sum(peers.status_kb(p, "VmHWM") for p in live)

    def wait_arrivals(self, src, base: int, n: int, t0: float, mode: str, pids: list):
        """Polls the sink counter until n messages arrived after base.
        Gives up when smtp-source has exited, the queue is empty and the
        count has not moved for 3 s (or at the timeout).  Returns (arrived,
        time of the last arrival, time smtp-source exited or None, peak RSS
        sampled on the way)."""
        deadline = t0 + self.args.timeout
        last, last_change, peak, next_sample, t_src = 0, time.monotonic(), 0, 0.0, None
        while True:
            got = self.h.sink_count() - base
            now = time.monotonic()
            if t_src is None and src.poll() is not None:
                t_src = now
            if got != last:
                last, last_change = got, now
            if now >= next_sample and mode in self.peers:
                peak = max(peak, self.peak_rss(mode, pids))
                next_sample = now + 0.25
            if got >= n:
                return got, last_change, t_src, peak
            idle = now - last_change > 3.0
            if (idle and t_src is not None and not self.h.queue_files()) or now > deadline:
                return got, last_change, t_src, peak
            time.sleep(0.005)

    def read_audit(self, run: Run, offset: int):
        lines = self.h.audit_since(offset)
        for a in lines:
            run.decisions[a.get("decision")] = run.decisions.get(a.get("decision"), 0) + 1
        # milter_us: time inside the milter's callbacks; older builds only
        # have elapsed_us (MAIL FROM -> end of message, wall time).
        field = "milter_us" if lines and all("milter_us" in a for a in lines) else "elapsed_us"
        run.time_field = field
        run.milter_us = [int(a[field]) for a in lines if field in a]
        run.milter_cpu_us = [int(a["milter_cpu_us"]) for a in lines if "milter_cpu_us" in a]


def check_run(run: Run, expect_decision: Optional[str] = "modify") -> list:
    """Everything that makes a run's numbers meaningless; [] if none."""
    tag = f"{run.workload}/{run.mode} round {run.round}"
    out = []
    if run.delivered != run.n:
        out.append(f"{tag}: the sink received {run.delivered} of {run.n} messages")
    if run.rejects or run.tempfails:
        out.append(f"{tag}: {run.rejects} reject(s), {run.tempfails} tempfail(s) in the log")
    if run.milter_warnings:
        out.append(f"{tag}: {run.milter_warnings} 'warning: milter' line(s) in the log")
    if run.source_rc:
        out.append(f"{tag}: smtp-source exited {run.source_rc}: {run.source_err}")
    if run.mode == "marketplace" and expect_decision:
        if run.decisions.get(expect_decision, 0) != run.n:
            out.append(f"{tag}: audit decisions {run.decisions}, expected {run.n} "
                       f"{expect_decision!r}")
    if run.scanned is not None and run.scanned < run.n:
        out.append(f"{tag}: {run.mode} says it scanned {run.scanned} of {run.n} messages")
    return out


# --------------------------------------------------------------------------
# the workloads and what the policy must do with them


def dry_run(h: Harness, sender: str, recipient: str, path: str) -> dict:
    r = h.cli("test", "--from", sender, path, "--rcpt", recipient)
    return json.loads(r.stdout)


def verify_workload(name: str, verdict: dict) -> list:
    """The decision `marketplace-milter test` must print for each workload:
    modified (alias rewrite), never refused, and for mime/strip the links
    and the .exe gone while the PDF and the carrier links stay."""
    problems = []
    rules = [r["id"] for r in verdict.get("rules", [])]
    atts = {a["name"]: a for a in verdict.get("attachments", [])}
    removed = {link["domain"] for link in verdict.get("links_removed", [])}
    if verdict.get("decision") != "modify" or "alias.rewrite" not in rules:
        problems.append(f"decision {verdict.get('decision')} rules {rules}")
    if verdict.get("content_hits"):
        problems.append(f"content rules hit: {verdict['content_hits']}")
    if removed & {"ups.com", "dhl.de"}:
        problems.append(f"allow-listed carrier links removed: {sorted(removed)}")
    if name == "small" and (atts or removed):
        problems.append(f"attachments {list(atts)} / links removed {sorted(removed)}")
    if name in ("mime", "strip", "big"):
        pdf = [a for a in atts.values() if a["name"].endswith(".pdf")]
        if not pdf or pdf[0]["detected_type"] != "application/pdf" or not pdf[0]["kept"]:
            problems.append(f"the PDF was not detected and kept: {pdf}")
    if name in ("mime", "strip") and "shop-example.net" not in removed:
        problems.append(f"shop-example.net links not removed (removed: {sorted(removed)})")
    if name == "strip":
        exe = atts.get("setup.exe")
        if not exe or exe["kept"] or "executable" not in exe["detected_type"]:
            problems.append(f"setup.exe not stripped as an executable: {exe}")
    elif "setup.exe" in atts:
        problems.append("unexpected setup.exe")
    return [f"workload {name}: {p}" for p in problems]


def describe_workload(name: str, verdict: dict) -> str:
    removed = len(verdict.get("links_removed", []))
    stripped = [a["name"] for a in verdict.get("attachments", []) if not a["kept"]]
    return (f"{verdict['decision']}: alias rewrite, {removed} link(s) removed"
            + (f", {', '.join(stripped)} stripped" if stripped else ""))


# --------------------------------------------------------------------------
# summaries


def med(values: list) -> float:
    return statistics.median(values) if values else float("nan")


def med_range(values: list, fmt: str) -> str:
    if not values:
        return "-"
    return (f"{fmt.format(med(values))} ({fmt.format(min(values))}–"
            f"{fmt.format(max(values))})")


def verdict(ok: Optional[bool]) -> str:
    return "info" if ok is None else ("PASS" if ok else "MISS")


def summarize(runs: list, workloads_: list, modes: list) -> tuple:
    """Markdown table lines and the target checks [(text, ok)]."""
    lines = ["| workload | mode | msg/s | CPU ms/msg | added CPU ms/msg | box CPU ms/msg "
             "| peak RSS MB | milter p50 / p99 ms | rej / tmpf / lost |",
             "|---|---|---|---|---|---|---|---|---|"]
    checks = []
    added_by_wl = {}
    for wl in workloads_:
        by = {m: [r for r in runs if r.workload == wl and r.mode == m] for m in modes}
        rate = {m: med([r.rate for r in rs]) for m, rs in by.items() if rs}
        cpu = {m: med([r.cpu_ms for r in rs]) for m, rs in by.items() if rs}
        added = {m: cpu[m] - cpu["none"] for m in cpu if "none" in cpu and m != "none"}
        added_by_wl[wl] = added
        for m in modes:
            rs = by[m]
            if not rs:
                continue
            us = [u for r in rs for u in r.milter_us]
            lat = (f"{percentile(us, 50) / 1000:.2f} / {percentile(us, 99) / 1000:.2f}"
                   if us else "-")
            rss = max(r.peak_rss_kb for r in rs) / 1024
            lines.append(
                f"| {wl} | {m} | {med_range([r.rate for r in rs], '{:.0f}')} "
                f"| {med_range([r.cpu_ms for r in rs], '{:.2f}')} "
                f"| {'-' if m not in added else f'{added[m]:+.2f}'} "
                f"| {med([r.box_cpu_ms for r in rs]):.2f} "
                f"| {'-' if m == 'none' else f'{rss:.0f}'} | {lat} "
                f"| {sum(r.rejects for r in rs)} / {sum(r.tempfails for r in rs)} / "
                f"{sum(r.lost for r in rs)} |")
        checks += target_checks(wl, by, rate, added)
    # utime+stime of the filter process alone: the part of "added CPU" spent
    # in the filter; the rest is Postfix's side of the protocol (and the
    # kernel's) for the same messages
    for mode, name in (("marketplace", "marketplace-milter"), ("null", "null filter"),
                       ("floor", "floor filter")):
        own = []
        for wl in workloads_:
            ms = [1000 * r.milter_cpu_s / r.n for r in runs
                  if r.workload == wl and r.mode == mode]
            if ms:
                added = added_by_wl[wl].get(mode)
                outside = "" if added is None else f" (added CPU outside it: {added - med(ms):+.2f})"
                own.append(f"{wl} {med(ms):.2f}{outside}")
        if own:
            lines += ["", f"{name} process CPU ms/msg (utime+stime, median): " + ", ".join(own)]
    return lines, checks


def paired_ratio(by: dict, mode: str, base: str) -> list:
    """Each round's `mode` run against the same round's `base` run (adjacent
    in time): this machine's speed drifts by tens of percent over minutes,
    which a ratio of the two medians, taken from different minutes, carries
    in full."""
    base_by_round = {r.round: r.rate for r in by.get(base, [])}
    return [r.rate / base_by_round[r.round] for r in by.get(mode, [])
            if base_by_round.get(r.round)]


def own_cpu_ms(runs: list) -> float:
    """The filter process's own CPU per message (utime+stime), median."""
    return med([1000 * r.milter_cpu_s / r.n for r in runs if r.n])


def floor_checks(wl: str, by: dict, added: dict) -> list:
    """Issue 18's targets: marketplace against the floor filter of the same
    run."""
    out = []
    if not by.get("floor") or not by.get("marketplace"):
        return out
    ratios = paired_ratio(by, "marketplace", "floor")
    if ratios:
        ratio = med(ratios)
        out.append((f"{wl}: marketplace/floor throughput {ratio:.2f} (median of {len(ratios)} "
                    f"rounds' ratios, {min(ratios):.2f}–{max(ratios):.2f}; target ≥ "
                    f"{MIN_FLOOR_RATIO[wl]:.2f})", ratio >= MIN_FLOOR_RATIO[wl]))
    own, floor_own = own_cpu_ms(by["marketplace"]), own_cpu_ms(by["floor"])
    above = own - floor_own
    out.append((f"{wl}: marketplace's own process CPU {own:.2f} ms/msg, {above:+.2f} above the "
                f"floor filter's {floor_own:.2f} (target ≤ {MAX_OWN_CPU_ABOVE_FLOOR_MS[wl]:.2f})",
                above <= MAX_OWN_CPU_ABOVE_FLOOR_MS[wl]))
    if "marketplace" in added and "floor" in added:
        # Added CPU outside the filter process: Postfix's side of the
        # protocol (and the kernel's) for the same messages.
        mk_side, floor_side = added["marketplace"] - own, added["floor"] - floor_own
        limit = MAX_POSTFIX_SIDE_VS_FLOOR * floor_side
        out.append((f"{wl}: Postfix's side of marketplace's added CPU {mk_side:+.2f} ms/msg ≤ "
                    f"{MAX_POSTFIX_SIDE_VS_FLOOR:.1f} × the floor's {floor_side:+.2f} = "
                    f"{limit:+.2f}", mk_side <= limit))
    return out


def target_checks(wl: str, by: dict, rate: dict, added: dict) -> list:
    out = []
    if "marketplace" not in rate:
        return out
    out += floor_checks(wl, by, added)
    mk = rate["marketplace"]
    if "none" in rate:
        paired = paired_ratio(by, "marketplace", "none")
        ratio = med(paired)
        out.append((f"{wl}: marketplace/none throughput {ratio:.2f} (median of "
                    f"{len(paired)} rounds' ratios, {min(paired):.2f}–{max(paired):.2f}; "
                    f"ratio of the medians {mk / rate['none']:.2f}; earlier target ≥ "
                    f"{MIN_RATIO[wl]:.2f}, {'met' if ratio >= MIN_RATIO[wl] else 'not met'})",
                    None))
        if "floor" in by:
            floor = med(paired_ratio(by, "floor", "none"))
            out.append((f"{wl}: floor/none throughput {floor:.2f} (libmilter and marketplace's "
                        f"edits, no work; the same pairing)", None))
    for peer, share in (("rspamd", MAX_SHARE_OF_RSPAMD), ("mimedefang", MAX_SHARE_OF_MIMEDEFANG)):
        if peer in rate:
            out.append((f"{wl}: marketplace/{peer} throughput {mk / rate[peer]:.2f} (target: "
                        f"ahead, > 1)", mk > rate[peer]))
        if peer in added and "marketplace" in added:
            limit = added[peer] * share
            out.append((f"{wl}: marketplace added CPU {added['marketplace']:.2f} ms/msg against "
                        f"{'1/3' if peer == 'rspamd' else '1/8'} of {peer}'s "
                        f"{added[peer]:.2f} = {limit:.2f} (earlier target, "
                        f"{'met' if added['marketplace'] <= limit else 'not met'})", None))
            if "floor" in added:
                out.append((f"{wl}: the floor (libmilter and marketplace's edits, no work) adds "
                            f"{added['floor']:.2f} ms/msg, "
                            f"{'under' if added['floor'] <= limit else 'OVER'} that limit",
                            None))
    if "null" in added and "marketplace" in added:
        out.append((f"{wl}: libmilter floor (null filter) adds {added['null']:.2f} ms/msg; "
                    f"marketplace's own work above it {added['marketplace'] - added['null']:.2f}",
                    None))
    if wl in MAX_P99_MS:
        us = [u for r in by["marketplace"] for u in r.milter_us]
        if us:
            field = by["marketplace"][0].time_field
            p99 = percentile(us, 99) / 1000
            out.append((f"{wl}: milter p99 {p99:.2f} ms from {field} (target ≤ "
                        f"{MAX_P99_MS[wl]:.0f} ms)", p99 <= MAX_P99_MS[wl]))
            # A vCPU the hypervisor has paused stops a callback in the
            # middle, realtime priority or not: the wall time grows by the
            # pause.
            steal = [r.steal_ms_per_s for r in by["marketplace"]]
            out.append((f"{wl}: hypervisor steal during the marketplace runs "
                        f"{med(steal):.1f} ms per second of wall time ({min(steal):.1f}–"
                        f"{max(steal):.1f}; /proc/stat, both vCPUs)", None))
        cpu_us = [u for r in by["marketplace"] for u in r.milter_cpu_us]
        if cpu_us:
            # The same callbacks in CPU time: the milter's own work, without
            # the waits for one of the two cores the whole box shares.
            out.append((f"{wl}: milter CPU time per message p50 "
                        f"{percentile(cpu_us, 50) / 1000:.2f} ms, p99 "
                        f"{percentile(cpu_us, 99) / 1000:.2f} ms (milter_cpu_us)", None))
    return out


# --------------------------------------------------------------------------
# the report


def machine_line(h: Harness) -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pf = subprocess.run(["postconf", "-c", h.conf_dir, "-h", "mail_version"],
                        capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} CPUs ({model}), kernel {platform.release()}, "
            f"Postfix {pf}, {peer_versions()}")


def peer_versions() -> str:
    out = []
    for pkg in ("mimedefang", "rspamd"):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True)
        out.append(f"{pkg} {r.stdout.strip() or 'not installed'}")
    return ", ".join(out)


def git_commit() -> str:
    def git(*a):
        return subprocess.run(["git", "-C", REPO, *a], capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + ("+uncommitted changes" if dirty else "")


RESULTS_HEADER = """\
# scripts/bench results

Appended by `scripts/bench` (see bench/README.md for the columns and the
setup).  Compare numbers from one sitting only: this machine's speed drifts
by tens of percent from minute to minute.
"""


def append_results(path: str, text: str):
    new = not os.path.exists(path)
    with open(path, "a", encoding="utf-8") as f:
        if new:
            f.write(RESULTS_HEADER)
        f.write("\n" + text)


# --------------------------------------------------------------------------
# the memory scenario


def memory_scenario(bench: Bench, h: BenchHarness, args) -> tuple:
    """args.mem_messages ~10 MB messages over args.mem_sessions concurrent
    sessions into the marketplace listener.  Returns (report lines, checks,
    problems)."""
    path = h.p("big.eml")
    size = workloads.write(path, workloads.big(bench.sender, bench.recipient,
                                               pdf_bytes=args.mem_pdf_bytes))
    problems = verify_workload("big", dry_run(h, bench.sender, bench.recipient, path))
    if problems:
        return [], [], problems
    run = bench.measure("marketplace", "big", path, args.mem_messages, args.mem_sessions,
                        warm=False)
    verdicts = run.delivered + run.rejects
    rss_mb = run.peak_rss_kb / 1024
    us = run.milter_us
    lines = [f"Memory scenario: {args.mem_messages} messages of {size / 1e6:.1f} MB over "
             f"{args.mem_sessions} concurrent sessions into marketplace-milter: "
             f"{run.delivered} delivered, {run.rejects} refused, {run.tempfails} tempfailed, "
             f"{run.lost} lost in {run.seconds:.1f} s; milter peak RSS (VmHWM) "
             f"{rss_mb:.0f} MB" + (f"; {run.time_field} p50 {percentile(us, 50) / 1000:.0f} ms, "
                                   f"p99 {percentile(us, 99) / 1000:.0f} ms" if us else "")]
    full = args.mem_sessions >= 100 and args.mem_messages >= 100 and size >= 9_500_000
    checks = [(f"memory: milter peak RSS {rss_mb:.0f} MB (target ≤ {MAX_MEMORY_RSS_MB} MB"
               + ("" if full else f"; judged only at 100 x 10 MB, this was "
                  f"{args.mem_sessions} sessions") + ")",
               (rss_mb <= MAX_MEMORY_RSS_MB) if full else None),
              (f"memory: every message got its verdict ({verdicts}/{run.n}, "
               f"{run.tempfails} tempfailed, {run.lost} lost)",
               verdicts == run.n and run.tempfails == 0)]
    return lines, checks, []


# --------------------------------------------------------------------------
# main


def parse_args():
    ap = argparse.ArgumentParser(description="marketplace-milter end-to-end benchmark "
                                             "(usually run through scripts/bench)")
    ap.add_argument("--quick", action="store_true",
                    help="1 round, small N, a small memory scenario (< 3 minutes)")
    ap.add_argument("--rounds", type=int, help="rounds per mode and workload (default 5)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of small,mime,strip")
    ap.add_argument("--modes", default=None,
                    help=f"comma-separated subset of {','.join(MODES)} (default: all)")
    ap.add_argument("--no-peers", action="store_true",
                    help="without MIMEDefang and rspamd: of --modes if given, else none,marketplace")
    ap.add_argument("-n", "--messages", type=int,
                    help="messages per run (default 2000 small, 1000 mime/strip)")
    ap.add_argument("-s", "--sessions", type=int, default=20, help="smtp-source -s (20)")
    ap.add_argument("--memory", choices=("yes", "no"), default="yes",
                    help="run the memory scenario (default yes)")
    ap.add_argument("--mem-sessions", type=int, help="default 100 (quick: 20)")
    ap.add_argument("--mem-messages", type=int, help="default 100 (quick: 20)")
    ap.add_argument("--timeout", type=float, default=900, help="per run, seconds")
    ap.add_argument("--binary", help="marketplace-milter (default $MM_BINARY or build/)")
    ap.add_argument("--null-binary", default=os.environ.get("MM_NULL_BINARY", ""),
                    help="bench/null_milter for the null mode (default $MM_NULL_BINARY; "
                         "without it the null mode is left out)")
    ap.add_argument("--milter-socket", choices=("unix", "inet"), default="unix",
                    help="how Postfix reaches marketplace-milter (default unix, as for "
                         "MIMEDefang; inet = TCP loopback)")
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                    help="the milter's store: sqlite (default) or postgres (a throwaway "
                         "PostgreSQL in the work directory, tests/support/pg_server)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a marketplace-milter.yaml setting for this run, e.g. "
                         "realtime_priority=0 (repeatable; integers stay integers)")
    ap.add_argument("--workdir", default="/var/tmp/mm-bench",
                    help="state, logs, peers' configs (rspamd keeps its compiled "
                         "regexp cache here between runs)")
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"),
                    help="markdown file the table is appended to ('' = none)")
    ap.add_argument("--json", help="also write every run's numbers here")
    args = ap.parse_args()
    args.milter_settings = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--set {item!r}: expected KEY=VALUE")
        args.milter_settings[key] = int(value) if value.lstrip("-").isdigit() else value
    args.workloads = [w for w in args.workloads.split(",") if w]
    # --no-peers alone keeps its old meaning (none and marketplace); with
    # --modes it only drops the peers, so "--modes none,floor,marketplace
    # --no-peers" keeps the floor.
    modes_given = args.modes is not None
    args.modes = [m for m in (args.modes or ",".join(MODES)).split(",") if m]
    if args.no_peers:
        args.modes = ([m for m in args.modes if m not in ("mimedefang", "rspamd")]
                      if modes_given else ["none", "marketplace"])
    if not os.access(args.null_binary or "/nonexistent", os.X_OK):
        for m in ("null", "floor"):
            if m in args.modes:
                print(f"e2e_bench: no null_milter binary (--null-binary): leaving out the {m} mode",
                      file=sys.stderr)
                args.modes.remove(m)
    for w in args.workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}")
    for m in args.modes:
        if m not in MODES:
            ap.error(f"unknown mode {m}")
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.n = {w: args.messages or (QUICK_N if args.quick else DEFAULT_N)[w] for w in WORKLOADS}
    args.mem_sessions = args.mem_sessions or (20 if args.quick else 100)
    args.mem_messages = args.mem_messages or (20 if args.quick else 100)
    args.mem_pdf_bytes = 7_300_000
    return args


def mode_order(modes: list, rnd: int) -> list:
    """A B C D, then D C B A, ...: drift during a round does not favour a mode."""
    return list(modes) if rnd % 2 == 0 else list(reversed(modes))


def main() -> int:
    args = parse_args()
    if os.geteuid() != 0:
        print("e2e_bench: must run as root (Postfix master, MIMEDefang, rspamd)", file=sys.stderr)
        return 2
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    os.makedirs(args.workdir, exist_ok=True)
    os.chmod(args.workdir, 0o755)  # smtp-sink, defang and _rspamd work below it
    # Starting reaps what a killed run left in the work directory: a second
    # benchmark on the same directory would kill the first one's processes.
    lock = open(os.path.join(args.workdir, ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"e2e_bench: another benchmark is using {args.workdir} (--workdir)",
              file=sys.stderr)
        return 2
    peers.reap_stale(args.workdir)
    meter = CpuMeter()
    peer_objs: dict = {}
    h: Optional[BenchHarness] = None
    bench: Optional[Bench] = None
    pg: Optional[PgServer] = None
    started = time.monotonic()
    args.commit = git_commit()  # now: the tree may change while the benchmark runs
    try:
        for mode, make in (("null", lambda: peers.NullMilter(args.workdir, args.null_binary)),
                           ("floor", lambda: peers.FloorMilter(args.workdir, args.null_binary)),
                           ("mimedefang", lambda: peers.MIMEDefang(args.workdir)),
                           ("rspamd", lambda: peers.Rspamd(args.workdir))):
            if mode in args.modes:
                t = time.monotonic()
                peer_objs[mode] = make().start()
                print(f"{mode} up ({peer_objs[mode].milter}) in {time.monotonic() - t:.0f} s",
                      flush=True)
        milters = {m: (peer_objs[m].milter if m in peer_objs else "")
                   for m in args.modes if m != "marketplace"}
        store = {}
        if args.store == "postgres":
            # A fresh database per run on a server kept in the work directory;
            # the harness migrates it before the daemon starts.
            pg = PgServer(os.path.join(args.workdir, "postgres"))
            pg.start()
            store = {"store": {"type": "postgres", "dsn": pg.database()}}
        h = BenchHarness("bench", binary=args.binary, workdir=os.path.join(args.workdir, "run"),
                         keep=True, mode_milters=milters, milter_socket=args.milter_socket,
                         config={**args.milter_settings, **store})
        h.start()
        pair = h.provision(BUYER, SELLER)
        sender, recipient = BUYER.address, pair["seller_alias"]
        bench = Bench(h, args, meter, peer_objs, sender, recipient)
        return run_all(bench, h, args, meter, started)
    except Interrupted as e:
        print(f"\ne2e_bench: interrupted ({e}); stopping everything", file=sys.stderr)
        return 130
    except HarnessError as e:
        print(f"e2e_bench: {e}", file=sys.stderr)
        return 1
    finally:
        if bench is not None:
            bench.kill_source()
        if h is not None:
            h.stop()
        for p in peer_objs.values():
            p.stop()
        if pg is not None:
            pg.stop()
        meter.leave()


def run_all(bench: Bench, h: BenchHarness, args, meter: CpuMeter, started: float) -> int:
    paths, problems = {}, []
    print(f"milter {h.binary}; buyer {bench.sender} -> seller alias {bench.recipient}; "
          f"CPU from {meter.source}", flush=True)
    for wl in args.workloads:
        paths[wl] = h.p(f"{wl}.eml")
        size = workloads.write(paths[wl], workloads.WORKLOADS[wl](bench.sender, bench.recipient))
        v = dry_run(h, bench.sender, bench.recipient, paths[wl])
        problems += verify_workload(wl, v)
        print(f"workload {wl}: {size} bytes, N={args.n[wl]}; marketplace-milter test: "
              f"{describe_workload(wl, v)}", flush=True)
    if problems:
        print("e2e_bench: workloads do not get the expected decision:\n  "
              + "\n  ".join(problems), file=sys.stderr)
        return 1

    runs = []
    print(f"{'round':>5} {'workload':<8} {'mode':<12} {'delivered':>11} {'msg/s':>7} "
          f"{'CPU ms/msg':>10} {'box ms':>7} {'RSS MB':>7} {'rej/tmpf':>8}", flush=True)
    for rnd in range(args.rounds):
        for wl in args.workloads:
            for mode in mode_order(args.modes, rnd):
                run = bench.measure(mode, wl, paths[wl], args.n[wl], args.sessions)
                run.round = rnd + 1
                runs.append(run)
                problems += check_run(run)
                print(f"{run.round:>5} {wl:<8} {mode:<12} {run.delivered:>5}/{run.n:<5} "
                      f"{run.rate:>7.0f} {run.cpu_ms:>10.2f} {run.box_cpu_ms:>7.2f} "
                      f"{run.peak_rss_kb / 1024:>7.0f} {run.rejects:>3}/{run.tempfails:<4}",
                      flush=True)
                if problems:  # fail loudly: numbers from a lossy run mean nothing
                    print("e2e_bench: FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
                    print(h.diagnostics(), file=sys.stderr)
                    return 1

    mem_lines, mem_checks = [], []
    if args.memory == "yes":
        print(f"memory scenario: {args.mem_messages} x ~10 MB over {args.mem_sessions} "
              "sessions ...", flush=True)
        mem_lines, mem_checks, mem_problems = memory_scenario(bench, h, args)
        problems += mem_problems
    else:
        mem_lines = ["Memory scenario: skipped (--memory no)."]

    table, checks = summarize(runs, args.workloads, args.modes)
    checks += mem_checks
    field = next((r.time_field for r in runs if r.time_field), "")
    report = build_report(h, args, table, checks, mem_lines, field, meter,
                          time.monotonic() - started, runs)
    print("\n" + report, flush=True)
    if args.results:
        append_results(args.results, report)
        print(f"appended to {args.results}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dataclasses.asdict(r) | {"rate": r.rate} for r in runs], f, indent=1)
    if problems:
        print("e2e_bench: FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


def build_report(h, args, table, checks, mem_lines, field, meter, elapsed, runs) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    kind = "--quick" if args.quick else "full"
    ns = ", ".join(f"{w} N={args.n[w]}" for w in args.workloads)
    sizes = {r.workload: os.path.getsize(h.p(f"{r.workload}.eml")) for r in runs}
    binary = os.path.realpath(h.binary)
    if not binary.startswith(REPO + os.sep):
        binary += " (built outside this tree: not necessarily this commit)"
    out = [f"## {now} — {kind} run, commit {args.commit}", "",
           f"- machine: {machine_line(h)}",
           f"- {args.rounds} round(s), modes {', '.join(args.modes)} alternating "
           f"(order reversed every round); {args.sessions} sessions; {ns}; "
           f"sizes {', '.join(f'{w} {s} B' for w, s in sizes.items())}",
           f"- milter binary {binary}, reached over {args.milter_socket} socket; "
           f"store {args.store}"
           + "".join(f"; {k}: {v}" for k, v in args.milter_settings.items()),
           f"- CPU ms/msg: {meter.source}; box CPU: /proc/stat, whole machine "
           f"(other work included); milter time from the audit log's "
           f"`{field or 'n/a'}`" + ("" if field == "milter_us" else
                                    " (MAIL FROM→end of message, wall time: milter_us is "
                                    "not in this build)"),
           f"- every run delivered exactly N, no reject/tempfail; total time "
           f"{elapsed / 60:.1f} min", "", "Medians (min–max) over the rounds:", "", *table, "",
           "Targets:", ""]
    out += [f"- {verdict(ok)} {text}" for text, ok in checks]
    out += ["", *mem_lines, ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
