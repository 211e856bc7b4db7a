"""End-to-end with spooled bodies: the MIME corpus again, through `test` and
through Postfix, with spill_threshold_bytes so low that every message body
goes to a spool file and is parsed from it, plus the spool's own
promises:

  * bodies the policy has no reason to change are delivered byte-identical,
    an .exe is still stripped, a link is still cut (the corpus checks of
    test_mime, unchanged);
  * a 3 MB PDF with a link: the rewritten body is written to the spool and
    streamed to Postfix; the PDF arrives with its bytes, the link does not;
  * nothing is left in the spool directory, and the milter holds no spool
    file once the messages are through;
  * a spool directory that does not exist tempfails the message (451 4.3.0)
    with a log line; nothing is delivered.

    cd tests/integration && MM_BINARY=../../build/milter/marketplace-milter \\
        python3 -m unittest -v test_spool
"""

import base64
import os
import random
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_mime  # noqa: E402  (a module, so its test class is not collected twice)
from mmharness import HarnessError, unique_line, wait_for  # noqa: E402

SPILL = 512  # bytes: every corpus message is larger


def pdf_bytes(n: int) -> bytes:
    """A PDF of n bytes that readers (and the milter's qpdf check) open:
    one stream of random bytes."""
    rnd = random.Random(5)
    chunk = bytes(rnd.getrandbits(8) for _ in range(1 << 16))
    tail = b"\nendstream\nendobj\ntrailer\n<</Root 1 0 R>>\n%%EOF\n"
    length = n
    while True:
        head = (b"%%PDF-1.4\n1 0 obj\n<</Type/Catalog>>\nendobj\n2 0 obj\n<</Length %d>>\n"
                b"stream\n" % length)
        want = n - len(head) - len(tail)
        if want == length:
            break
        length = want
    return head + (chunk * (length // len(chunk) + 1))[:length] + tail


def pdf_message(sender: str, alias: str, pdf: bytes, text: bytes) -> bytes:
    b64 = base64.encodebytes(pdf).replace(b"\n", b"\r\n")
    return (b"From: Bob Buyer <" + sender.encode() + b">\r\nTo: " + alias.encode() + b"\r\n"
            b"Subject: the invoice\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + text + b"\r\n"
            b"--b1\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\n"
            b"Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--b1--\r\n")


class SpoolCorpusTest(test_mime.MimeCorpusTest):
    harness_name = "spool"

    @classmethod
    def setUpClass(cls):
        cls.spool = tempfile.mkdtemp(prefix="mm-spool-")
        cls.addClassCleanup(shutil.rmtree, cls.spool, True)
        cls.milter_config = {"spill_threshold_bytes": SPILL, "spool_dir": cls.spool,
                             "max_parallel_evaluations": 2}
        super().setUpClass()

    def spool_files_held(self) -> list:
        """The milter's open descriptors on files in the spool directory."""
        pid = self.h._milter.pid
        held = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(self.spool):
                held.append(target)
        return held

    def test_zz_spool_is_empty_once_messages_are_through(self):
        # After the corpus (tests run in name order) and a message of our own.
        sender, alias, _ = self.route("apple_mail_pdf.eml")
        data = pdf_message(sender, alias, pdf_bytes(20000), b"One more, " + unique_line().encode())
        self.assertQueued(self.h.send(sender, [alias], data), [alias])
        self.h.wait_delivered(1)
        self.assertEqual(os.listdir(self.spool), [])
        wait_for(lambda: not self.spool_files_held(), 5, "the milter to close its spool files",
                 on_timeout=lambda: repr(self.spool_files_held()))

    def test_big_pdf_with_a_link_is_rewritten_from_the_spool(self):
        pdf = pdf_bytes(3 << 20)
        sender, alias, owner = self.route("apple_mail_pdf.eml")
        msg = pdf_message(sender, alias, pdf,
                          b"Invoice attached. Instructions at https://files.example/manual.")
        self.assertQueued(self.h.send(sender, [alias], msg), [alias])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [owner])
        got = {p.get_filename(): p for _, p in test_mime.leaves(test_mime.parse(d.raw))}
        self.assertIn("invoice.pdf", got, d.summary())
        self.assertTrue(test_mime.decoded(got["invoice.pdf"]) == pdf, "PDF bytes changed")
        self.assertNotIn(b"files.example", d.raw)
        self.assertIn("Invoice attached.", test_mime.all_text(test_mime.parse(d.raw)))

    def test_spool_dir_gone_at_runtime_tempfails(self):
        going = os.path.join(self.spool, "going")
        os.mkdir(going)
        self.h.restart_milter(spool_dir=going)
        try:
            os.rmdir(going)  # empty: spool files never have a name
            sender, alias, _ = self.route("apple_mail_pdf.eml")
            r = self.h.send(sender, [alias],
                            pdf_message(sender, alias, pdf_bytes(20000), unique_line().encode()))
            self.assertRefused(r, 451, "4.3.0", stages=("data",))
            self.h.assert_nothing_delivered()
            self.assertIn("cannot spool the message body", self.h.milter_output())
            self.assertIn(going, self.h.milter_output())
            # Body chunks are not answered: the failure is carried to the
            # end of the message, which tempfails with an audit record.
            last = self.h.audit_lines()[-1]
            self.assertEqual(last["decision"], "tempfail", last)
            self.assertIn("spool.unavailable", [h["id"] for h in last["rules"]], last)
        finally:
            self.h.restart_milter()

    def test_missing_spool_dir_stops_the_start(self):
        missing = os.path.join(self.spool, "no-such-dir")
        try:
            with self.assertRaises(HarnessError) as cm:
                self.h.restart_milter(spool_dir=missing)
            self.assertIn("spool_dir", str(cm.exception))
            self.assertIn(missing, str(cm.exception))
        finally:
            self.h.start_milter()


if __name__ == "__main__":
    unittest.main()
