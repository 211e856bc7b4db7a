"""Faults around the milter, through real Postfix: none may deliver a message
unfiltered or lose one.

- the Postfix spool, the store's directory and the audit log, each on a
  small tmpfs filled to the last byte: mail is tempfailed (4xx), and a
  sending MTA's retry (retry_load.RetryingClient) gets through, filtered,
  once space is freed;
- a corrupt database file: at start the milter refuses to start and says
  which file; while it runs, mail is tempfailed with a log line naming it;
- a reload (SIGUSR1) with a broken policy under load: the running policy
  stays, the log names file:line:col, and no message is tempfailed for it.

Needs root (mount -t tmpfs), as the whole suite does (Postfix's master).
"""

import errno
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import (DOMAIN, Harness, HarnessTestCase, OnePairTestCase,  # noqa: E402
                       make_message, unique_line, wait_for)
from retry_load import Job, Load, RetryingClient  # noqa: E402

SMALL_FS_SIZE = "16m"


class SmallFs:
    """A tmpfs of SMALL_FS_SIZE at `path`, which fill() fills to the last
    byte and free() empties again."""

    def __init__(self, path: str):
        self.path = path
        self.filler = os.path.join(path, "filler")
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_FS_SIZE},mode=0755",
                        "tmpfs", path], check=True, capture_output=True)

    def fill(self):
        chunk = b"\0" * 65536
        with open(self.filler, "ab", buffering=0) as f:
            for size in (65536, 4096, 1):
                try:
                    while True:
                        f.write(chunk[:size])
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
        st = os.statvfs(self.path)
        assert st.f_bavail == 0, f"{self.path}: {st.f_bavail} blocks still free"

    def free(self):
        os.unlink(self.filler)

    def unmount(self):
        subprocess.run(["umount", "-l", self.path], capture_output=True)


class FaultHarness(Harness):
    """A harness with `small_fs` ("spool", "store" or "audit") on a SmallFs."""

    small_fs = ""

    def _start_sink(self):
        # the first step after the directory exists, before the milter's
        # files and Postfix's queue are made
        self.fs = SmallFs(self.p("smallfs"))
        super()._start_sink()

    @property
    def queue_dir(self) -> str:
        return self.p("smallfs", "queue") if self.small_fs == "spool" else self.p("queue")

    def postfix_main_cf(self) -> dict:
        cf = super().postfix_main_cf()
        # smtpd wants 1.5 times message_size_limit free before MAIL FROM
        cf["message_size_limit"] = "1048576"
        return cf

    def milter_settings(self, **overrides) -> dict:
        s = super().milter_settings(**overrides)
        if self.small_fs == "store":
            s["store"] = {**s["store"], "path": self.p("smallfs", "store.db")}
        if self.small_fs == "audit":
            s["audit_log"] = self.p("smallfs", "audit.log")
        return s

    @property
    def audit_log(self) -> str:
        return self.p("smallfs", "audit.log") if self.small_fs == "audit" else super().audit_log

    @property
    def store_path(self) -> str:
        return self.p("smallfs", "store.db") if self.small_fs == "store" else super().store_path

    def stop(self):
        try:
            super().stop()
        finally:
            fs = getattr(self, "fs", None)
            if fs is not None:
                fs.unmount()
                if self._own_dir and not self.keep:
                    shutil.rmtree(self.dir, ignore_errors=True)


def harness_on(where: str):
    return type(f"{where.capitalize()}FaultHarness", (FaultHarness,), {"small_fs": where})


class FaultTestCase(OnePairTestCase):
    def job(self, subject: str = "Engraving colour") -> Job:
        alias = self.pair["buyer_alias"]
        token = unique_line()
        msg = make_message(from_="Acme Store <support@acme.example>", to=alias, subject=subject,
                           body=f"Blue or red for the engraving? {token}")
        return Job(token, "support@acme.example", alias, msg, "seller->buyer")

    def milter_log_from(self, offset: int) -> str:
        with open(self.h.milter_stderr, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def wait_milter_log(self, text: str):
        wait_for(lambda: text in self.milter_log_from(0), 10, f"{text!r} in the milter's log",
                 on_timeout=self.h.milter_output)

    def milter_log_size(self) -> int:
        return os.path.getsize(self.h.milter_stderr)

    def assertDeliveredFiltered(self, job: Job):
        [d] = self.h.wait_delivered(1)
        self.assertIn(job.token, d.raw.decode("utf-8", "replace"))
        self.assertIsNotNone(d.header("X-Marketplace-Audit"), d.summary())
        self.assertTrue(d.from_address[1].endswith("@" + DOMAIN), d.summary())
        self.assertEqual(d.rcpts, [self.bob.address])

    def tempfailed_until_freed(self, before_fill=None, after_fill=None) -> list:
        """Fills the small filesystem, sends one message with a retrying
        client, waits for two 4xx answers, frees the space: the retry is
        delivered, filtered.  Returns the replies the client got and what
        the milter logged meanwhile."""
        self.h.drain()
        offset = self.milter_log_size()
        job = self.job()
        if before_fill:
            before_fill()
        self.h.fs.fill()
        if after_fill:
            after_fill()
        client = RetryingClient(self.h.smtpd_port, tries=400, backoff=0.1, max_backoff=0.3)
        result = {}
        sender = threading.Thread(target=lambda: result.update(out=client.send(job)))
        freed = False
        try:
            sender.start()
            out_so_far = lambda: result.get("out")  # noqa: E731
            wait_for(lambda: out_so_far() is not None or len(client.attempt_log) >= 2, 60,
                     "two tempfailed attempts", on_timeout=self.h.diagnostics)
            self.assertNotIn("out", result, "the message got an answer on a full filesystem: "
                             + str(result.get("out")))
            self.assertEqual(self.h._new_dumps(), [], "delivered while the filesystem was full")
            self.h.fs.free()
            freed = True
            sender.join(120)
        finally:
            if not freed:
                self.h.fs.free()
            sender.join(120)
        out = result["out"]
        self.assertEqual(out.kind, "delivered", out)
        self.assertGreaterEqual(out.attempts, 3, out)
        for code, text in out.replies[:-1]:
            self.assertTrue(400 <= code < 500 or code == 0, f"{code} {text}")
        self.assertDeliveredFiltered(job)
        return out.replies, self.milter_log_from(offset)


class FullSpoolTest(FaultTestCase):
    harness_name = "fullspool"
    harness_class = harness_on("spool")

    def test_full_spool_tempfails_then_flows(self):
        replies, _ = self.tempfailed_until_freed()
        self.assertTrue(any(code == 452 or code == 451 for code, _ in replies), replies)


class FullStoreTest(FaultTestCase):
    harness_name = "fullstore"
    harness_class = harness_on("store")

    def test_full_store_tempfails_then_flows(self):
        def shrink_wal():
            # A WAL that grew earlier is written again from its start without
            # new blocks: empty it (the milter stopped), so that the next
            # commit needs space; the milter starts while there is some.
            self.h.kill_milter(sig=15)
            with sqlite3.connect(self.h.store_path) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.h.start_milter()
        replies, log = self.tempfailed_until_freed(before_fill=shrink_wal)
        self.assertTrue(any(r[0] == 451 and "4.3.0" in r[1] for r in replies), replies)
        self.assertRegex(log, r"(?i)(disk is full|database or disk is full|SQLITE_FULL)", log)


class FullAuditLogTest(FaultTestCase):
    harness_name = "fullaudit"
    harness_class = harness_on("audit")

    def test_full_audit_log_tempfails_then_flows(self):
        def fresh_log():
            # The log's last page has room for a few lines on a full
            # filesystem: start an empty one (logrotate and a reload).
            os.rename(self.h.audit_log, self.h.audit_log + ".1")
            self.h.reload_milter()
            wait_for(lambda: os.path.exists(self.h.audit_log), 10, "a new audit.log",
                     on_timeout=self.h.milter_output)
        def first_of_the_spell():
            # The log's first failure comes after this message's state went
            # into the store: it is delivered as committed, its line in the
            # milter's log (message_flow.h).  Those after it are tempfailed.
            probe = self.job()
            out = RetryingClient(self.h.smtpd_port, tries=1).send(probe)
            if out.kind == "delivered":
                self.assertDeliveredFiltered(probe)
                self.wait_milter_log("audit line not written, delivered as committed")
            else:
                self.assertEqual(out.reply[0], 451, out)
        replies, log = self.tempfailed_until_freed(before_fill=fresh_log,
                                                   after_fill=first_of_the_spell)
        self.assertTrue(any(r[0] == 451 and "4.3.0" in r[1] for r in replies), replies)
        self.assertIn("messages are tempfailed until it takes lines again", log)
        # one line for the spell, not one per message
        self.assertEqual(log.count("messages are tempfailed until it takes lines again"), 1, log)


class CorruptStoreTest(FaultTestCase):
    harness_name = "corrupt"

    def backup(self) -> str:
        copy = self.h.p("store.backup.db")
        with sqlite3.connect(self.h.store_path) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        return copy

    def restore(self, copy: str):
        self.h.kill_milter(sig=15)
        for suffix in ("-wal", "-shm"):
            try:
                os.unlink(self.h.store_path + suffix)
            except FileNotFoundError:
                pass
        shutil.copy(copy, self.h.store_path)
        self.h.start_milter()

    def corrupt(self):
        size = os.path.getsize(self.h.store_path)
        with open(self.h.store_path, "r+b") as f:
            f.write(os.urandom(size))

    def test_corrupt_database_at_start_is_refused_with_the_file_named(self):
        copy = self.backup()
        self.h.kill_milter(sig=15)
        self.corrupt()
        r = subprocess.run([self.h.binary, "run", "-c", self.h.milter_config],
                           capture_output=True, text=True, timeout=60, cwd=self.h.p("milter"))
        out = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn(self.h.store_path, out)
        self.assertRegex(out, r"(?i)not a database|malformed|corrupt", out)
        self.restore(copy)
        job = self.job()
        self.assertTrue(RetryingClient(self.h.smtpd_port, tries=1).send(job).kind == "delivered")
        self.assertDeliveredFiltered(job)

    def test_corrupt_database_while_running_tempfails_with_a_log_line(self):
        self.h.drain()
        copy = self.backup()
        offset = self.milter_log_size()
        self.corrupt()
        once = RetryingClient(self.h.smtpd_port, tries=1)
        tempfailed, delivered = [], []
        for _ in range(10):
            job = self.job()
            out = once.send(job)
            code = out.reply[0] if out.reply else 0
            self.assertTrue(out.kind == "delivered" or 400 <= code < 500, out)
            (delivered if out.kind == "delivered" else tempfailed).append(job)
            if tempfailed:
                break
        self.assertTrue(tempfailed, "a corrupt store never tempfailed a message")
        log = self.milter_log_from(offset)
        self.assertRegex(log, r"(?i)(not a database|malformed|corrupt).*" + re.escape("store.db")
                         + "|" + re.escape("store.db") + r".*(not a database|malformed|corrupt)",
                         log)
        self.h.wait_queue_empty()
        for d in self.h.wait_delivered(len(delivered)):
            self.assertIsNotNone(d.header("X-Marketplace-Audit"), d.summary())
        # the store back: the sender's retry of the tempfailed one flows
        self.restore(copy)
        job = tempfailed[0]
        self.assertEqual(RetryingClient(self.h.smtpd_port, tries=5).send(job).kind, "delivered")
        self.assertDeliveredFiltered(job)


class ReloadUnderLoadTest(HarnessTestCase):
    harness_name = "reloadload"

    def test_broken_policy_reload_under_load_keeps_the_running_one(self):
        policy_path = self.h.policy_path
        with open(policy_path) as f:
            original = f.read()
        version = re.search(r'^version:\s*"?([^"\s#]+)"?', original, re.M).group(1)
        load = Load(self.h, messages=120, pairs=3, orders=2)
        offset = os.path.getsize(self.h.milter_stderr)

        def break_policy():
            tmp = policy_path + ".new"
            with open(tmp, "w") as f:
                f.write(original + "\nbounces_typo:\n  action: reject\n")
            os.replace(tmp, policy_path)
            self.h.reload_milter()

        try:
            r = load.run(workers=3, events=[(0.3, break_policy)])
        finally:
            with open(policy_path, "w") as f:
                f.write(original)
        with open(self.h.milter_stderr, "rb") as f:
            f.seek(offset)
            log = f.read().decode("utf-8", "replace")
        failed = [line for line in log.splitlines() if "reload failed" in line]
        self.assertEqual(len(failed), 1, log)
        self.assertRegex(failed[0], re.escape(policy_path) + r":\d+:\d+")
        self.assertIn("bounces_typo", failed[0])
        self.assertTrue(self.h.milter_running())
        self.assertEqual(r["gave_up"], 0, r)
        self.assertEqual(r["tempfailed_attempts"], 0, r)
        self.assertEqual(r["sent"], r["delivered"] + r["refused"], r)
        self.assertEqual(r["lost"], [])
        self.assertEqual(r["unfiltered"], [])
        self.assertEqual(r["audit_tempfails"], 0, r)
        self.assertEqual({line.get("policy") for line in self.h.audit_lines()}, {version})


if __name__ == "__main__":
    unittest.main()
