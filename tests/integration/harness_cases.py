"""unittest integration: a Harness per test class (HarnessTestCase, with the
privacy checker over everything delivered), one pair (OnePairTestCase), a
corpus checked message by message (CorpusTestCase, load_corpus,
add_test_per_entry), and the assertions they share."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import unittest
from typing import Optional

from harness_world import Harness
from harness_common import REPO_ROOT
from harness_mail import Delivery, SendResult
from harness_store import Party

_AUDIT_FIELDS_RE = re.compile(r"decision=(?P<decision>[a-z]+); rules=(?P<rules>[^;]*);")


def audit_decision_and_rules(header_value: str) -> Optional[tuple]:
    """(decision, [rule ids]) of an X-Marketplace-Audit value; None if unreadable."""
    m = _AUDIT_FIELDS_RE.search(re.sub(r"\s+", " ", header_value))
    if m is None:
        return None
    return m.group("decision"), [x.strip() for x in m.group("rules").split(",") if x.strip()]


def add_test_per_entry(cls, entries, run: str):
    """One test method per entry name (file.eml -> test_file) that calls
    cls.<run>(name): a corpus checked message by message."""
    for name in entries:
        def test(self, name=name):
            getattr(self, run)(name)
        test.__name__ = "test_" + name.rsplit(".", 1)[0]
        test.__doc__ = name
        setattr(cls, test.__name__, test)


def load_corpus(subdir: str, generator: str, manifest: str) -> tuple:
    """(directory, generator module, manifest) of the corpus in
    tests/data/<subdir>: messages to the generator's PLACEHOLDER, from its
    SELLER to its BUYER, each with its verdict in the manifest (JSON, or
    YAML read with python3-yaml)."""
    import importlib
    directory = os.path.join(REPO_ROOT, "tests", "data", subdir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = importlib.import_module(generator)
    with open(os.path.join(directory, manifest), encoding="utf-8") as f:
        if manifest.endswith(".json"):
            expected = json.load(f)
        else:
            import yaml
            expected = yaml.safe_load(f)
    return directory, module, expected


def corpus_parties(module) -> tuple:
    """(seller, buyer) Parties of a corpus generator's SELLER and BUYER."""
    return (Party("acme", "seller", module.SELLER, "Acme Store"),
            Party("bob", "buyer", module.BUYER, "Bob Buyer"))


class HarnessTestCase(unittest.TestCase):
    """Base class: one Harness per test class (started in setUpClass).

    After the class's tests, tearDownClass runs the privacy checker over every
    message the sink received, so every test contributes to it; a violation
    fails the run (reported as an error in tearDownClass)."""

    harness_name = "it"
    with_milter = True
    milter_config: dict = {}
    policy_overrides: dict = {}   # {"privacy.redact.seller_to_buyer": True, ...}
    sasl_users: dict = {}         # {login: password} for SMTP AUTH (Harness)
    hide_client_received = True
    milter_socket = "inet"
    harness_class = Harness       # a subclass changes where things live (test_faults)
    h: Harness

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.h = cls.harness_class(cls.harness_name, with_milter=cls.with_milter,
                        config=cls.milter_config, policy=cls.policy_overrides,
                        hide_client_received=cls.hide_client_received,
                        milter_socket=cls.milter_socket, sasl_users=cls.sasl_users)
        cls.addClassCleanup(cls.h.stop)
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        violations = cls.h.privacy_violations()
        if os.environ.get("MM_VERBOSE"):
            print(f"\n{cls.__name__}: privacy checker saw {len(cls.h.all_deliveries())} "
                  f"message(s), {len(cls.h.real_addresses())} real address(es)",
                  file=sys.stderr)
        super().tearDownClass()
        if violations:
            cls.h.keep = True
            raise AssertionError("PRIVACY: real addresses or the sender's host delivered (kept "
                                 f"{cls.h.dir} for inspection):\n" + "\n".join(violations))

    # ---- assertions --------------------------------------------------------
    def assertRefused(self, result: SendResult, code: int, enhanced: str,
                      rcpt: Optional[str] = None, stages=("rcpt", "data", "mail")):
        """The transaction (or `rcpt`) was refused with `code` and the
        enhanced status `enhanced` in the reply text."""
        ref = result.refusal(rcpt)
        self.assertIsNotNone(ref, f"expected {code} {enhanced}, but it was queued: {result}")
        stage, got_code, text = ref
        self.assertIn(stage, stages, f"refused at {stage}: {result}")
        self.assertEqual(got_code, code, f"{result}")
        self.assertIn(enhanced, text, f"{result}")

    def send_and_check_verdict(self, name: str, data: bytes, sender: str, alias: str,
                               owner: str, *, decision: str, code: str = "",
                               enhanced: str = "5.", rules=()) -> Optional[Delivery]:
        """Sends `data` from `sender` to `alias`.  A refusal (decision reject)
        comes at DATA with `code` and `enhanced`, names one of `rules` ("rule
        X", or "limit X" for a limit) and delivers nothing (returns None); otherwise one message reaches
        `owner` whose audit header says `decision` and names every rule (as
        a prefix: a rule repeated many times may be summarised), returned."""
        r = self.h.send(sender, [alias], data)
        if decision == "reject":
            self.assertRefused(r, int(code), enhanced, stages=("data",))
            if rules:
                text = r.data[1]
                self.assertTrue(any(f"{kind} {rid}" in text
                                    for rid in rules for kind in ("rule", "limit")),
                                f"{name}: refusal does not name {list(rules)}: {text!r}")
            self.h.assert_nothing_delivered()
            return None
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [owner], d.summary())
        audit = d.headers("X-Marketplace-Audit")
        self.assertEqual(len(audit), 1, f"{name}: {audit}")
        read = audit_decision_and_rules(audit[0])
        self.assertIsNotNone(read, audit[0])
        self.assertEqual(read[0], decision, audit[0])
        for rid in rules:
            self.assertTrue(any(x.startswith(rid) for x in read[1]),
                            f"{name}: {rid} not in {audit[0]}")
        return d

    def assertTempfailed(self, result: SendResult):
        ref = result.refusal()
        self.assertIsNotNone(ref, f"expected a 4xx, but it was queued: {result}")
        stage, code, text = ref
        self.assertTrue(400 <= code < 500, f"expected a 4xx at some stage, got {ref}: {result}")

    def assertQueued(self, result: SendResult, rcpts: Optional[list] = None):
        self.assertTrue(result.queued, f"not queued: {result}")
        if rcpts is not None:
            self.assertEqual(sorted(result.accepted_rcpts), sorted(rcpts), f"{result}")


class CorpusTestCase(HarnessTestCase):
    """A corpus of messages between one pair (test_mime, test_hostile): the
    class attributes `seller` and `buyer` (corpus_parties) are provisioned
    once as `pair`, `outdir` takes `test --out` files, and each test starts
    with the milter running and the sink drained."""
    seller: Party
    buyer: Party

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair = cls.h.provision(cls.buyer, cls.seller)
        cls.outdir = tempfile.mkdtemp(prefix="out-", dir=cls.h.dir)

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()


class OnePairTestCase(HarnessTestCase):
    """A HarnessTestCase with one buyer (bob), one seller (acme) and their
    pair (cls.pair), provisioned once for the class."""

    bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
    acme = Party("acme", "seller", "support@acme.example", "Acme Store")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair = cls.h.provision(cls.bob, cls.acme)
