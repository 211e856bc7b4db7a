#!/usr/bin/env python3
"""Profiles the running daemon on the benchmark's workloads (issue 18).

The same private Postfix, sink, workloads, policy and SQLite store as
bench/e2e_bench.py (marketplace mode only), with the milter's process
watched while a fixed number of messages goes through it after a warm-up:

    --tool cpu        the milter's utime/stime per message (no profiler)
    --tool callgrind  the milter runs under valgrind; its counters are
                      zeroed after the warm-up and dumped after each
                      workload: instructions per message that the machine's
                      load does not move (callgrind_annotate the dumps)
    --tool perf       perf record -g on the milter during each workload
    --tool strace     strace -c -f: the system calls of each workload

--floor watches the floor filter (bench/null_milter --edits) the same way.

Run as root from the repository root, e.g.
    nice -n 15 python3 bench/profile_daemon.py --tool callgrind -n 40
Nothing stays running: the harness stops what it started.  Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e_bench  # noqa: E402
import peers  # noqa: E402
from e2e_bench import BUYER, SELLER, BenchHarness, Bench  # noqa: E402
import workloads  # noqa: E402
from mmharness import default_binary, wait_for  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_times(pid: int) -> tuple:
    """(utime, stime) of a process in seconds, its threads included, and
    its minor page faults."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK, int(fields[7])


def wrapper(binary: str, tool: str, outdir: str, only_run: bool = True) -> str:
    """A stand-in for the binary that runs it under valgrind: only its
    `run` subcommand (the CLI provisions the store), or always."""
    if tool != "callgrind":
        return binary
    path = os.path.join(outdir, os.path.basename(binary) + "-under-callgrind")
    test = '[ "$1" = run ]' if only_run else "true"
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                f"if {test}; then\n"
                f"  exec valgrind --tool=callgrind --callgrind-out-file={outdir}/callgrind.out.%p"
                f" {binary} \"$@\"\n"
                "fi\n"
                f'exec {binary} "$@"\n')
    os.chmod(path, 0o755)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tool", choices=("cpu", "callgrind", "perf", "strace"), default="cpu")
    ap.add_argument("--workloads", default="small,mime,strip")
    ap.add_argument("-n", "--messages", type=int, default=100, help="messages per workload")
    ap.add_argument("-s", "--sessions", type=int, default=20)
    ap.add_argument("--binary", default=os.environ.get("MM_BINARY") or default_binary())
    ap.add_argument("--floor", action="store_true",
                    help="profile the floor filter (bench/null_milter --edits) instead")
    ap.add_argument("--null-binary", default=os.environ.get("MM_NULL_BINARY") or os.path.join(
        e2e_bench.REPO, "build", "bench", "null_milter"))
    ap.add_argument("--out", default="", help="where the profiles go (default: a new temp dir)")
    ap.add_argument("--perf-args", default="-g",
                    help="perf record options (default -g; e.g. '--call-graph dwarf')")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a marketplace-milter.yaml setting, as for e2e_bench")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("profile_daemon: must run as root (Postfix master)", file=sys.stderr)
        return 2
    out = args.out or tempfile.mkdtemp(prefix="mm-profile-")
    os.makedirs(out, exist_ok=True)
    os.chmod(out, 0o755)
    settings = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        settings[k] = int(v) if v.lstrip("-").isdigit() else v
    wls = args.workloads.split(",")
    slow = args.tool == "callgrind"
    bench_args = argparse.Namespace(timeout=3600 if slow else 600)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, e2e_bench.on_signal)
    floor = None
    if args.floor:
        floor = peers.FloorMilter(out, wrapper(os.path.abspath(args.null_binary), args.tool, out,
                                               only_run=False))
    h = BenchHarness("profile", binary=wrapper(os.path.abspath(args.binary), args.tool, out),
                     workdir=os.path.join(out, "run"), keep=True,
                     mode_milters={"floor": floor.milter} if floor else {},
                     milter_socket="unix",
                     config={**({"milter_timeout": 3600} if slow else {}), **settings})
    mode = "floor" if floor else "marketplace"
    recorder = None
    try:
        if floor:
            floor.start()
        h.start()
        pair = h.provision(BUYER, SELLER)
        bench = Bench(h, bench_args, None, {}, BUYER.address, pair["seller_alias"])
        pid = floor.procs[0].pid if floor else h._milter.pid
        print(f"milter pid {pid} ({args.tool}); output in {out}", flush=True)
        for wl in wls:
            path = h.p(f"{wl}.eml")
            size = workloads.write(path, workloads.WORKLOADS[wl](BUYER.address,
                                                                 pair["seller_alias"]))
            bench.warm_up(mode, path, args.sessions)
            if args.tool == "callgrind":
                subprocess.run(["callgrind_control", "-z", str(pid)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            elif args.tool == "perf":
                recorder = subprocess.Popen(
                    ["perf", "record", *args.perf_args.split(), "-o",
                     os.path.join(out, f"perf.{wl}.data"), "-p", str(pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)
            elif args.tool == "strace":
                recorder = subprocess.Popen(
                    ["strace", "-c", "-f", "-o", os.path.join(out, f"strace.{wl}.txt"),
                     "-p", str(pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)
            u0, s0, f0 = proc_times(pid)
            base = h.sink_count()
            t0 = time.monotonic()
            src = bench.start_source(mode, path, args.messages, args.sessions)
            src.communicate(timeout=bench_args.timeout)
            wait_for(lambda: h.sink_count() - base >= args.messages, bench_args.timeout,
                     f"{wl} at the sink", on_timeout=h.diagnostics)
            secs = time.monotonic() - t0
            u1, s1, f1 = proc_times(pid)
            if args.tool == "callgrind":
                subprocess.run(["callgrind_control", "-d", wl, str(pid)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            elif recorder is not None:
                recorder.send_signal(signal.SIGINT)
                recorder.wait()
                recorder = None
            n = args.messages
            print(f"{wl}: {size} B, {n} messages in {secs:.1f} s; milter user "
                  f"{(u1 - u0) * 1000 / n:.3f} + sys {(s1 - s0) * 1000 / n:.3f} ms/msg, "
                  f"{(f1 - f0) / n:.0f} page faults/msg",
                  flush=True)
        return 0
    except e2e_bench.Interrupted:
        return 130
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.send_signal(signal.SIGINT)
            recorder.wait()
        h.stop()
        if floor:
            floor.stop()
        if args.tool == "callgrind":
            print("dumps: " + " ".join(sorted(f for f in os.listdir(out)
                                              if f.startswith("callgrind.out"))))


if __name__ == "__main__":
    sys.exit(main())
