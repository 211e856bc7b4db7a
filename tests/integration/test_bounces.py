"""End-to-end: bounces (DSNs) and auto-replies coming back through an alias.

A seller writes to the buyer's alias; the buyer's MTA bounces it
(MAIL FROM:<>, a Postfix-style multipart/report) to the seller's alias.  The
seller receives the report at its real address with the null sender kept,
and nothing in it names the buyer's real address or the buyer's mail hosts.
A bounce for a message the marketplace never delivered (backscatter) is
refused.  An auto-reply from the buyer arrives with the e-mail address and
the phone number of its signature redacted.  The harness's privacy checker
runs over every delivered message after the class."""

import email
import email.policy
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import OnePairTestCase, crlf, make_message  # noqa: E402

BUYER_HOSTS = ("mx.gmail.example", "mailstore1.gmail.example", "192.0.2.31", "192.0.2.25")


def dsn(seller_alias: str, returned_headers: str, boundary_host: str = "mx.gmail.example") -> bytes:
    """A bounce as Postfix on the buyer's side writes it."""
    boundary = f"3F2A1C0123.1795521605/{boundary_host}"
    return crlf(f"""Received: by mx.gmail.example (Postfix)
\tid 3F2A1C0123; Mon, 23 Nov 2026 12:00:05 +0000 (UTC)
Date: Mon, 23 Nov 2026 12:00:05 +0000 (UTC)
From: MAILER-DAEMON@mx.gmail.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {seller_alias}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"
Content-Transfer-Encoding: 8bit
Message-Id: <20261123120005.3F2A1C0123@mx.gmail.example>

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.gmail.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<bob@gmail.example>: host mailstore1.gmail.example[192.0.2.31] said: 550
    5.1.1 <bob@gmail.example>... User unknown (in reply to RCPT TO command)

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.gmail.example
X-Postfix-Queue-ID: 3F2A1C0123
X-Postfix-Sender: rfc822; {seller_alias}
Arrival-Date: Mon, 23 Nov 2026 12:00:04 +0000 (UTC)

Final-Recipient: rfc822; bob@gmail.example
Original-Recipient: rfc822;bob@gmail.example
Action: failed
Status: 5.1.1
Remote-MTA: dns; mailstore1.gmail.example
Diagnostic-Code: smtp; 550 5.1.1 <bob@gmail.example>... User unknown

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{seller_alias}>
Received: from mta.marketplace.example (mta.marketplace.example [192.0.2.25])
\tby mx.gmail.example (Postfix) with ESMTPS id 3F2A1C0123
\tfor <bob@gmail.example>; Mon, 23 Nov 2026 12:00:04 +0000 (UTC)
X-Original-To: bob@gmail.example
Delivered-To: bob@gmail.example
{returned_headers.rstrip()}

--{boundary}--
""")


def all_text(d) -> str:
    """Raw message plus every decoded header and part, lower case."""
    out = [d.raw.decode("latin-1")]
    for part in d.message.walk():
        out += [f"{k}: {v}" for k, v in part.items()]
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            if payload:
                out.append(payload.decode("utf-8", "replace"))
    return "\n".join(out).lower()


class BouncesTest(OnePairTestCase):
    harness_name = "bounces"

    def setUp(self):
        self.h.drain()

    def seller_writes(self):
        """The seller's message as the buyer's MTA received it."""
        r = self.h.send(self.acme.address, self.pair["buyer_alias"], make_message(
            from_="Acme <support@acme.example>", to=self.pair["buyer_alias"],
            subject="Your order 123-4567", body="Which colour would you like?"))
        self.assertQueued(r)
        (d,) = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [self.bob.address])
        self.assertEqual(d.mail_from, self.pair["seller_alias"])
        return d

    def test_bounce_reaches_the_seller_without_the_buyers_address_or_hosts(self):
        delivered = self.seller_writes()
        head = delivered.raw.decode("utf-8", "replace").split("\n\n", 1)[0]
        r = self.h.send("", self.pair["seller_alias"], dsn(self.pair["seller_alias"], head))
        self.assertQueued(r)
        (d,) = self.h.wait_delivered(1)
        self.assertEqual(d.mail_from, "")
        self.assertEqual(d.rcpts, [self.acme.address])
        text = all_text(d)
        for leak in (self.bob.address, *BUYER_HOSTS, "gmail.example"):
            self.assertNotIn(leak, text, f"{leak} delivered to the seller:\n{d.raw.decode()}")
        self.assertIn("status: 5.1.1", text)
        self.assertIn("action: failed", text)
        self.assertIn(f"final-recipient: rfc822; {self.pair['buyer_alias']}", text)
        self.assertIn("reporting-mta: dns; marketplace.example", text)
        self.assertIn(f"<{self.pair['buyer_alias']}>: host marketplace.example said: 550", text)
        self.assertEqual(d.from_address[1].lower(), "mailer-daemon@marketplace.example")
        self.assertEqual(d.message.get_content_type(), "multipart/report")
        audit = d.header("X-Marketplace-Audit") or ""
        self.assertIn("bounce.rewritten", audit)

    def test_backscatter_is_refused(self):
        head = (f"From: Acme <{self.pair['seller_alias']}>\nTo: <{self.pair['buyer_alias']}>\n"
                "Subject: never sent\nMessage-ID: <000000000000000000000000@marketplace.example>\n")
        r = self.h.send("", self.pair["seller_alias"], dsn(self.pair["seller_alias"], head))
        self.assertRefused(r, 550, "5.7.1", stages=("data",))
        self.assertIn("bounce.backscatter", r.data[1])
        self.h.assert_nothing_delivered()

    def test_auto_reply_signature_is_redacted(self):
        for sender in ("", self.bob.address):
            with self.subTest(sender=sender or "<>"):
                msg = make_message(
                    from_="Bob Buyer <bob@gmail.example>", to=self.pair["seller_alias"],
                    subject="Auto: Out of office",
                    body="I am away until Monday.\n--\nBob, bob.private@home.example,"
                         " +49 30 1234 5678\n",
                    headers=[("Auto-Submitted", "auto-replied")])
                r = self.h.send(sender, self.pair["seller_alias"], msg)
                self.assertQueued(r)
                (d,) = self.h.wait_delivered(1)
                self.assertEqual(d.rcpts, [self.acme.address])
                self.assertEqual(d.mail_from, "" if not sender else self.pair["buyer_alias"])
                body = d.body_text
                self.assertIn("I am away until Monday.", body)
                self.assertNotIn("bob.private@home.example", body)
                self.assertNotIn("1234 5678", body)
                self.assertIn("[redacted]", body)
                self.assertIn("autoreply.redacted", d.header("X-Marketplace-Audit") or "")


if __name__ == "__main__":
    unittest.main()
