"""Several hosts on one PostgreSQL, through real Postfix.

- two hosts (two Postfix, two milters, caches on with a TTL far longer than
  the test): an opt-out set through host B's CLI is honoured by host A within
  a second, which only the LISTEN/NOTIFY change feed explains (host A's alias
  cache answered the probes before the change); the propagation time is
  printed;
- host A's notification connection terminated by the server, then the
  server stopped: the daemon keeps answering (mail is tempfailed with
  451 4.3.0 and the audit id while the database is down, nothing is
  delivered), listens again once the server is back, and a later change
  reaches it within a second again;
- a store exported from SQLite (with the thread state its messages left) and
  imported into PostgreSQL gives the same next messages the same verdicts.

The module runs a PostgreSQL of its own (tests/support/pg_server in a temp
directory), so stopping it disturbs no other test.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import (DOMAIN, Harness, HarnessTestCase, Party, PgServer,  # noqa: E402
                       free_port, make_message, postgres_available, smtp_send, tail,
                       unique_line, wait_for)

AUDIT_ID_IN_REPLY = re.compile(r"\(audit [0-9A-Za-z-]+\)")
# The caches would keep a party this long: only a notification explains a
# change seen sooner.
CACHE_TTL_MS = 600000
PROPAGATION_LIMIT_S = 1.0
PROBE_INTERVAL_S = 0.05

_serial = iter(range(1, 10**6))


def new_order_id() -> str:
    return f"403-{os.getpid() % 10**7:07d}-{next(_serial):07d}"


def admin_sql(pg: PgServer, sql: str) -> str:
    """Runs `sql` as the server's superuser (pg_server's admin DSN)."""
    with open(os.path.join(pg.dir, "admin_dsn")) as f:
        dsn = f.read().strip()
    r = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-qAt", dsn, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"psql: {sql}: {r.stderr}")
    return r.stdout.strip()


def verdict_of(result) -> str:
    """What a seller's probe got: 'optout', 'limit', 'tempfail', 'queued' or
    the reply itself."""
    if result.queued:
        return "queued"
    stage, code, text = result.refusal()
    if code == 550 and "opt out" in text:
        return "optout"
    if code == 550 and "unsolicited" in text:
        return "limit"
    if code == 451:
        return "tempfail"
    return f"{stage} {code} {text}"


def describe(stale: float, probes: int) -> str:
    """How precise a time_until measurement is."""
    if probes == 1:
        return "the first probe after the CLI returned saw the change"
    return f"{probes} probes; the last stale reply came {stale * 1000:.0f} ms after the CLI"


def alias_cache(metrics_port: int) -> tuple:
    """Host A's alias cache (hits, misses) from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        body = r.read().decode()

    def value(name):
        m = re.search(r'^\w*' + name + r'\{cache="alias"\} ([0-9.e+]+)$', body, re.M)
        if not m:
            raise AssertionError(f"no {name} for the alias cache in /metrics:\n{body}")
        return float(m.group(1))
    return value("cache_hits_total"), value("cache_misses_total")


@unittest.skipUnless(postgres_available(), "no PostgreSQL server (scripts/bootstrap installs it)")
class TwoHostsTest(HarnessTestCase):
    """Host A is self.h, host B self.b; each daemon connects under an
    application_name of its own, so that host A's LISTEN backend can be
    found in pg_stat_activity."""

    harness_name = "pg-host-a"

    @classmethod
    def setUpClass(cls):
        cls.pg = PgServer()
        cls.addClassCleanup(cls.pg.remove)
        cls.pg.start()
        dsn = cls.pg.database()
        cls.metrics_port = free_port()
        cls.milter_config = {
            "store": {"type": "postgres", "dsn": dsn + " application_name=mm_it_host_a",
                      "statement_timeout_ms": 1000},
            "cache_ttl_ms": CACHE_TTL_MS,
            "metrics": {"listen": f"127.0.0.1:{cls.metrics_port}"},
        }
        super().setUpClass()
        cls.b = Harness("pg-host-b", config={
            "store": {"type": "postgres", "dsn": dsn + " application_name=mm_it_host_b",
                      "statement_timeout_ms": 1000},
            "cache_ttl_ms": CACHE_TTL_MS})
        cls.addClassCleanup(cls.b.stop)
        cls.b.start()
        cls.b.parties = cls.h.parties  # one store: B delivers to the same people

    def setUp(self):
        self.h.drain()
        self.b.drain()

    # ---- helpers ------------------------------------------------------------
    def pair_at_its_limit(self, n: int):
        """A new pair and order whose one unsolicited seller message was
        delivered through host A; then one message through host B, so both
        hosts resolved the alias (and cached it).  Returns (buyer, seller,
        the pair, order id)."""
        buyer = Party(f"hb{n}", "buyer", f"hb{n}@gmail.example", f"Buyer {n}")
        seller = Party(f"hs{n}", "seller", f"hs{n}@acme.example", f"Shop {n}")
        pair = self.h.provision(buyer, seller)
        oid = new_order_id()
        self.h.cli_json("order", "add", "--id", oid, "--pair", str(pair["pair_id"]),
                        "--kind", "standard", "--fulfilment", "fbm")
        alias = pair["buyer_alias"]
        first = self.probe(self.h, seller, alias, oid)
        self.assertEqual(verdict_of(first), "queued", first)
        self.h.wait_delivered(1)
        through_b = self.probe(self.b, seller, alias, oid)
        self.assertEqual(verdict_of(through_b), "limit", through_b)
        return buyer, seller, pair, oid

    @staticmethod
    def probe(host: Harness, seller: Party, alias: str, oid: str):
        """A seller message naming the order, each text new (no repeat)."""
        msg = make_message(from_=f"{seller.name} <{seller.address}>", to=alias,
                           subject=f"Your order {oid}",
                           body=f"Your order {oid} left the warehouse. Ref {unique_line()}.")
        return host.send(seller.address, [alias], msg)

    def time_until(self, host: Harness, seller: Party, alias: str, oid: str, expected: str,
                   change) -> tuple:
        """Runs change() (a CLI call on host B), then probes `host` every
        PROBE_INTERVAL_S until a probe gets `expected`.  Returns (seconds
        from the CLI's return to the reply that showed the change, seconds
        to the last reply that did not: the change arrived in between,
        number of probes)."""
        change()
        changed_at = time.monotonic()
        stale_until = 0.0
        probes = 0
        while True:
            r = self.probe(host, seller, alias, oid)
            probes += 1
            now = time.monotonic() - changed_at
            got = verdict_of(r)
            if got == expected:
                return now, stale_until, probes
            self.assertNotEqual(got, "queued", f"a probe was delivered: {r}")
            if now > 10 * PROPAGATION_LIMIT_S:
                self.fail(f"{expected} not seen {now:.1f} s after the change: last {r}\n"
                          + tail(host.milter_stderr, 20))
            stale_until = now
            time.sleep(PROBE_INTERVAL_S)

    def feed_log(self, what: str) -> int:
        with open(self.h.milter_stderr, errors="replace") as f:
            return f.read().count(what)

    # ---- tests -------------------------------------------------------------
    def test_an_optout_through_host_b_reaches_host_a_within_a_second(self):
        buyer, seller, pair, oid = self.pair_at_its_limit(1)
        alias = pair["buyer_alias"]
        # Host A answers from its alias cache: hits grow, misses do not.
        hits0, misses0 = alias_cache(self.metrics_port)
        for _ in range(3):
            r = self.probe(self.h, seller, alias, oid)
            self.assertEqual(verdict_of(r), "limit", r)
        hits1, misses1 = alias_cache(self.metrics_port)
        self.assertGreaterEqual(hits1 - hits0, 3)
        self.assertEqual(misses1, misses0, "host A did not answer from its cache")

        def optout():
            shown = self.b.cli_json("optout", "set", "--party", buyer.id, "on")
            self.assertEqual(shown["attributes"]["optout"], "on", shown)
        took, stale, probes = self.time_until(self.h, seller, alias, oid, "optout", optout)
        print(f"\nNOTIFY propagation, host B's CLI -> host A's daemon: {took * 1000:.0f} ms at "
              f"most ({describe(stale, probes)})", file=sys.stderr)
        self.assertLess(took, PROPAGATION_LIMIT_S)
        # The notification emptied host A's cache: the alias was read again.
        self.assertGreater(alias_cache(self.metrics_port)[1], misses1)
        # Host B honours its own change as well, and nothing was delivered.
        self.assertEqual(verdict_of(self.probe(self.b, seller, alias, oid)), "optout")
        # ... and turning it off again travels the same way.
        took_off, _, _ = self.time_until(
            self.h, seller, alias, oid, "limit",
            lambda: self.b.cli_json("optout", "set", "--party", buyer.id, "off"))
        print(f"NOTIFY propagation, opt-out off: {took_off * 1000:.0f} ms at most", file=sys.stderr)
        self.assertLess(took_off, PROPAGATION_LIMIT_S)
        self.h.assert_nothing_delivered()
        self.b.assert_nothing_delivered()

    def test_a_dropped_notification_connection_is_survived_and_listens_again(self):
        buyer, seller, pair, oid = self.pair_at_its_limit(2)
        alias = pair["buyer_alias"]
        listening = "store change feed: listening"
        wait_for(lambda: self.feed_log(listening) >= 1, 10, "host A's feed to listen")
        lost0, listening0 = self.feed_log("store change feed lost"), self.feed_log(listening)

        # 1. The server ends host A's LISTEN backend (and only that one).
        killed = admin_sql(self.pg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = 'mm_it_host_a' "
                                    "AND query LIKE 'LISTEN%'")
        self.assertEqual(killed, "t", "host A's LISTEN backend not found")
        r = self.probe(self.h, seller, alias, oid)  # served meanwhile, filtered
        self.assertEqual(verdict_of(r), "limit", r)
        wait_for(lambda: self.feed_log("store change feed lost") > lost0, 10,
                 "host A to log the lost feed", on_timeout=self.h.milter_output)
        wait_for(lambda: self.feed_log(listening) > listening0, 10,
                 "host A to listen again", on_timeout=self.h.milter_output)

        # 2. The whole server stops: tempfails, nothing delivered.
        self.pg.stop()
        try:
            to_seller = pair["seller_alias"]
            for _ in range(2):
                # the seller's probe, refused when filtered, and the buyer's
                # answer, delivered when filtered: both tempfailed
                answer = make_message(from_=f"{buyer.name} <{buyer.address}>", to=to_seller,
                                      subject=f"Re: Your order {oid}",
                                      body=f"Thanks, when will it arrive? {unique_line()}")
                for result in (self.probe(self.h, seller, alias, oid),
                               smtp_send(self.h.smtpd_port, buyer.address, [to_seller], answer)):
                    self.assertEqual(verdict_of(result), "tempfail", result)
                    _, _, text = result.refusal()
                    self.assertIn("4.3.0", text)
                    self.assertRegex(text, AUDIT_ID_IN_REPLY)
            wait_for(lambda: self.feed_log("store change feed lost") > lost0 + 1
                     or self.feed_log("store change feed: cannot connect") > 0, 10,
                     "host A to notice the server is gone", on_timeout=self.h.milter_output)
        finally:
            listening1 = self.feed_log(listening)
            self.pg.start()
        self.h.assert_nothing_delivered()

        # 3. Back: host A listens again and a change through host B reaches it.
        wait_for(lambda: self.feed_log(listening) > listening1, 20,
                 "host A to listen after the restart", on_timeout=self.h.milter_output)
        wait_for(lambda: verdict_of(self.probe(self.h, seller, alias, oid)) == "limit", 20,
                 "host A to serve again", interval=0.2)
        misses0 = alias_cache(self.metrics_port)[1]
        r = self.probe(self.h, seller, alias, oid)  # the alias is cached again
        self.assertEqual(verdict_of(r), "limit", r)
        self.assertEqual(alias_cache(self.metrics_port)[1], misses0, "not answered from cache")
        took, stale, probes = self.time_until(
            self.h, seller, alias, oid, "optout",
            lambda: self.b.cli_json("optout", "set", "--party", buyer.id, "on"))
        print(f"\nNOTIFY propagation after the feed reconnected: {took * 1000:.0f} ms at most "
              f"({describe(stale, probes)})", file=sys.stderr)
        self.assertLess(took, PROPAGATION_LIMIT_S)
        self.h.assert_nothing_delivered()


def outcome(h: Harness, sender: str, rcpt: str, subject: str, body: str) -> tuple:
    """Sends one message through `h`; (SMTP code, audit decision, rules)."""
    before = len(h.audit_lines())
    r = h.send(sender, [rcpt], make_message(from_=sender, to=rcpt, subject=subject, body=body))
    code = 250 if r.queued else (r.refusal() or (0, 0, ""))[1]
    wait_for(lambda: len(h.audit_lines()) > before, 20, "the message's audit line")
    line = h.audit_lines()[-1]
    if r.queued:
        h.wait_delivered(1)
    return code, line.get("decision"), sorted(x.get("id") for x in line.get("rules", []))


@unittest.skipUnless(postgres_available(), "no PostgreSQL server (scripts/bootstrap installs it)")
class ExportImportTest(unittest.TestCase):
    def test_sqlite_export_imported_into_postgres_gives_the_same_verdicts(self):
        pg = PgServer()
        self.addCleanup(pg.remove)
        pg.start()
        lite = Harness("pg-export-sqlite").start()
        self.addCleanup(lite.stop)
        bob = Party("bob", "buyer", "bob@gmail.example", "Bob")
        carl = Party("carl", "buyer", "carl@gmail.example", "Carl")
        dana = Party("dana", "buyer", "dana@gmail.example", "Dana")
        erin = Party("erin", "buyer", "erin@gmail.example", "Erin")
        acme = Party("acme", "seller", "support@acme.example", "Acme")
        mill = Party("mill", "seller", "sales@acme.example", "Mill")
        p_bob, p_carl = lite.provision(bob, acme), lite.provision(carl, acme)
        p_dana, p_erin = lite.provision(dana, mill), lite.provision(erin, mill)
        orders = {}
        for name, pair in (("bob1", p_bob), ("bob2", p_bob), ("carl1", p_carl),
                           ("carl2", p_carl), ("dana", p_dana), ("erin", p_erin)):
            orders[name] = new_order_id()
            lite.cli_json("order", "add", "--id", orders[name], "--pair", str(pair["pair_id"]),
                          "--kind", "standard", "--fulfilment", "fbm")
        lite.cli_json("optout", "set", "--party", "carl", "on")
        first_text = f"Your parcel left today in a blue box. Reference {unique_line()}."
        # The thread state the export must carry.
        before = [
            outcome(lite, acme.address, p_bob["buyer_alias"], f"Your order {orders['bob1']}",
                    first_text),
            outcome(lite, carl.address, p_carl["seller_alias"],
                    f"Question about order {orders['carl1']}", "Does it come with a manual?"),
            outcome(lite, dana.address, p_dana["seller_alias"],
                    f"Question about order {orders['dana']}", "Is it available in oak?"),
        ]
        self.assertEqual([code for code, _, _ in before], [250, 250, 250], before)
        lite.cli_json("party", "set", "--id", "mill", "--messaging", "off",
                      "--away-text", "Back on Monday")

        # As an operator moves a host: stop the daemon, export, migrate, import.
        lite.kill_milter(sig=signal.SIGTERM)
        export = os.path.join(lite.dir, "store.jsonl")
        summary = lite.cli_json("export", "--out", export)
        lite.start_milter()
        pgh = Harness("pg-import", config={"store": {"type": "postgres", "dsn": pg.database(),
                                                     "statement_timeout_ms": 2000}}).start()
        self.addCleanup(pgh.stop)
        pgh.kill_milter(sig=signal.SIGTERM)
        imported = pgh.cli_json("import", export)
        self.assertEqual(imported["imported"], summary["counts"])
        for table in ("threads", "fingerprints", "message_id"):
            self.assertGreater(summary["counts"][table], 0, summary)
        shutil.copy(lite.p("milter", "hmac.key"), pgh.p("milter", "hmac.key"))
        pgh.start_milter()
        pgh.parties = lite.parties

        nxt = [  # (sender, rcpt, subject, body)
            # the order's one unsolicited message was sent before the move
            (acme.address, p_bob["buyer_alias"], f"Your order {orders['bob1']}",
             f"A second note about your parcel. {unique_line()}"),
            # the same text in another order: a repeat
            (acme.address, p_bob["buyer_alias"], f"Your order {orders['bob2']}", first_text),
            # carl opted out but started this thread: the answer passes
            (acme.address, p_carl["buyer_alias"], f"Re: Question about order {orders['carl1']}",
             "Yes, a printed manual in five languages."),
            # ... and not another order's
            (acme.address, p_carl["buyer_alias"], f"Your order {orders['carl2']}",
             f"Your other parcel left today. {unique_line()}"),
            # mill is away: a thread of before passes, a new buyer does not
            (dana.address, p_dana["seller_alias"], f"Re: Question about order {orders['dana']}",
             "Or in walnut?"),
            (erin.address, p_erin["seller_alias"], f"Question about order {orders['erin']}",
             "Do you ship to Norway?"),
            # bob writes; the seller may answer in the first order again
            (bob.address, p_bob["seller_alias"], f"Re: Your order {orders['bob1']}",
             "Thanks, when will it arrive?"),
            (acme.address, p_bob["buyer_alias"], f"Re: Your order {orders['bob1']}",
             f"On Thursday. {unique_line()}"),
            # no such alias
            (acme.address, "0000000000000000@" + DOMAIN, "Hello", "Anyone?"),
        ]
        on_sqlite = [outcome(lite, *m) for m in nxt]
        on_postgres = [outcome(pgh, *m) for m in nxt]
        self.assertEqual(on_postgres, on_sqlite)
        codes = [code for code, _, _ in on_postgres]
        self.assertEqual(codes, [550, 550, 250, 550, 250, 550, 250, 250, 550], on_postgres)
        rules = [r for _, _, r in on_postgres]
        self.assertIn("marketplace.unsolicited_limit", rules[0])
        self.assertIn("marketplace.repeat", rules[1])
        self.assertIn("marketplace.buyer_thread", rules[2])
        self.assertIn("marketplace.optout", rules[3])
        self.assertIn("marketplace.vacation", rules[4])
        self.assertIn("marketplace.vacation", rules[5])
        for h in (lite, pgh):
            self.assertEqual(h.privacy_violations(), [], h.name)


if __name__ == "__main__":
    unittest.main()
