"""End-to-end: the Prometheus endpoint (metrics.listen) of a milter behind a
real Postfix.

- A mix of messages (delivered both ways, refused by a content rule,
  refused at RCPT as an unknown alias and as a stranger, tempfailed while
  the store is locked) while a thread scrapes /metrics: every scrape is
  well-formed text format and no counter goes down;
- afterwards the counters' growth equals what the audit log got meanwhile:
  decisions by decision, rule hits by rule, the time histogram's buckets,
  count and sum from the lines' milter_us; the store, its caches and the
  evaluation gate show the traffic;
- an end of message over realtime_budget_ms is counted (where SCHED_FIFO
  is permitted);
- SIGUSR1 counts a reload (ok, or failed for a broken policy) and a good one
  sets the time of the last success;
- only GET /metrics is served; an address in use stops the start, a
  non-loopback one is a config error without metrics.allow_remote.

The last scrape is printed (stderr), so a run shows what an operator sees."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import (DOMAIN, HarnessError, HarnessTestCase, Party, free_port,  # noqa: E402
                       make_message, unique_line, wait_for)

PREFIX = "marketplace_milter_"
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
UNKNOWN_ALIAS = "0123456789abcdef@" + DOMAIN
BRIBE = "We will send you a $10 Amazon gift card in exchange for an honest review of our blender."


def unescape(value: str) -> str:
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_exposition(text: str) -> dict:
    """{(name, ((label, value), ...)): float}; fails on anything that is not
    the text format: a sample before its family's TYPE, a malformed line."""
    samples, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram"), line
            typed[name] = kind
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, f"{name} without a TYPE line before it"
        pairs = tuple((k, unescape(v)) for k, v in LABEL_RE.findall(labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def by_label(samples: dict, name: str, label: str) -> dict:
    return {dict(labels)[label]: v for (n, labels), v in samples.items() if n == name}


class MetricsTest(HarnessTestCase):
    harness_name = "metrics"

    bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
    acme = Party("acme", "seller", "support@acme.example", "Acme Store")

    @classmethod
    def setUpClass(cls):
        cls.metrics_port = free_port()
        # A locked store answers within 200 ms: the tempfail comes quickly.
        cls.milter_config = {"metrics": {"listen": f"127.0.0.1:{cls.metrics_port}"},
                             "store": {"busy_timeout_ms": 200}}
        super().setUpClass()
        cls.pair = cls.h.provision(cls.bob, cls.acme)

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()

    # ---- helpers -----------------------------------------------------------
    def get(self, path="/metrics", method="GET"):
        """(status, content type, body) of one request to the endpoint."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.metrics_port}{path}",
                                     method=method, data=b"x" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers.get("Content-Type"), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()

    def scrape(self) -> tuple:
        status, ctype, body = self.get()
        self.assertEqual(status, 200, body)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        return parse_exposition(body), body

    def value(self, samples, name, **labels) -> float:
        key = (PREFIX + name, tuple(sorted(labels.items())))
        self.assertIn(key, samples, f"no sample {key}")
        return samples[key]

    def seller_message(self, body: str):
        alias = self.pair["buyer_alias"]
        return make_message(from_="Acme Support <support@acme.example>", to=alias,
                            subject="Your blender", body=f"Hello,\n\n{body}\n{unique_line()}\n")

    def send_mix(self):
        """Delivered, refused by content, refused at RCPT twice, tempfailed."""
        buyer_alias, seller_alias = self.pair["buyer_alias"], self.pair["seller_alias"]
        r = self.h.send("bob@gmail.example", [seller_alias],
                        make_message(from_="Bob <bob@gmail.example>", to=seller_alias,
                                     subject="Colour", body=f"Blue, please. {unique_line()}"))
        self.assertQueued(r, [seller_alias])
        for _ in range(2):  # the second finds the alias in the cache
            r = self.h.send("support@acme.example", [buyer_alias],
                            self.seller_message("Which colour would you like?"))
            self.assertQueued(r, [buyer_alias])
        self.h.wait_delivered(3)
        r = self.h.send("support@acme.example", [buyer_alias], self.seller_message(BRIBE))
        self.assertRefused(r, 550, "5.7.1", stages=("data",))
        self.assertIn("review.compensation", r.data[1])
        r = self.h.send("support@acme.example", [UNKNOWN_ALIAS],
                        self.seller_message("Anyone there?"))
        self.assertRefused(r, 550, "5.1.1", rcpt=UNKNOWN_ALIAS, stages=("rcpt",))
        r = self.h.send("stranger@elsewhere.example", [buyer_alias],
                        self.seller_message("Hello from a stranger"))
        self.assertRefused(r, 550, "5.7.1", rcpt=buyer_alias, stages=("rcpt",))
        with self.h.lock_store():
            r = self.h.send("support@acme.example", [buyer_alias],
                            self.seller_message("Shall I ship it today?"))
        self.assertRefused(r, 451, "4.3.0", rcpt=buyer_alias, stages=("rcpt", "data"))
        self.h.assert_nothing_delivered()

    def log_counts(self, since: int = 0):
        """What the audit log holds after its first `since` lines: the lines,
        decisions and rule hits."""
        lines = self.h.audit_lines()[since:]
        decisions, rules = {}, {}
        for line in lines:
            decisions[line["decision"]] = decisions.get(line["decision"], 0) + 1
            for hit in line["rules"]:
                rules[hit["id"]] = rules.get(hit["id"], 0) + 1
        return lines, decisions, rules

    @staticmethod
    def delta(after: dict, before: dict) -> dict:
        """after - before, sample by sample (the milter may have run other
        tests' mail first: only this test's share is compared)."""
        return {k: v - before.get(k, 0) for k, v in after.items()}

    # ---- tests -------------------------------------------------------------
    def test_counters_equal_the_audit_log(self):
        since = len(self.h.audit_lines())
        start, _ = self.scrape()
        scrapes, errors, stop = [], [], threading.Event()

        def scraper():
            while not stop.is_set():
                try:
                    scrapes.append(self.scrape()[0])
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))
                time.sleep(0.02)
        t = threading.Thread(target=scraper, daemon=True)
        t.start()
        try:
            self.send_mix()
        finally:
            stop.set()
            t.join(10)
        self.assertEqual(errors, [])
        self.assertGreater(len(scrapes), 5, "too few scrapes during the run")
        # No counter ever goes down from one scrape to the next.
        for before, after in zip(scrapes, scrapes[1:]):
            for key, v in before.items():
                if key[0].endswith(("_total", "_bucket", "_count")):
                    self.assertGreaterEqual(after.get(key, 0), v, key)

        lines, decisions, rules = self.log_counts(since)
        self.assertTrue({"modify", "reject", "tempfail"} <= set(decisions), decisions)
        for rid in ("review.compensation", "rcpt.unknown_alias", "rcpt.sender_not_counterpart",
                    "store.unavailable"):
            self.assertIn(rid, rules)

        # The line goes to the log just before it is counted: wait for the
        # counts to catch up, then compare exactly.
        def caught_up():
            s = self.delta(self.scrape()[0], start)
            return s if self.value(s, "milter_seconds_count") == len(lines) else None
        wait_for(caught_up, 10, f"{len(lines)} decisions counted",
                 on_timeout=lambda: self.get()[2])
        _, body = self.scrape()
        s = self.delta(parse_exposition(body), start)
        counted = by_label(s, PREFIX + "decisions_total", "decision")
        self.assertEqual({d: n for d, n in counted.items() if n}, decisions)
        self.assertEqual(set(counted), {"accept", "modify", "quarantine", "reject", "tempfail"})
        self.assertEqual({r: n for r, n in by_label(s, PREFIX + "rule_hits_total", "rule").items()
                          if n}, rules)
        times = [line["milter_us"] / 1e6 for line in lines]
        for le, n in by_label(s, PREFIX + "milter_seconds_bucket", "le").items():
            bound = float("inf") if le == "+Inf" else float(le)
            self.assertEqual(n, sum(1 for x in times if x <= bound), f"bucket le={le}")
        self.assertAlmostEqual(self.value(s, "milter_seconds_sum"), sum(times), places=6)
        self.assertEqual(self.value(s, "audit_write_failures_total"), 0)

        # The store, its caches and the gate saw the traffic.
        self.assertGreater(self.value(s, "store_lookups_total"), 0)
        self.assertGreater(self.value(s, "store_writes_total"), 0)
        self.assertGreaterEqual(self.value(s, "store_errors_total"), 1)  # the locked store
        self.assertGreaterEqual(self.value(s, "cache_hits_total", cache="alias"), 1)
        now = parse_exposition(body)
        # The alias missed once, when first resolved (in this test or before).
        self.assertGreaterEqual(self.value(now, "cache_misses_total", cache="alias"), 1)
        self.assertEqual(self.value(now, "evaluations_in_flight"), 0)
        self.assertEqual(self.value(now, "evaluations_queued"), 0)
        self.assertGreaterEqual(self.value(now, "realtime_budget_overruns_total"), 0)
        print(f"\n---- GET /metrics after {len(lines)} audit lines ----\n{body}---- end ----",
              file=sys.stderr)

    def reload(self, expect: str):
        offset = os.path.getsize(self.h.milter_stderr)
        self.h.reload_milter()

        def outcome():
            with open(self.h.milter_stderr, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
            return next((ln for ln in text.splitlines()
                         if "reloaded" in ln or "reload failed" in ln), None)
        line = wait_for(outcome, 10, "the milter's reload line", on_timeout=self.h.milter_output)
        self.assertIn(expect, line)

    def test_reload_counted_and_timed(self):
        s0, _ = self.scrape()
        ok0 = self.value(s0, "reloads_total", result="ok")
        failed0 = self.value(s0, "reloads_total", result="failed")
        started = self.value(s0, "last_reload_success_timestamp_seconds")
        self.assertGreater(started, 1.7e9, "the start's load sets the time")
        self.assertLessEqual(started, time.time())

        before = time.time()
        self.reload("reloaded")
        s1, _ = self.scrape()
        self.assertEqual(self.value(s1, "reloads_total", result="ok"), ok0 + 1)
        self.assertEqual(self.value(s1, "reloads_total", result="failed"), failed0)
        stamp = self.value(s1, "last_reload_success_timestamp_seconds")
        self.assertGreaterEqual(stamp, before - 0.01)
        self.assertLessEqual(stamp, time.time())

        with open(self.h.policy_path) as f:
            good = f.read()
        try:
            with open(self.h.policy_path, "a") as f:
                f.write("\nbounces_typo:\n  action: reject\n")
            self.reload("reload failed")
            s2, _ = self.scrape()
            self.assertEqual(self.value(s2, "reloads_total", result="failed"), failed0 + 1)
            self.assertEqual(self.value(s2, "reloads_total", result="ok"), ok0 + 1)
            self.assertEqual(self.value(s2, "last_reload_success_timestamp_seconds"), stamp,
                             "a failed reload keeps the time of the last good one")
        finally:
            with open(self.h.policy_path, "w") as f:
                f.write(good)
            self.reload("reloaded")
        s3, _ = self.scrape()
        self.assertEqual(self.value(s3, "reloads_total", result="ok"), ok0 + 2)
        self.assertGreater(self.value(s3, "last_reload_success_timestamp_seconds"), stamp)

    def test_realtime_budget_overrun_counted(self):
        """An end of message over realtime_budget_ms (test_core's message:
        ~240 KB of text with links, held in memory) is counted."""
        with open(self.h.milter_stderr, errors="replace") as f:
            m = re.search(r"end of message runs at normal priority: (.*not permitted.*)", f.read())
        if m:
            self.skipTest(f"realtime scheduling not available here: {m.group(1)}")
        alias = self.pair["buyer_alias"]
        words = " ".join(f"see https://docs{i}.example.org/page and word{i}" for i in range(4000))
        self.h.restart_milter(realtime_budget_ms=1)
        try:
            before = self.value(self.scrape()[0], "realtime_budget_overruns_total")
            msg = make_message(from_="Acme Support <support@acme.example>", to=alias,
                               subject="Long manual", body=words + "\n" + unique_line())
            self.assertQueued(self.h.send("support@acme.example", [alias], msg))
            self.h.wait_delivered(1)
            with open(self.h.milter_stderr, errors="replace") as f:
                if "finished at normal priority" not in f.read():
                    self.skipTest("the message did not use up its realtime budget here")
            self.assertGreaterEqual(
                self.value(self.scrape()[0], "realtime_budget_overruns_total"), before + 1)
        finally:
            self.h.restart_milter()

    def test_only_get_metrics_is_served(self):
        for path in ("/", "/metrics/", "/index.html"):
            status, _, _ = self.get(path)
            self.assertEqual(status, 404, path)
        status, _, _ = self.get("/metrics", method="POST")
        self.assertEqual(status, 405)
        status, _, body = self.get("/metrics", method="HEAD")
        self.assertEqual((status, body), (200, ""))

    def test_address_in_use_stops_the_start(self):
        taken = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", taken))
            s.listen(1)
            self.h.kill_milter(sig=15)
            try:
                with self.assertRaises(HarnessError) as caught:
                    self.h.start_milter(metrics={"listen": f"127.0.0.1:{taken}"})
                self.assertIn(f"metrics.listen: cannot listen on 127.0.0.1:{taken}",
                              str(caught.exception))
                self.assertIn("exited with status 1", str(caught.exception))
            finally:
                self.h.kill_milter()
                self.h.start_milter()  # the class's config again
        self.assertEqual(self.get()[0], 200)

    def test_remote_address_needs_allow_remote(self):
        config = self.h.p("milter", "remote.yaml")
        with open(self.h.milter_config) as f:
            text = f.read()
        text = re.sub(r"^metrics: .*$", 'metrics: {listen: "0.0.0.0:9464"}', text, flags=re.M)
        with open(config, "w") as f:
            f.write(text)
        out = subprocess.run([self.h.binary, "check", "-c", config], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("metrics.listen: 0.0.0.0:9464 is not a loopback address", out.stderr)
        with open(config, "w") as f:
            f.write(text.replace('listen: "0.0.0.0:9464"}',
                                 'listen: "0.0.0.0:9464", allow_remote: true}'))
        out = subprocess.run([self.h.binary, "check", "-c", config], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
