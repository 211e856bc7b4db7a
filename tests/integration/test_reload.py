"""End-to-end: reloading the running milter with SIGUSR1 (systemctl reload).

- a new policy `version` shows in the next message's X-Marketplace-Audit
  header and audit line;
- a broken policy file (bad YAML, unknown key) is refused: the milter keeps
  the policy it runs, mail keeps flowing with it, and its log says why
  (file:line:col);
- the audit log is reopened: after a rename (logrotate) a new audit.log is
  created and gets the next line.

Every wait polls with a deadline (the milter's output for "reloaded" /
"reload failed", the sink, the audit log)."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import OnePairTestCase, make_message, unique_line, wait_for  # noqa: E402

AUDIT_POLICY_RE = re.compile(r"; policy=([^;]+); hmac=[0-9a-f]{64}$")
VERSION_RE = re.compile(r'^version:.*$', re.M)


class ReloadTest(OnePairTestCase):
    harness_name = "reload"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy_path = cls.h.p("milter", "policy.yaml")
        with open(cls.policy_path) as f:
            cls.original_policy = f.read()
        m = re.search(r'^version:\s*"?([^"\s#]+)"?', cls.original_policy, re.M)
        assert m, "etc/policy.yaml has no version line"
        cls.original_version = m.group(1)

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()

    def tearDown(self):
        # back to the repository's policy, reloaded, for the next test
        with open(self.policy_path) as f:
            current = f.read()
        if current != self.original_policy:
            self.write_policy(self.original_policy)
            self.reload(expect_ok=True)

    # ---- helpers -----------------------------------------------------------
    def write_policy(self, text: str):
        # write-and-rename, as an editor or config management would
        tmp = self.policy_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.policy_path)

    def policy_with_version(self, version: str) -> str:
        text, n = VERSION_RE.subn(f'version: "{version}"', self.original_policy, count=1)
        self.assertEqual(n, 1)
        return text

    def milter_log_size(self) -> int:
        try:
            return os.path.getsize(self.h.milter_stderr)
        except OSError:
            return 0

    def milter_log_since(self, offset: int) -> str:
        with open(self.h.milter_stderr, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def reload(self, expect_ok: bool) -> str:
        """SIGUSR1, then waits for the milter's "reloaded" or "reload failed"
        line; returns that line.  Fails if the outcome is not the expected one."""
        offset = self.milter_log_size()
        self.h.reload_milter()

        def outcome():
            for line in self.milter_log_since(offset).splitlines():
                if "reloaded" in line or "reload failed" in line:
                    return line
            return None
        line = wait_for(outcome, 10, "the milter to log the reload's outcome",
                        on_timeout=self.h.milter_output)
        if expect_ok:
            self.assertIn("reloaded", line, line)
        else:
            self.assertIn("reload failed", line, line)
        self.assertTrue(self.h.milter_running(), "the milter died on reload:\n"
                        + self.h.milter_output())
        return line

    def send_and_check(self, expect_version: str) -> dict:
        """One seller -> buyer message: delivered, its audit header and audit
        line name policy `expect_version`; returns the audit line."""
        alias = self.pair["buyer_alias"]
        msg = make_message(from_="Acme Support <support@acme.example>", to=alias,
                           subject="Engraving colour", body=f"Blue or red? {unique_line()}",
                           headers=[("Reply-To", "support@acme.example")])
        r = self.h.send("support@acme.example", [alias], msg)
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, ["bob@gmail.example"])
        values = d.headers("X-Marketplace-Audit")
        self.assertEqual(len(values), 1, values)
        value = re.sub(r"\s*\n\s*", " ", values[0]).strip()
        m = AUDIT_POLICY_RE.search(value)
        self.assertIsNotNone(m, value)
        self.assertEqual(m.group(1), expect_version, f"X-Marketplace-Audit: {value}")
        audit_id = re.match(r"id=([^;]+);", value).group(1)
        line = self.h.wait_audit(lambda l: l.get("audit_id") == audit_id,
                                 what=f"audit line {audit_id}")
        self.assertEqual(line["policy"], expect_version, line)
        return line

    # ---- tests -------------------------------------------------------------
    def test_new_policy_version_after_reload(self):
        self.send_and_check(self.original_version)
        new_version = "2026-11-24.7"
        self.write_policy(self.policy_with_version(new_version))
        line = self.reload(expect_ok=True)
        self.assertIn(new_version, line)
        self.send_and_check(new_version)
        # and once more: every later message too, not just the next one
        self.send_and_check(new_version)

    def test_broken_policy_keeps_the_running_one(self):
        # a good reload first, so "the previous version" is not just the start-up one
        running = "2026-11-24.8"
        self.write_policy(self.policy_with_version(running))
        self.reload(expect_ok=True)

        broken = {
            "bad YAML": (self.policy_with_version("2026-11-24.9")
                         + "\nheaders:\n  remove: [Reply-To, Sender\n"),
            "unknown key": (self.policy_with_version("2026-11-24.9")
                            + "\nbounces_typo:\n  action: reject\n"),
        }
        for what, text in broken.items():
            with self.subTest(what):
                self.write_policy(text)
                line = self.reload(expect_ok=False)
                # the log names the file and the position: policy.yaml:LINE:COL
                self.assertRegex(line, re.escape(self.policy_path) + r":\d+:\d+",
                                 f"{what}: reload failure without file:line:col: {line}")
                if what == "unknown key":
                    self.assertIn("bounces_typo", line)
                # mail keeps flowing, judged by the policy that runs
                self.send_and_check(running)

        # fixed file: the next reload takes it
        self.write_policy(self.policy_with_version("2026-11-24.10"))
        self.reload(expect_ok=True)
        self.send_and_check("2026-11-24.10")

    def test_audit_log_reopened_after_rename(self):
        audit = self.h.audit_log
        rotated = audit + ".1"
        first = self.send_and_check(self.original_version)
        os.rename(audit, rotated)
        self.assertFalse(os.path.exists(audit))
        self.reload(expect_ok=True)
        wait_for(lambda: os.path.exists(audit), 10, "a new audit.log after the reload",
                 on_timeout=self.h.milter_output)
        line = self.send_and_check(self.original_version)  # reads the new audit.log
        with open(rotated) as f:
            old = f.read()
        self.assertIn(first["audit_id"], old, "the rotated file keeps the earlier lines")
        self.assertNotIn(line["audit_id"], old, "a line went to the rotated file after reopen")
        with open(audit) as f:
            new = f.read()
        self.assertIn(line["audit_id"], new)
        self.assertNotIn(first["audit_id"], new)


if __name__ == "__main__":
    unittest.main()
