"""Self-test of the integration harness: Postfix + smtp-sink without the
milter.  Proves that delivery capture (envelope, headers, body) and the
privacy checker work, so a green test_core means something."""

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmharness  # noqa: E402
from mmharness import Delivery, HarnessTestCase, make_message, privacy_violations  # noqa: E402


class PostfixSinkTest(HarnessTestCase):
    harness_name = "harness"
    with_milter = False

    def test_capture_envelope_headers_body(self):
        body = ".leading dot survives\nsecond line\n\nlast line, after an empty one"
        msg = make_message(from_="Someone <someone@acme.example>", to="friend@gmail.example",
                           subject="capture test", body=body,
                           headers=[("Reply-To", "other@acme.example")])
        r = self.h.send("someone@acme.example", ["friend@gmail.example", "pal@gmail.example"], msg)
        self.assertQueued(r, ["friend@gmail.example", "pal@gmail.example"])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.mail_from, "someone@acme.example")
        self.assertEqual(sorted(d.rcpts), ["friend@gmail.example", "pal@gmail.example"])
        self.assertEqual(d.from_address, ("Someone", "someone@acme.example"))
        self.assertEqual(d.header("Reply-To"), "other@acme.example")
        self.assertEqual(d.header("Subject"), "capture test")
        self.assertEqual(d.body_text.rstrip("\n"), body)
        # Postfix's own Received: header is there; smtp-sink's is not part of raw.
        self.assertIn("Received", d.header_names())
        self.assertNotIn(b"(smtp-sink)", d.raw)

    def test_each_message_its_own_dump(self):
        for i in range(3):
            msg = make_message(from_="a@acme.example", to="b@gmail.example",
                               subject=f"n{i}", body=f"message {i}")
            self.assertQueued(self.h.send("a@acme.example", "b@gmail.example", msg))
        got = self.h.wait_delivered(3)
        self.assertEqual(sorted(d.header("Subject") for d in got), ["n0", "n1", "n2"])
        self.h.assert_nothing_delivered()

    def test_relay_denied_outside_relay_domains(self):
        msg = make_message(from_="a@acme.example", to="x@elsewhere.example", subject="s",
                           body="b")
        r = self.h.send("a@acme.example", "x@elsewhere.example", msg)
        # 127.0.0.1 is in mynetworks, so Postfix relays it: everything goes to the sink.
        self.assertQueued(r)
        self.h.wait_delivered(1)


class PrivacyCheckerTest(unittest.TestCase):
    """The checker itself, on synthetic dumps."""

    def dump(self, mail_from, rcpts, raw, orcpt=None):
        rcpt_args = [f"<{r}> ORCPT=rfc822;{orcpt or r}" for r in rcpts]
        sink = ["X-Client-Addr: 127.0.0.1", f"X-Mail-Args: <{mail_from}>"] + \
            [f"X-Rcpt-Args: {a}" for a in rcpt_args]
        data = ("\n".join(sink) + "\n").encode() + raw
        return Delivery(path="synthetic", mail_from=mail_from, mail_args=f"<{mail_from}>",
                        rcpts=list(rcpts), rcpt_args=rcpt_args, raw=raw, sink_lines=sink,
                        file_bytes=data)

    REALS = {"bob@gmail.example", "support@acme.example"}

    def test_clean_message_passes(self):
        d = self.dump("8c1e5d0b9a7f2e44@marketplace.example", ["bob@gmail.example"],
                      b"From: \"Acme\" <8c1e5d0b9a7f2e44@marketplace.example>\n"
                      b"To: 3f9a0c6e1d2b4a77@marketplace.example\n\nhello\n",
                      orcpt="3f9a0c6e1d2b4a77@marketplace.example")
        self.assertEqual(privacy_violations([d], self.REALS), [])

    def test_own_address_allowed_only_in_envelope_recipient(self):
        d = self.dump("8c1e5d0b9a7f2e44@marketplace.example", ["bob@gmail.example"],
                      b"From: x@marketplace.example\nTo: Bob@Gmail.Example\n\nhi\n")
        v = privacy_violations([d], self.REALS)
        self.assertTrue(v)
        self.assertTrue(all("real address bob@gmail.example in" in x for x in v), v)
        self.assertTrue(any("bob@gmail.example in message" in x for x in v), v)

    def test_leaks_found_everywhere(self):
        cases = {
            "envelope sender": self.dump("support@acme.example", ["bob@gmail.example"],
                                         b"From: a@marketplace.example\n\nhi\n"),
            "reply-to": self.dump("a@marketplace.example", ["bob@gmail.example"],
                                  b"Reply-To: SUPPORT@acme.example\n\nhi\n"),
            "body": self.dump("a@marketplace.example", ["bob@gmail.example"],
                              b"Subject: x\n\nwrite to support@acme.example\n"),
            "base64 body": self.dump(
                "a@marketplace.example", ["bob@gmail.example"],
                b"Content-Transfer-Encoding: base64\n\n"
                b"d3JpdGUgdG8gc3VwcG9ydEBhY21lLmV4YW1wbGUgcGxlYXNlCg==\n"),
            "quoted-printable": self.dump(
                "a@marketplace.example", ["bob@gmail.example"],
                b"Content-Transfer-Encoding: quoted-printable\n\nsupport=40acme.example=\n\n"),
            "encoded-word": self.dump(
                "a@marketplace.example", ["bob@gmail.example"],
                b"From: =?utf-8?b?c3VwcG9ydEBhY21lLmV4YW1wbGU=?= <a@marketplace.example>\n\nhi\n"),
            "other rcpt's ORCPT": self.dump("a@marketplace.example", ["bob@gmail.example"],
                                            b"Subject: x\n\nhi\n", orcpt="support@acme.example"),
        }
        for name, d in cases.items():
            with self.subTest(name):
                v = privacy_violations([d], self.REALS)
                self.assertTrue(any("support@acme.example" in x for x in v), v)


class StoreLockTest(unittest.TestCase):
    """sqlite_store_locked() makes a WAL database unavailable even to a
    process that keeps its connection open (as the milter does), and
    releasing it restores service."""

    READER = r"""
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0.2)
c.execute("PRAGMA busy_timeout=200")
print(c.execute("select count(*) from t").fetchone()[0], flush=True)
for cmd in sys.stdin:
    t = time.monotonic()
    try:
        if cmd.startswith("w"):
            c.execute("insert into t values (2)")
            print("ok write", flush=True)
        else:
            print("ok", c.execute("select count(*) from t").fetchone()[0], flush=True)
    except sqlite3.Error as e:
        print("error", e, round(time.monotonic() - t, 1), flush=True)
"""

    def test_wal_database_unavailable_while_locked(self):
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "store.db")
            c = sqlite3.connect(db, isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("create table t (x)")
            c.execute("insert into t values (1)")
            c.close()
            reader = subprocess.Popen([sys.executable, "-c", self.READER, db],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                self.assertEqual(reader.stdout.readline().strip(), "1")

                def ask(cmd):
                    reader.stdin.write(cmd + "\n")
                    reader.stdin.flush()
                    return reader.stdout.readline().strip()
                # Exclusive locking mode cannot take the database from an open WAL reader:
                x = sqlite3.connect(db, isolation_level=None, timeout=0.2)
                x.execute("PRAGMA locking_mode=EXCLUSIVE")
                with self.assertRaises(sqlite3.OperationalError):
                    x.execute("BEGIN EXCLUSIVE")
                x.close()
                with mmharness.sqlite_store_locked(db):
                    t = time.monotonic()
                    self.assertTrue(ask("r").startswith("error"))
                    self.assertLess(time.monotonic() - t, 30)
                self.assertEqual(ask("r"), "ok 1")
                self.assertEqual(ask("w"), "ok write")
            finally:
                reader.stdin.close()
                reader.wait(10)


if __name__ == "__main__":
    unittest.main()
