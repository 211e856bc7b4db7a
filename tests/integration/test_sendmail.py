"""End-to-end with Debian's Sendmail 8.17 instead of Postfix
(sendmail_harness.py): the project's Sendmail snippet drives the milter.

- a seller's message to the buyer's alias reaches the buyer's real address
  with From rewritten, and its audit line carries Sendmail's queue id;
- refusals at RCPT: an unknown alias (550 5.1.1), a sender that is not the
  pair's (550 5.7.1);
- threading: the buyer's answer reaches the seller with In-Reply-To mapped
  back to the seller's own Message-ID;
- the privacy check over every delivered message, as in the Postfix tests:
  no real address and not the sender's HELO name or IP (Sendmail's own
  Received header, which no milter sees, leaves out its "from" clause:
  confRECEIVED_HEADER in etc/sendmail/marketplace-milter.mc).

Skipped when the Sendmail packages cannot be fetched from Debian's archive."""

import functools
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import (DOMAIN, HarnessError, HarnessTestCase, Party,  # noqa: E402
                       make_message, unique_line)
from sendmail_harness import SendmailHarness, sendmail_root  # noqa: E402

# Beside the build (MM_BINARY is build/milter/marketplace-milter), fetched once.
CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    os.environ.get("MM_BINARY", os.path.join(os.getcwd(), "x", "x"))))), "sendmail-root")


class SendmailTest(HarnessTestCase):
    harness_name = "sendmail"

    bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
    acme = Party("acme", "seller", "support@acme.example", "Acme Store")

    harness_class = functools.partial(SendmailHarness, cache_dir=CACHE)

    @classmethod
    def setUpClass(cls):
        try:
            sendmail_root(CACHE)
        except HarnessError as e:
            raise unittest.SkipTest(f"no Sendmail: {e}")
        super().setUpClass()
        cls.pair = cls.h.provision(cls.bob, cls.acme)

    def setUp(self):
        self.h.drain()

    def test_rewrite_and_queue_id(self):
        r, d = self.send_one("support@acme.example", self.pair["buyer_alias"],
                             "<orig-q1.sm@mx.acme.example>", display_name="Acme Support",
                             headers=[("Reply-To", "support@acme.example")])
        # Sendmail's DATA reply: "250 2.0.0 <queue id> Message accepted for delivery"
        qid = re.search(r"2\.0\.0 (\S+) Message accepted", str(r.data[1])).group(1)
        self.assertEqual(d.rcpts, ["bob@gmail.example"])
        self.assertEqual(d.from_address[1], self.pair["seller_alias"])
        # Sendmail's own Received header, without its "from" clause
        received = d.headers("Received")
        self.assertTrue(received, d.summary())
        for value in received:
            self.assertNotRegex(value, r"(?i)^\s*from\b", value)
        self.assertIsNone(d.header("Reply-To"))
        self.assertTrue(d.header("X-Marketplace-Audit"))
        audit_id = re.match(r"id=([^;]+);", d.header("X-Marketplace-Audit")).group(1)
        line = self.h.wait_audit(lambda l: l.get("audit_id") == audit_id)
        self.assertEqual(line["queue_id"], qid)
        self.assertEqual(line["decision"], "modify")

    def test_refusals_at_rcpt(self):
        unknown = f"0000000000000000@{DOMAIN}"
        msg = make_message(from_="support@acme.example", to=unknown, subject="Hello",
                           body="Anyone there?")
        r = self.h.send("support@acme.example", [unknown], msg)
        self.assertRefused(r, 550, "5.1.1")
        alias = self.pair["buyer_alias"]
        r = self.h.send("stranger@other.example", [alias],
                        make_message(from_="stranger@other.example", to=alias,
                                     subject="Hello", body="Cheap reviews!"))
        self.assertRefused(r, 550, "5.7.1")
        self.h.assert_nothing_delivered(timeout=3)

    def test_threading(self):
        s1 = "<orig-s1.sm@mx.acme.example>"
        _, d1 = self.send_one("support@acme.example", self.pair["buyer_alias"], s1)
        m1 = d1.header("Message-ID").strip()
        self.assertNotEqual(m1, s1)
        _, d2 = self.send_one("bob@gmail.example", self.pair["seller_alias"],
                              "<orig-b1.sm@laptop.gmail.example>",
                              headers=[("In-Reply-To", m1)])
        self.assertEqual(d2.rcpts, ["support@acme.example"])
        self.assertEqual(d2.header("In-Reply-To").strip(), s1)

    def send_one(self, sender, alias, message_id, headers=(), display_name=""):
        """One message, queued and delivered: (Sendmail's replies, the delivery)."""
        from_ = f"{display_name} <{sender}>" if display_name else sender
        msg = make_message(from_=from_, to=alias, subject="Engraving", headers=headers,
                           body=f"Which colour? {unique_line()}", message_id=message_id)
        r = self.h.send(sender, [alias], msg)
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        return r, d


if __name__ == "__main__":
    unittest.main()
