"""End-to-end: Postfix -> marketplace-milter -> smtp-sink.

The core promise: mail between a buyer and a seller goes through their
pair's aliases only, both ways, and nothing is delivered when the milter
cannot decide.  Every message the sink receives in this module is also run
through the privacy checker (HarnessTestCase.tearDownClass)."""

import hashlib
import hmac
import os
import re
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import DOMAIN, HarnessTestCase, Party, make_message, unique_line  # noqa: E402

AUDIT_RE = re.compile(r"^id=(?P<id>[^;\s]+); decision=(?P<decision>[a-z]+); "
                      r"rules=(?P<rules>[^;]*); "
                      r"bind=(?P<bind>msgid:[0-9a-f]{32},rcpt:[0-9a-f]{32},"
                      r"date:[0-9a-f]{32},body:[0-9a-f]{32}); policy=(?P<policy>[^;]+); "
                      r"hmac=(?P<hmac>[0-9a-f]{64})$")
FORGED_AUDIT = "id=forged00forged0; decision=accept; rules=; policy=x; hmac=" + "0" * 64
LEAK_HEADERS = ("Reply-To", "Sender", "X-Originating-IP", "Return-Receipt-To",
                "Disposition-Notification-To")
UNKNOWN_ALIAS = "0123456789abcdef@" + DOMAIN


class CoreTest(HarnessTestCase):
    harness_name = "core"

    bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
    acme = Party("acme", "seller", "support@acme.example", "Acme Store",
                 senders=("orders@acme.example",))
    carol = Party("carol", "buyer", "carol@gmail.example", "Carol Client")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair = cls.h.provision(cls.bob, cls.acme)
        cls.pair2 = cls.h.provision(cls.carol, cls.acme)
        assert UNKNOWN_ALIAS not in (cls.pair["buyer_alias"], cls.pair["seller_alias"],
                                     cls.pair2["buyer_alias"], cls.pair2["seller_alias"])

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()

    # ---- helpers -----------------------------------------------------------
    def seller_message(self, to, subject="About your order 123-4567", extra=()):
        return make_message(
            from_="Acme Support Team <support@acme.example>", to=to, subject=subject,
            body="Hello,\n\nwhich colour would you like for the engraving on order 123-4567?\n"
                 f"{unique_line()}\n\nKind regards,\nthe shop",
            headers=[("Reply-To", "Acme Support <support@acme.example>"),
                     ("Sender", "support@acme.example"),
                     ("X-Originating-IP", "[192.0.2.7]"),
                     ("Disposition-Notification-To", "support@acme.example"),
                     ("X-Marketplace-Audit", FORGED_AUDIT),
                     ("X-Marketplace-Verified", "yes"), *extra])

    def buyer_message(self, to, subject="Question about order 123-4567", extra=()):
        return make_message(
            from_="Robert B. <bob@gmail.example>", to=to, subject=subject,
            body=f"Hi,\n\ncould the engraving be blue? {unique_line()}\n\nThanks",
            headers=[("Reply-To", "bob@gmail.example"), ("X-Originating-IP", "[198.51.100.9]"),
                     ("Return-Receipt-To", "bob@gmail.example"),
                     ("X-Marketplace-Audit", FORGED_AUDIT), *extra])

    def assert_rewritten(self, d, *, rcpt, sender_alias, display_name, subject):
        """The delivered message is the marketplace's version of it."""
        self.assertEqual(d.rcpts, [rcpt], d.summary())
        self.assertEqual(d.mail_from.lower(), sender_alias.lower(), "envelope sender")
        name, addr = d.from_address
        self.assertEqual(addr.lower(), sender_alias.lower(), f"From: {d.header('From')}")
        self.assertEqual(name, display_name, f"From: {d.header('From')}")
        self.assertEqual(len(d.headers("From")), 1)
        for leak in LEAK_HEADERS:
            self.assertEqual(d.headers(leak), [], f"{leak} not removed")
        self.assertEqual(d.headers("X-Marketplace-Verified"), [], "spoofed X-Marketplace-* kept")
        self.assertEqual(d.header("Subject"), subject)
        return self.assert_audit_header(d)

    def assert_audit_header(self, d):
        values = d.headers("X-Marketplace-Audit")
        self.assertEqual(len(values), 1, f"X-Marketplace-Audit headers: {values}")
        value = re.sub(r"\s*\n\s*", " ", values[0]).strip()
        self.assertNotEqual(value, FORGED_AUDIT, "the forged audit header was delivered")
        m = AUDIT_RE.match(value)
        self.assertIsNotNone(m, f"X-Marketplace-Audit: {value!r}")
        self.assertIn(m.group("decision"), ("accept", "modify"), value)
        return m

    def audit_for(self, audit_id):
        return self.h.wait_audit(lambda line: line.get("audit_id") == audit_id,
                                 what=f"audit line {audit_id}")

    # ---- the happy paths ---------------------------------------------------
    def test_seller_to_buyer_rewritten(self):
        subject = "Engraving colour for order 123-4567"
        r = self.h.send("support@acme.example", [self.pair["buyer_alias"]],
                        self.seller_message(self.pair["buyer_alias"], subject))
        self.assertQueued(r, [self.pair["buyer_alias"]])
        [d] = self.h.wait_delivered(1)
        m = self.assert_rewritten(d, rcpt="bob@gmail.example",
                                  sender_alias=self.pair["seller_alias"],
                                  display_name="Acme Store", subject=subject)
        self.assertIn("which colour would you like", d.body_text)
        line = self.audit_for(m.group("id"))
        self.assertEqual(line["decision"], m.group("decision"))
        self.assertEqual(line["sender_party"], "acme")
        self.assertEqual(line["recipient_party"], "bob")
        self.assertEqual(line["policy"], m.group("policy"))
        for key in ("queue_id", "client", "reply", "rules", "size", "elapsed_us", "milter_us",
                    "milter_cpu_us"):
            self.assertIn(key, line)
        self.assertGreater(line["milter_us"], 0)
        self.assertLessEqual(line["milter_us"], line["elapsed_us"])
        self.assertGreater(line["milter_cpu_us"], 0)

    def test_send_buffer_and_scheduling_in_effect(self):
        """Each MTA connection's send buffer is widened (a rewritten body then
        goes into the kernel without waiting for cleanup to read it) and the
        end of message runs under SCHED_FIFO (permitted: the tests run as root);
        the daemon logs both, with the figures it got."""
        alias = self.pair["buyer_alias"]
        self.assertQueued(self.h.send("support@acme.example", [alias],
                                      self.seller_message(alias)))
        self.h.wait_delivered(1)
        with open(self.h.milter_stderr, errors="replace") as f:
            log = f.read()
        with open("/proc/sys/net/core/wmem_max") as f:
            wmem_max = int(f.read())
        self.assertIn(f"MTA connections: send buffer {2 * min(1 << 20, wmem_max)} bytes", log)
        self.skip_unless_realtime(log)
        self.assertIn("end of message runs under SCHED_FIFO priority 1 for messages held in "
                      "memory, at most 20 ms of CPU each", log)

    def skip_unless_realtime(self, log):
        """Where even root may not use SCHED_FIFO (a container without
        CAP_SYS_NICE, an RT-group cgroup) the daemon says so and runs at the
        normal priority, which is what it should do there."""
        m = re.search(r"end of message runs at normal priority: (.*not permitted.*)", log)
        if m:
            self.skipTest(f"realtime scheduling not available here: {m.group(1)}")

    def test_realtime_budget_spent_is_logged_and_the_message_still_delivered(self):
        """An end of message that needs more CPU than realtime_budget_ms
        finishes at the normal priority (the budget timer's signal reaches
        libmilter's thread) and says so; the message is judged as usual."""
        with open(self.h.milter_stderr, errors="replace") as f:
            self.skip_unless_realtime(f.read())
        alias = self.pair["buyer_alias"]
        # ~240 KB of text with links: several ms of link and content checks,
        # under the 256 KiB above which bodies are spooled (and not raised).
        words = " ".join(f"see https://docs{i}.example.org/page and word{i}" for i in range(4000))
        self.h.restart_milter(realtime_budget_ms=1)
        try:
            msg = make_message(from_="Acme Support Team <support@acme.example>", to=alias,
                               subject="Long manual", body=words + "\n" + unique_line())
            self.assertLess(len(msg), 256 * 1024)
            self.assertQueued(self.h.send("support@acme.example", [alias], msg))
            [d] = self.h.wait_delivered(1)
            self.assertEqual(d.rcpts, ["bob@gmail.example"])
            # Written before the verdict went back to Postfix.
            with open(self.h.milter_stderr, errors="replace") as f:
                self.assertRegex(f.read(), r"evaluation used its realtime CPU budget \(1 ms\), "
                                           r"finished at normal priority")
        finally:
            self.h.restart_milter()

    def test_buyer_to_seller_rewritten(self):
        subject = "Question about order 123-4567"
        r = self.h.send("bob@gmail.example", [self.pair["seller_alias"]],
                        self.buyer_message(self.pair["seller_alias"], subject))
        self.assertQueued(r, [self.pair["seller_alias"]])
        [d] = self.h.wait_delivered(1)
        m = self.assert_rewritten(d, rcpt="support@acme.example",
                                  sender_alias=self.pair["buyer_alias"],
                                  display_name="Bob Buyer", subject=subject)
        self.assertIn("could the engraving be blue", d.body_text)
        line = self.audit_for(m.group("id"))
        self.assertEqual((line["sender_party"], line["recipient_party"]), ("bob", "acme"))

    def test_approved_sender_address_may_write(self):
        r = self.h.send("orders@acme.example", [self.pair["buyer_alias"]],
                        make_message(from_="Orders <orders@acme.example>",
                                     to=self.pair["buyer_alias"], subject="Delivery slot",
                                     body="Which delivery day suits you for order 123-4567?"))
        self.assertQueued(r)
        [d] = self.h.wait_delivered(1)
        self.assert_rewritten(d, rcpt="bob@gmail.example", sender_alias=self.pair["seller_alias"],
                              display_name="Acme Store", subject="Delivery slot")

    def test_reply_routes_back_to_the_sender(self):
        r = self.h.send("support@acme.example", [self.pair["buyer_alias"]],
                        self.seller_message(self.pair["buyer_alias"], "Engraving text"))
        self.assertQueued(r)
        [first] = self.h.wait_delivered(1)
        # Bob's mail client replies to the From: of what he got.
        reply_to = first.from_address[1]
        self.assertTrue(reply_to.endswith("@" + DOMAIN), reply_to)
        original_id = first.header("Message-ID")
        reply = make_message(
            from_="Bob <bob@gmail.example>", to=first.header("From"), subject="Re: Engraving text",
            body="Blue, please.\n\n> which colour would you like for the engraving?",
            headers=[("In-Reply-To", original_id), ("References", original_id)])
        r = self.h.send("bob@gmail.example", [reply_to], reply)
        self.assertQueued(r, [reply_to])
        [back] = self.h.wait_delivered(1)
        self.assert_rewritten(back, rcpt="support@acme.example",
                              sender_alias=self.pair["buyer_alias"], display_name="Bob Buyer",
                              subject="Re: Engraving text")
        self.assertIn("Blue, please.", back.body_text)

    def test_recipient_outside_marketplace_untouched(self):
        msg = make_message(from_="Someone Else <someone@acme.example>", to="friend@gmail.example",
                           subject="Lunch", body="See you at noon.",
                           headers=[("Reply-To", "someone@acme.example")])
        r = self.h.send("someone@acme.example", ["friend@gmail.example"], msg)
        self.assertQueued(r, ["friend@gmail.example"])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, ["friend@gmail.example"])
        self.assertEqual(d.mail_from, "someone@acme.example")
        self.assertEqual(d.header("From"), "Someone Else <someone@acme.example>")
        self.assertEqual(d.header("Reply-To"), "someone@acme.example")
        self.assertEqual(d.header("Subject"), "Lunch")
        self.assertEqual(d.body_text.strip(), "See you at noon.")
        # An X-Marketplace-Audit header is allowed here; if present it must be valid.
        if d.headers("X-Marketplace-Audit"):
            self.assert_audit_header(d)

    # ---- refusals ------------------------------------------------------------
    def test_unknown_alias_550_5_1_1(self):
        r = self.h.send("support@acme.example", [UNKNOWN_ALIAS],
                        self.seller_message(UNKNOWN_ALIAS))
        self.assertRefused(r, 550, "5.1.1", rcpt=UNKNOWN_ALIAS, stages=("rcpt",))
        self.h.assert_nothing_delivered()

    def test_sender_not_counterpart_550_5_7_1(self):
        cases = {
            "stranger (From: forged as the seller)": ("mallory@evil.example",
                                                      self.pair["buyer_alias"]),
            "owner writing to its own alias": ("bob@gmail.example", self.pair["buyer_alias"]),
            "buyer of another pair": ("carol@gmail.example", self.pair["seller_alias"]),
            "seller's domain, not an approved address": ("sales@acme.example",
                                                         self.pair["buyer_alias"]),
        }
        for name, (sender, alias) in cases.items():
            with self.subTest(name):
                r = self.h.send(sender, [alias], self.seller_message(alias))
                self.assertRefused(r, 550, "5.7.1", rcpt=alias, stages=("rcpt", "data"))
        self.h.assert_nothing_delivered()

    def test_second_pair_in_one_transaction_452_4_5_3(self):
        a1, a2 = self.pair["buyer_alias"], self.pair2["buyer_alias"]
        r = self.h.send("support@acme.example", [a1, a2], self.seller_message([a1, a2]))
        self.assertEqual(r.rcpts[a1][0], 250, str(r))
        self.assertRefused(r, 452, "4.5.3", rcpt=a2, stages=("rcpt",))
        self.assertQueued(r, [a1])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, ["bob@gmail.example"])
        self.assertEqual(d.mail_from.lower(), self.pair["seller_alias"])
        # The client resends the refused recipient on its own: nothing is lost.
        r = self.h.send("support@acme.example", [a2], self.seller_message([a1, a2]))
        self.assertQueued(r, [a2])
        [d2] = self.h.wait_delivered(1)
        self.assertEqual(d2.rcpts, ["carol@gmail.example"])
        self.assertEqual(d2.mail_from.lower(), self.pair2["seller_alias"])
        self.assertEqual(d2.from_address[0], "Acme Store")

    # ---- audit header integrity ----------------------------------------------
    def test_audit_header_hmac_verifies(self):
        r = self.h.send("support@acme.example", [self.pair["buyer_alias"]],
                        self.seller_message(self.pair["buyer_alias"]))
        self.assertQueued(r)
        [d] = self.h.wait_delivered(1)
        value = re.sub(r"\s*\n\s*", " ", d.header("X-Marketplace-Audit")).strip()
        signed, _, mac = value.rpartition("; hmac=")
        with open(self.h.p("milter", "hmac.key"), "rb") as f:
            key = f.read()
        if key.endswith(b"\n"):  # one trailing newline is not part of the key
            key = key[:-1]
        want = hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()
        self.assertEqual(mac, want, f"HMAC of {signed!r}")

    def test_audit_verify_on_the_delivered_message(self):
        """`audit verify` on the message as the sink got it (LF line ends, the
        MTA's Received line on top): valid for its recipient; one body byte
        changed, or another recipient, and it is not."""
        alias = self.pair["buyer_alias"]
        self.assertQueued(self.h.send("support@acme.example", [alias],
                                      self.seller_message(alias)))
        [d] = self.h.wait_delivered(1)
        self.assert_audit_header(d)

        def verify(raw: bytes, *args) -> tuple:
            path = self.h.p("verify.eml")
            with open(path, "wb") as f:
                f.write(raw)
            r = self.h.cli("audit", "verify", *args, path, check=False)
            return r.returncode, r.stdout.decode(errors="replace")

        rc, out = verify(d.raw, "--rcpt", d.rcpts[0])
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.endswith("\nvalid\n"), out)
        for field in ("hmac", "msgid", "rcpt", "date", "body"):
            self.assertRegex(out, rf"(?m)^  {field} +ok\b", out)
        # Without --rcpt, from the Delivered-To a delivery agent adds.
        rc, out = verify(b"Delivered-To: " + d.rcpts[0].encode() + b"\n" + d.raw)
        self.assertEqual(rc, 0, out)

        header_end = d.raw.index(b"\n\n") + 2
        i = d.raw.index(b"colour", header_end)
        tampered = d.raw[:i] + b"C" + d.raw[i + 1:]
        rc, out = verify(tampered, "--rcpt", d.rcpts[0])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^  body +mismatch\b", out)
        self.assertRegex(out, r"(?m)^  hmac +ok\b", out)
        rc, out = verify(d.raw, "--rcpt", "carol@gmail.example")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"(?m)^  rcpt +mismatch\b", out)

    # ---- failures: nothing delivered, nothing lost -------------------------------
    def test_milter_down_tempfails(self):
        self.h.kill_milter()
        try:
            r = self.h.send("support@acme.example", [self.pair["buyer_alias"]],
                            self.seller_message(self.pair["buyer_alias"]))
            self.assertTempfailed(r)  # Postfix: 451 4.7.1 from EHLO on
            self.h.assert_nothing_delivered()
        finally:
            self.h.start_milter()
        # and once it is back, the same message goes through
        r = self.h.send("support@acme.example", [self.pair["buyer_alias"]],
                        self.seller_message(self.pair["buyer_alias"]))
        self.assertQueued(r)
        self.h.wait_delivered(1)

    def test_store_unavailable_451_4_3_0(self):
        self.h.restart_milter(cache_ttl_ms=0, store={"busy_timeout_ms": 200})
        try:
            alias = self.pair["buyer_alias"]
            # Works first (and the milter has its store connections open).
            self.assertQueued(self.h.send("support@acme.example", [alias],
                                          self.seller_message(alias)))
            self.h.wait_delivered(1)
            before = len(self.h.audit_lines())
            with self.h.lock_store():
                r = self.h.send("support@acme.example", [alias], self.seller_message(alias))
            self.assertRefused(r, 451, "4.3.0", rcpt=alias, stages=("rcpt", "data"))
            self.h.assert_nothing_delivered()
            line = self.h.wait_audit(lambda l: l.get("decision") == "tempfail", since=before,
                                     what="a tempfail audit line")
            self.assertIn("4.3.0", line.get("reply", ""), line)
            # The store is back: the client's retry is delivered.
            self.assertQueued(self.h.send("support@acme.example", [alias],
                                          self.seller_message(alias)))
            [d] = self.h.wait_delivered(1)
            self.assertEqual(d.rcpts, ["bob@gmail.example"])
        finally:
            self.h.restart_milter()  # back to the default config


class UnixSocketTest(CoreTest):
    """The whole core suite again with Postfix reaching the milter over a
    unix socket (the cheaper transport, bench/RESULTS.md), created with the
    configured socket_mode."""
    harness_name = "core-unix"
    milter_socket = "unix"

    def test_socket_has_the_configured_mode(self):
        st = os.stat(self.h.milter_socket_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o666)  # the harness's socket_mode


if __name__ == "__main__":
    unittest.main()
