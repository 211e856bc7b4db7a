#!/usr/bin/env python3
"""SMTP throughput through Postfix with and without marketplace-milter.

One private Postfix (tests/integration/mmharness.py) with two smtpd
listeners that differ only in the milter:

    smtp-source --> 127.0.0.1:P_MILTER  smtpd (smtpd_milters = the milter) --+
    smtp-source --> 127.0.0.1:P_NONE    smtpd (-o smtpd_milters=)          --+--> smtp-sink -c

The sink runs in counting mode (``smtp-sink -c``: "sess=N quit=N mesg=N"
after every transaction, no dump files), so a run is over when the sink's
mesg counter has grown by exactly N, not when smtp-source exits.

Each run sends N copies of a 2 KB text message from the seller's real
address to the buyer's alias with ``smtp-source -A -s SESSIONS -m N -F
msg.eml`` (one SMTP connection per message, smtp-source's default).  Modes
alternate (none, milter / milter, none / ...), the order reversed every
round, and the table shows medians, because this machine's speed drifts by
tens of percent from minute to minute (see /work/shared/perf-anchors).

Per run:
  accept msg/s   N / smtp-source's wall time (up to the 250 after DATA)
  deliver msg/s  N / (last arrival at the sink - start)        <- headline
  box cpu ms/msg all cores' busy time (/proc/stat) / N: includes Postfix,
                 smtp-source and the sink
  milter cpu ms/msg  utime+stime of the milter process (/proc/PID/stat) / N

Checks (exit 1 if any fails): the sink received exactly N per run, and in
milter runs the Postfix log has no milter-reject / tempfail line and the
audit log got exactly N "modify" lines.

Usage (as root, after building):
    MM_BINARY=build/milter/marketplace-milter python3 bench/smtp_throughput.py
    python3 bench/smtp_throughput.py --rounds 5 -m 4000 -s 20
    python3 bench/smtp_throughput.py --quick          # 1 round, 200 messages: a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
import mmharness  # noqa: E402
from mmharness import Harness, HarnessError, Party, free_port, port_accepts, tail, wait_for  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MODES = ("none", "milter")

SELLER = Party("acme", "seller", "support@acme.example", "Acme Store")
BUYER = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")


class BenchHarness(Harness):
    """The integration harness with a counting sink and a second smtpd
    listener that has no milter."""

    def _start_sink(self):
        os.makedirs(self.dump_dir)  # unused, but the harness lists it
        self.sink_out = self.p("sink.counter")
        out = open(self.sink_out, "wb")
        self._sink = subprocess.Popen(
            [mmharness.SMTP_SINK, "-c", "-u", mmharness.SINK_USER,
             f"127.0.0.1:{self.sink_port}", "256"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self._write_pid("sink.pid", self._sink.pid)

        def up():
            if self._sink.poll() is not None:
                raise HarnessError(f"smtp-sink exited with {self._sink.returncode}:\n"
                                   + tail(self.sink_out))
            return port_accepts(self.sink_port)
        wait_for(up, 10, f"smtp-sink on port {self.sink_port}")

    def _start_postfix(self):
        self.nomilter_port = free_port()
        # An instance attribute shadows the class's master.cf template; it is
        # str.format()ed with smtpd=..., so the extra lines hold no braces.
        self.MASTER_CF = Harness.MASTER_CF + (
            f"127.0.0.1:{self.nomilter_port} inet n - n - - smtpd\n"
            "  -o smtpd_milters=\n")
        super()._start_postfix()
        wait_for(lambda: port_accepts(self.nomilter_port), 20,
                 f"Postfix smtpd (no milter) on port {self.nomilter_port}",
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


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def box_busy_seconds() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK_TCK


def write_message(path: str, seller: str, alias: str, size: int = 2048):
    """A text/plain message of about `size` bytes, LF line endings (smtp-source
    -F sends each line with CRLF and dot-stuffs)."""
    head = (f"From: Acme Support <{seller}>\nTo: <{alias}>\n"
            "Subject: About your order 123-4567\n"
            "Reply-To: Acme Support <support@acme.example>\n"
            "X-Originating-IP: [192.0.2.7]\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n")
    line = "Thank you for your order 123-4567: the engraving is ready for a final check.\n"
    body = ""
    while len(head) + len(body) + len(line) <= size:
        body += line
    with open(path, "w") as f:
        f.write(head + body)
    return len(head) + len(body)


class Bench:
    def __init__(self, h: BenchHarness, args, pair: dict, msg_path: str):
        self.h, self.args, self.pair, self.msg_path = h, args, pair, msg_path

    def port(self, mode: str) -> int:
        return self.h.smtpd_port if mode == "milter" else self.h.nomilter_port

    def source(self, mode: str, n: int, sessions: int) -> subprocess.CompletedProcess:
        cmd = [SMTP_SOURCE, "-A", "-s", str(sessions), "-m", str(n),
               "-f", SELLER.address, "-t", self.pair["buyer_alias"], "-F", self.msg_path,
               f"127.0.0.1:{self.port(mode)}"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=self.args.timeout)

    def wait_arrivals(self, base: int, n: int, t0: float) -> tuple[int, float]:
        """Polls the sink counter until n messages arrived after `base`.
        Gives up when the queue is empty and the count has not moved for 2 s
        (or at the timeout).  Returns (arrived, time of the last arrival)."""
        deadline = t0 + self.args.timeout
        last_count, last_change = self.h.sink_count() - base, time.monotonic()
        while True:
            got = self.h.sink_count() - base
            now = time.monotonic()
            if got != last_count:
                last_count, last_change = got, now
            if got >= n:
                return got, last_change
            if now - last_change > 2.0 and not self.h.queue_files():
                return got, last_change
            if now > deadline:
                return got, last_change
            time.sleep(0.01)

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.h.maillog)
        except OSError:
            return 0

    def new_log(self, offset: int) -> str:
        try:
            with open(self.h.maillog, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def audit_count(self) -> int:
        return len(self.h.audit_lines())

    def run(self, mode: str) -> dict:
        n, s = self.args.messages, self.args.sessions
        self.h.wait_queue_empty(120)
        # warm-up: new smtpd processes, caches (not measured)
        wbase = self.h.sink_count()
        self.source(mode, 2 * s, s)
        wait_for(lambda: self.h.sink_count() - wbase >= 2 * s, 60, "warm-up at the sink",
                 on_timeout=self.h.diagnostics)
        self.h.wait_queue_empty(60)

        base = self.h.sink_count()
        log_off = self.log_size()
        audit_before = self.audit_count()
        mpid = self.h._milter.pid
        cpu_m0, cpu_b0 = proc_cpu_seconds(mpid), box_busy_seconds()
        t0 = time.monotonic()
        r = self.source(mode, n, s)
        t_src = time.monotonic() - t0
        got, t_last = self.wait_arrivals(base, n, t0)
        cpu_m1, cpu_b1 = proc_cpu_seconds(mpid), box_busy_seconds()
        elapsed = t_last - t0
        log = self.new_log(log_off)
        rejects = [ln for ln in log.splitlines()
                   if "milter-reject" in ln or " 4.3.0 " in ln or "451 4." in ln
                   or "milter" in ln and ("tempfail" in ln or "warning" in ln)]
        # the sink may still see late arrivals after a give-up: re-read once
        self.h.wait_queue_empty(30)
        got = max(got, self.h.sink_count() - base)
        audit_lines = self.h.audit_lines()[audit_before:]
        res = {
            "mode": mode, "n": n, "arrived": got, "source_rc": r.returncode,
            "source_s": t_src, "deliver_s": elapsed,
            "accept_rate": n / t_src if t_src > 0 else 0.0,
            "deliver_rate": got / elapsed if elapsed > 0 else 0.0,
            "box_cpu_ms": 1000 * (cpu_b1 - cpu_b0) / n,
            "milter_cpu_ms": 1000 * (cpu_m1 - cpu_m0) / n,
            "rejects": len(rejects), "reject_sample": rejects[:3],
            "audit_total": len(audit_lines),
            "audit_modify": sum(1 for a in audit_lines if a.get("decision") == "modify"),
            "source_err": (r.stderr or "").strip().splitlines()[-3:],
        }
        return res


def check(res: dict) -> list:
    problems = []
    tag = f"{res['mode']} run"
    if res["arrived"] != res["n"]:
        problems.append(f"{tag}: sink received {res['arrived']} of {res['n']} messages")
    if res["source_rc"] != 0:
        problems.append(f"{tag}: smtp-source exited {res['source_rc']}: {res['source_err']}")
    if res["rejects"]:
        problems.append(f"{tag}: {res['rejects']} reject/tempfail log line(s), e.g. "
                        f"{res['reject_sample']}")
    if res["mode"] == "milter" and res["audit_modify"] != res["n"]:
        problems.append(f"{tag}: {res['audit_modify']} 'modify' audit lines for {res['n']} "
                        f"messages ({res['audit_total']} lines in all)")
    if res["mode"] == "none" and res["audit_total"]:
        problems.append(f"{tag}: the milter saw {res['audit_total']} message(s) on the "
                        "no-milter listener")
    return problems


def med_range(values: list, fmt: str = "{:.0f}") -> str:
    if not values:
        return "-"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–" \
           f"{fmt.format(max(values))})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="runs per mode (default 3)")
    ap.add_argument("-m", "--messages", type=int, default=2000,
                    help="messages per run (default 2000)")
    ap.add_argument("-s", "--sessions", type=int, default=10,
                    help="parallel smtp-source sessions (default 10)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 round of 200 messages (unless -m/--rounds are given)")
    ap.add_argument("--timeout", type=float, default=600, help="per run, seconds")
    ap.add_argument("--json", help="also write every run's numbers to this file")
    ap.add_argument("--binary", help="marketplace-milter (default: $MM_BINARY or build/)")
    args = ap.parse_args()
    if args.quick:
        given = set(sys.argv[1:])
        if not given & {"--rounds"}:
            args.rounds = 1
        if not given & {"-m", "--messages"}:
            args.messages = 200
    if os.geteuid() != 0:
        print("smtp_throughput: must run as root (Postfix master)", file=sys.stderr)
        return 2
    if not os.access(SMTP_SOURCE, os.X_OK):
        print(f"smtp_throughput: {SMTP_SOURCE} missing (package postfix)", file=sys.stderr)
        return 2

    # smtp-source replays one message from one seller to one buyer; the
    # marketplace rightly refuses the same text twice to a buyer
    # (marketplace.repeat), so the repeat window is the one default switched
    # off here.  Everything else runs as shipped.
    h = BenchHarness("bench", binary=args.binary,
                     policy={"marketplace.repeat_window_hours": 0})
    results, problems = [], []
    try:
        h.start()
        pair = h.provision(BUYER, SELLER)
        msg_path = h.p("msg.eml")
        size = write_message(msg_path, SELLER.address, pair["buyer_alias"])
        bench = Bench(h, args, pair, msg_path)
        print(f"smtp_throughput: {args.rounds} round(s) x {len(MODES)} modes, N={args.messages}, "
              f"{args.sessions} sessions, {size}-byte message, seller -> buyer alias; "
              f"milter {h.binary}", flush=True)
        print(f"{'round':>5} {'mode':<7} {'arrived':>9} {'accept/s':>9} {'deliver/s':>10} "
              f"{'box ms/msg':>11} {'milter ms/msg':>14} {'rejects':>8}", flush=True)
        for rnd in range(args.rounds):
            order = MODES if rnd % 2 == 0 else tuple(reversed(MODES))
            for mode in order:
                res = bench.run(mode)
                res["round"] = rnd + 1
                results.append(res)
                problems += check(res)
                print(f"{rnd + 1:>5} {mode:<7} {res['arrived']:>4}/{res['n']:<4} "
                      f"{res['accept_rate']:>9.0f} {res['deliver_rate']:>10.0f} "
                      f"{res['box_cpu_ms']:>11.2f} {res['milter_cpu_ms']:>14.3f} "
                      f"{res['rejects']:>8}", flush=True)
    except HarnessError as e:
        print(f"smtp_throughput: {e}", file=sys.stderr)
        return 1
    finally:
        h.stop()

    print()
    print(f"medians over {args.rounds} run(s) per mode (min–max), N={args.messages}, "
          f"{args.sessions} sessions:")
    print("| mode | deliver msg/s | accept msg/s | box CPU ms/msg | milter CPU ms/msg | lost | "
          "rejects |")
    print("|---|---|---|---|---|---|---|")
    med = {}
    for mode in MODES:
        rs = [r for r in results if r["mode"] == mode]
        med[mode] = statistics.median(r["deliver_rate"] for r in rs) if rs else 0.0
        lost = sum(r["n"] - r["arrived"] for r in rs)
        print(f"| {mode} | {med_range([r['deliver_rate'] for r in rs])} | "
              f"{med_range([r['accept_rate'] for r in rs])} | "
              f"{med_range([r['box_cpu_ms'] for r in rs], '{:.2f}')} | "
              f"{med_range([r['milter_cpu_ms'] for r in rs], '{:.3f}') if mode == 'milter' else '-'} | "
              f"{lost} | {sum(r['rejects'] for r in rs)} |")
    if med.get("none"):
        print(f"\nmilter / none deliver ratio: {med['milter'] / med['none']:.2f}")
    box = {m: statistics.median(r["box_cpu_ms"] for r in results if r["mode"] == m)
           for m in MODES if any(r["mode"] == m for r in results)}
    if len(box) == 2:
        print(f"added box CPU per message with the milter: {box['milter'] - box['none']:.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if problems:
        print("\nFAILED checks:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("\nchecks: every run delivered N of N; no milter-reject/tempfail in the Postfix log; "
          "N 'modify' audit lines per milter run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
