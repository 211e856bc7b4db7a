"""End-to-end privacy: what the other side must never see.

- The sender's host and IP: Postfix's own Received header ("from HELO (NAME
  [IP])") is never shown to the milter, so the marketplace smtpd's cleanup
  service rewrites it with etc/postfix/marketplace_header_checks (see
  etc/postfix/master.cf.notes, 7.).  The harness runs its smtpd that way.
- Reply-all: real addresses and other conversations' aliases in To/Cc.
- Addresses and phone numbers in a seller's HTML (privacy.redact).

The harness's privacy checker runs over every delivered message after each
class: no real address, no sender host name (mmharness.SENDER_HELO), no
sender IP (SENDER_IP)."""

import email.utils
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import (SENDER_HELO, SENDER_IP, HarnessTestCase, Party,  # noqa: E402
                       client_trace_patterns, crlf, make_message, privacy_violations)

THIRD_PARTY = "dave.friend@thirdparty.example"   # a real address outside the marketplace
SELLER_SIDE_ADDRESS = "sales.desk@acme-direct.example"
SELLER_PHONE = "+1 (415) 555-0134"
SELLER_PHONE_2 = "030 1234567"


def addresses(values):
    return [a.lower() for _, a in email.utils.getaddresses(values) if a]


class PrivacyTest(HarnessTestCase):
    harness_name = "privacy"
    policy_overrides = {"privacy.redact.seller_to_buyer": True}

    bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
    acme = Party("acme", "seller", "support@acme.example", "Acme Store")
    carol = Party("carol", "buyer", "carol@gmail.example", "Carol Client")
    zed = Party("zed", "seller", "hello@zed-shop.example", "Zed Shop")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair = cls.h.provision(cls.bob, cls.acme)
        cls.pair2 = cls.h.provision(cls.carol, cls.acme)
        cls.pair3 = cls.h.provision(cls.bob, cls.zed)
        # not parties, but real addresses all the same: never delivered
        cls.h.extra_real_addresses |= {THIRD_PARTY, SELLER_SIDE_ADDRESS}

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()

    def pair_aliases(self):
        return {self.pair["buyer_alias"].lower(), self.pair["seller_alias"].lower()}

    # ---- (a) the sender's host and IP ------------------------------------------
    def test_sender_host_and_ip_not_delivered(self):
        alias = self.pair["buyer_alias"]
        msg = make_message(from_="Acme Store <support@acme.example>", to=alias,
                           subject="Your engraving", body="The engraving is done.")
        # The sender's own first header: must still reach the milter (and be
        # removed by its allow-list) now that cleanup rewrites the header
        # Postfix puts in front of it.
        msg = crlf(b"X-Originating-IP: [192.0.2.77]\n") + msg
        r = self.h.send("support@acme.example", [alias], msg)
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        raw = d.raw.decode("latin-1")
        self.assertNotIn(SENDER_HELO.lower(), raw.lower())
        self.assertNotRegex(raw, r"(?<![0-9.])" + re.escape(SENDER_IP) + r"(?![0-9])")
        self.assertNotIn("192.0.2.77", raw, "the sender's first header was not filtered")
        self.assertEqual(privacy_violations([d], [], client_trace_patterns()), [])
        # What is left of Postfix's Received header: the marketplace host and
        # the queue id, no "from" clause.
        received = d.headers("Received")
        self.assertEqual(len(received), 1, received)
        value = re.sub(r"\s+", " ", received[0]).strip()
        m = re.fullmatch(r"by mx\.marketplace\.example \(Postfix\) with ESMTP id (\w+) "
                         r"for <([^>]+)>; .+", value)
        self.assertIsNotNone(m, f"Received: {value!r}")
        self.assertEqual(m.group(2).lower(), alias.lower())
        # The trace stays in Postfix's log, under that queue id.
        with open(self.h.maillog, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.assertIn(f"{m.group(1)}: client=unknown[{SENDER_IP}]", log)

    # ---- (b) reply-all -----------------------------------------------------------
    def test_reply_all_reaches_only_the_pair(self):
        """Bob answers the seller with "reply all": Cc holds his own real
        address, a friend's real address, the alias of his conversation with
        another shop and the alias of another buyer's conversation."""
        seller_alias = self.pair["seller_alias"]
        other_shop_alias = self.pair3["seller_alias"]   # Bob's conversation with Zed
        foreign_alias = self.pair2["buyer_alias"]       # Carol's conversation with Acme
        outside = [self.bob.address, THIRD_PARTY]
        msg = make_message(
            from_="Bob Buyer <bob@gmail.example>", to=f"Acme Store <{seller_alias}>",
            subject="Re: Your engraving", body="Thanks, looks great!",
            headers=[("Cc", f"Bob <{self.bob.address}>, Dave <{THIRD_PARTY}>, "
                            f"Zed Shop <{other_shop_alias}>, {foreign_alias}")])
        r = self.h.send(self.bob.address,
                        [seller_alias] + outside + [other_shop_alias, foreign_alias], msg)
        self.assertEqual(r.rcpts[seller_alias][0], 250, str(r))
        # Policy recipients.mixed = separate: an address outside the
        # marketplace in a transaction with an alias is deferred (the client
        # resends it on its own), so it never gets the alias-rewritten copy.
        for rcpt in outside:
            self.assertRefused(r, 452, "4.5.3", rcpt=rcpt, stages=("rcpt",))
        # Bob's other conversation: deferred, to be resent on its own.
        self.assertRefused(r, 452, "4.5.3", rcpt=other_shop_alias, stages=("rcpt",))
        # Someone else's conversation: Bob may not write to it at all.
        self.assertRefused(r, 550, "5.7.1", rcpt=foreign_alias, stages=("rcpt",))
        self.assertQueued(r, [seller_alias])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [self.acme.address])
        self.assertEqual(d.mail_from.lower(), self.pair["buyer_alias"].lower())
        to, cc = addresses(d.headers("To")), addresses(d.headers("Cc"))
        self.assertIn(seller_alias.lower(), to)
        self.assertTrue(set(to + cc) <= self.pair_aliases(),
                        f"To: {d.headers('To')} Cc: {d.headers('Cc')}")
        raw = d.raw.decode("latin-1").lower()
        for other in (other_shop_alias, foreign_alias):
            self.assertNotIn(other.lower(), raw)

    # ---- (c) seller HTML with an address and a phone number -------------------
    def test_seller_html_address_and_phone_redacted(self):
        alias = self.pair["buyer_alias"]
        text = (f"Hello,\n\nfor a faster answer call {SELLER_PHONE} or {SELLER_PHONE_2}, or write"
                f" to {SELLER_SIDE_ADDRESS}.\n\nThe shop\n")
        html = ("<html><body><p>Hello,</p>"
                f"<p>for a faster answer call <b>{SELLER_PHONE}</b> or {SELLER_PHONE_2}, or write"
                f" to <i>{SELLER_SIDE_ADDRESS}</i>.</p><p>The shop</p></body></html>")
        boundary = "=_alt_7f3a"
        msg = crlf(f"""From: Acme Store <support@acme.example>
To: {alias}
Subject: Faster answers
Date: {email.utils.formatdate()}
Message-ID: {email.utils.make_msgid(domain="client.test")}
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="{boundary}"

--{boundary}
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

{text}
--{boundary}
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

{html}
--{boundary}--
""")
        r = self.h.send("support@acme.example", [alias], msg)
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [self.bob.address])
        parts = {}
        for part in d.message.walk():
            if part.get_content_maintype() == "text":
                parts[part.get_content_subtype()] = part.get_content()
        self.assertEqual(sorted(parts), ["html", "plain"], d.raw[:2000])
        for kind, content in parts.items():
            with self.subTest(part=kind):
                self.assertNotIn(SELLER_SIDE_ADDRESS, content)
                self.assertNotIn("555-0134", content)
                self.assertNotIn("1234567", content)
                self.assertIn("[redacted]", content)
                self.assertIn("for a faster answer call", content)
        self.assertIn("<p>", parts["html"])

    # ---- (d) another conversation's alias in Cc ----------------------------------
    def test_other_pair_alias_in_cc_never_delivered(self):
        alias, other = self.pair["buyer_alias"], self.pair2["buyer_alias"]
        msg = make_message(from_="Acme Store <support@acme.example>", to=alias,
                           subject="Shipping update", body="Both parcels left today.",
                           headers=[("Cc", f"Carol <{other}>")])
        # envelope: the second pair's alias is deferred at RCPT
        r = self.h.send("support@acme.example", [alias, other], msg)
        self.assertRefused(r, 452, "4.5.3", rcpt=other, stages=("rcpt",))
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [self.bob.address])
        # header only (the client did not send it a RCPT): removed
        to, cc = addresses(d.headers("To")), addresses(d.headers("Cc"))
        self.assertNotIn(other.lower(), to + cc)
        self.assertTrue(set(to + cc) <= self.pair_aliases(), f"To: {to} Cc: {cc}")
        self.assertNotIn(other.lower(), d.raw.decode("latin-1").lower())
        # The same Cc in a message sent to this pair's alias alone (its own
        # text: the same text twice to one buyer is refused as a repeat).
        msg = make_message(from_="Acme Store <support@acme.example>", to=alias,
                           subject="Shipping update", body="The second parcel left today too.",
                           headers=[("Cc", f"Carol <{other}>")])
        r = self.h.send("support@acme.example", [alias], msg)
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [self.bob.address])
        self.assertNotIn(other.lower(), d.raw.decode("latin-1").lower())


class ReceivedLeakDetectedTest(HarnessTestCase):
    """The checker's own test: an smtpd WITHOUT marketplace_header_checks
    delivers Postfix's full Received header, and the privacy checker must
    report the sender's host name and IP in it."""
    harness_name = "privacy-leak"
    hide_client_received = False

    def test_checker_reports_postfix_received_header(self):
        bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
        acme = Party("acme", "seller", "support@acme.example", "Acme Store")
        pair = self.h.provision(bob, acme)
        alias = pair["buyer_alias"]
        r = self.h.send(acme.address, [alias],
                        make_message(from_=acme.address, to=alias, subject="Hi", body="Hello"))
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        try:
            self.assertRegex(d.header("Received") or "", r"^from " + re.escape(SENDER_HELO))
            found = "\n".join(self.h.privacy_violations())
            self.assertIn(f"sender host name {SENDER_HELO}", found)
            self.assertIn(f"sender IP {SENDER_IP}", found)
        finally:
            os.unlink(d.path)  # the leak is this test's point: keep it from the class check


if __name__ == "__main__":
    unittest.main()
