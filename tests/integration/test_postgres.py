"""The daemon on a PostgreSQL store, through real Postfix.

- the same messages get the same verdicts (SMTP replies, audit decisions and
  rules) on a PostgreSQL store as on SQLite;
- the database stopped mid-run: mail is tempfailed (451 4.3.0 with the audit
  id), never accepted unfiltered; once it is back, the sender's retry is
  delivered, filtered, and nothing is lost;
- the daemon refuses to start on a database `migrate` has not prepared;
- two hosts (two Postfix, two milters) on one database: one order's
  unsolicited seller message sent through both at once passes once.

The module runs a PostgreSQL of its own (tests/support/pg_server in a temp
directory), so stopping it disturbs no other test.
"""

import os
import random
import re
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import (DOMAIN, Harness, HarnessTestCase, Party, PgServer,  # noqa: E402
                       make_message, postgres_available, smtp_send, unique_line, wait_for)
from retry_load import Job, RetryingClient  # noqa: E402

AUDIT_ID_IN_REPLY = re.compile(r"\(audit [0-9A-Za-z-]+\)")


BOB = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
ACME = Party("acme", "seller", "support@acme.example", "Acme Store")


def scenario(h: Harness) -> list:
    """Sends the same messages through `h` (bob and acme provisioned) and
    returns, per message, the SMTP code and the audit line's decision and
    rules."""
    pair = h.provision(BOB, ACME)
    to_bob, to_acme = pair["buyer_alias"], pair["seller_alias"]
    first = "Blue or red for the engraving? The order is ready to ship."
    sends = [
        ("support@acme.example", to_bob, "Engraving colour", first),
        ("support@acme.example", to_bob, "Engraving colour", "And a gift box as well?"),
        ("bob@gmail.example", to_acme, "Re: Engraving colour", "Blue please, no box."),
        ("support@acme.example", to_bob, "Engraving colour", first),
        ("support@acme.example", to_bob, "Tracking",
         "Tracking: https://unknown-tracker.example/track?id=1 and thanks"),
        ("stranger@evil.example", to_bob, "Hello", "Who is this?"),
        ("support@acme.example", "0000000000000000@" + DOMAIN, "Hello", "Anyone?"),
    ]
    out = []
    for sender, rcpt, subject, body in sends:
        before = len(h.audit_lines())
        msg = make_message(from_=sender, to=rcpt, subject=subject, body=body)
        r = smtp_send(h.smtpd_port, sender, [rcpt], msg)
        code = 250 if r.queued else (r.refusal() or (0, 0, ""))[1]
        wait_for(lambda: len(h.audit_lines()) > before, 20, "the message's audit line")
        line = h.audit_lines()[-1]
        out.append((code, line.get("decision"),
                    sorted(rule.get("id") for rule in line.get("rules", []))))
    return out


@unittest.skipUnless(postgres_available(), "no PostgreSQL server (scripts/bootstrap installs it)")
class PostgresStoreTest(HarnessTestCase):
    harness_name = "postgres"

    @classmethod
    def setUpClass(cls):
        cls.pg = PgServer()
        cls.addClassCleanup(cls.pg.remove)
        cls.pg.start()
        cls.milter_config = {"store": {"type": "postgres", "dsn": cls.pg.database(),
                                       "statement_timeout_ms": 1000}}
        super().setUpClass()

    def test_same_verdicts_as_sqlite(self):
        on_postgres = scenario(self.h)
        sqlite = Harness("postgres-twin").start()
        try:
            on_sqlite = scenario(sqlite)
            # SQLite migrates whenever it opens: migrate says so.
            self.assertEqual(sqlite.cli_json("migrate")["migrated_at_open"], True)
        finally:
            sqlite.stop()
        self.assertEqual(on_postgres, on_sqlite)
        codes = [code for code, _, _ in on_postgres]
        self.assertIn(250, codes)
        self.assertEqual(codes[-2:], [550, 550], on_postgres)
        self.assertEqual(self.h.cli_json("migrate")["from"], 4)  # a second run changes nothing

    def test_database_down_tempfails_and_the_retry_is_delivered(self):
        pair = self.h.provision(Party("carol", "buyer", "carol@mail.example", "Carol"),
                                Party("shop", "seller", "orders@shop.example", "Shop"))
        alias = pair["buyer_alias"]
        self.h.drain()
        token = unique_line()
        job = Job(token, "orders@shop.example", alias,
                  make_message(from_="Shop <orders@shop.example>", to=alias,
                               subject="Your parcel", body=f"It left today. {token}"),
                  "seller->buyer")
        self.pg.stop()
        client = RetryingClient(self.h.smtpd_port, tries=400, backoff=0.1, max_backoff=0.3)
        result = {}
        sender = threading.Thread(target=lambda: result.update(out=client.send(job)))
        restarted = False
        try:
            sender.start()
            wait_for(lambda: "out" in result or len(client.attempt_log) >= 2, 60,
                     "two tempfailed attempts", on_timeout=self.h.diagnostics)
            self.assertNotIn("out", result, "answered while the database was down: "
                             + str(result.get("out")))
            self.assertEqual(self.h._new_dumps(), [], "delivered while the database was down")
            self.pg.start()
            restarted = True
            sender.join(120)
        finally:
            if not restarted:
                self.pg.start()
            sender.join(120)
        out = result["out"]
        self.assertEqual(out.kind, "delivered", out)
        tempfails = [(code, text) for code, text in out.replies[:-1] if code]
        self.assertTrue(tempfails, out)
        for code, text in tempfails:
            self.assertEqual(code, 451, text)
            self.assertIn("4.3.0", text)
            self.assertRegex(text, AUDIT_ID_IN_REPLY)
        [d] = self.h.wait_delivered(1)
        self.assertIn(token, d.raw.decode("utf-8", "replace"))
        self.assertIsNotNone(d.header("X-Marketplace-Audit"), d.summary())
        self.assertEqual(d.rcpts, ["carol@mail.example"])
        self.assertTrue(d.from_address[1].endswith("@" + DOMAIN), d.summary())
        tempfailed = [line for line in self.h.audit_lines() if line.get("decision") == "tempfail"]
        self.assertTrue(tempfailed)

    def test_two_hosts_pass_one_orders_unsolicited_message_once(self):
        other = Harness("postgres-host2", config=self.milter_config).start()
        self.addCleanup(other.stop)
        pair = self.h.provision(Party("dave", "buyer", "dave@mail.example", "Dave"),
                                Party("mill", "seller", "sales@mill.example", "Mill"))
        alias = pair["buyer_alias"]
        for round_ in range(3):
            with self.subTest(round=round_):
                oid = f"402-{random.randrange(10**7):07d}-{random.randrange(10**7):07d}"
                self.h.cli_json("order", "add", "--id", oid, "--pair", str(pair["pair_id"]),
                                "--kind", "standard", "--fulfilment", "fbm")
                barrier = threading.Barrier(2)
                results = [None, None]

                def send(i, port):
                    msg = make_message(
                        from_="Mill <sales@mill.example>", to=alias,
                        subject=f"Your order {oid} ({i})",
                        body=f"Your order {oid} left the mill today ({unique_line()}, host {i}).")
                    barrier.wait(30)
                    results[i] = smtp_send(port, "sales@mill.example", [alias], msg)

                threads = [threading.Thread(target=send, args=(i, port))
                           for i, port in enumerate((self.h.smtpd_port, other.smtpd_port))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(120)
                summary = "\n".join(str(r) for r in results)
                queued = [r for r in results if r.queued]
                self.assertEqual(len(queued), 1, summary)
                [refused] = [r for r in results if not r.queued]
                self.assertEqual(refused.refusal()[1], 550, summary)
                # marketplace.unsolicited_limit names the order; a repeat would not
                self.assertIn("unsolicited", refused.refusal()[2], summary)
                self.assertIn(oid, refused.refusal()[2], summary)

    def test_daemon_refuses_an_unmigrated_database(self):
        config = self.h.p("milter", "unmigrated.yaml")
        with open(self.h.milter_config) as f:
            text = f.read()
        dsn = self.pg.database()
        text = re.sub(r'dsn: "[^"]*"', f'dsn: "{dsn}"', text)
        with open(config, "w") as f:
            f.write(text)
        r = subprocess.run([self.h.binary, "run", "-c", config], capture_output=True, text=True,
                           timeout=60, cwd=self.h.p("milter"))
        output = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0, output)
        self.assertIn("schema version 0", output)
        self.assertIn("marketplace-milter migrate", output)
        self.assertNotIn("milter-test", output)  # the password
        migrated = subprocess.run([self.h.binary, "migrate", "-c", config], capture_output=True,
                                  text=True, timeout=60)
        self.assertEqual(migrated.returncode, 0, migrated.stderr)
        self.assertIn('"to": 4', migrated.stdout)
        self.assertNotIn("milter-test", migrated.stdout)


if __name__ == "__main__":
    unittest.main()
