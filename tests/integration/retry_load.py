"""A sending MTA's retries under load, and the reconciliation of what it sent
with what reached the sink (test_kill_retry, test_kill_retry_long).

RetryingClient sends one message as a sending MTA does: on a 4xx reply or a
connection failure it waits (a short backoff, doubling up to a bound) and
sends the same bytes again, giving up only after `tries` attempts; a 2xx
after DATA is delivered, a 5xx refused.  smtp-source never retries, so the
load is this client in threads.

Load builds the messages (seller->buyer and buyer->seller over several pairs
and orders, every text distinct, so the repeat rule, which is on, may only
ever refuse a message as a repeat of itself) and runs them; reconcile() puts
what the clients were told beside what the sink holds and the audit log.
"""

from __future__ import annotations

import collections
import dataclasses
import queue
import random
import re
import string
import threading
import time
from typing import Optional

from mmharness import DOMAIN, Harness, Party, make_message, smtp_send

TOKEN_RE = re.compile(r"Parcel reference (kr\d+x[a-z]+)")
AUDIT_ID_RE = re.compile(r"\(audit ([0-9a-f]+)\)")


@dataclasses.dataclass
class Job:
    token: str
    mail_from: str
    rcpt: str
    message: bytes
    direction: str  # "seller->buyer" | "buyer->seller"


@dataclasses.dataclass
class Outcome:
    job: Job
    kind: str = "gave_up"  # delivered | refused | gave_up
    reply: tuple = ()      # the last reply (code, text)
    attempts: int = 0
    replies: list = dataclasses.field(default_factory=list)  # (code, text) per attempt


class RetryingClient:
    def __init__(self, port: int, tries: int = 60, backoff: float = 0.1,
                 max_backoff: float = 2.0):
        self.port, self.tries = port, tries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.attempt_log: list = []  # (code, text) of every attempt of every send, as they come

    def send(self, job: Job) -> Outcome:
        out = Outcome(job)
        delay = self.backoff
        for attempt in range(1, self.tries + 1):
            out.attempts = attempt
            r = smtp_send(self.port, job.mail_from, [job.rcpt], job.message, timeout=180)
            if r.queued:
                out.kind, out.reply = "delivered", r.data
                out.replies.append(r.data)
                self.attempt_log.append(r.data)
                return out
            ref = r.refusal()
            code = ref[1] if ref else 0
            out.reply = (code, ref[2] if ref else str(r))
            out.replies.append(out.reply)
            self.attempt_log.append(out.reply)
            if 500 <= code < 600:
                out.kind = "refused"
                return out
            time.sleep(delay)  # 4xx or no answer: the MTA keeps it and tries later
            delay = min(delay * 2, self.max_backoff)
        return out


def _token(i: int) -> str:
    return f"kr{i}x" + "".join(random.choice(string.ascii_lowercase) for _ in range(8))


class Load:
    """`pairs` buyer/seller pairs with `orders` orders each; message i goes
    one way or the other, on an order or outside any."""

    def __init__(self, h: Harness, *, messages: int, pairs: int = 6, orders: int = 3):
        self.h = h
        self.pairs = []
        for p in range(pairs):
            buyer = Party(f"kb{p}", "buyer", f"kbuyer{p}@gmail.example", f"Buyer {p}")
            seller = Party(f"ks{p}", "seller", f"kseller{p}@acme.example", f"Seller {p}")
            pair = h.provision(buyer, seller)
            oids = []
            for o in range(orders):
                oid = f"403-{p:07d}-{o:07d}"
                h.cli_json("order", "add", "--id", oid, "--pair", str(pair["pair_id"]),
                           "--kind", "standard", "--fulfilment", "fbm")
                oids.append(oid)
            self.pairs.append((pair, buyer, seller, oids))
        self.jobs = [self._job(i) for i in range(messages)]

    def _job(self, i: int) -> Job:
        pair, buyer, seller, oids = self.pairs[i % len(self.pairs)]
        token = _token(i)
        # Each pair's messages alternate between buyer and seller and cycle
        # through its orders; every fifth is about no order.
        turn = i // len(self.pairs)
        oid = None if turn % 5 == 4 else oids[turn % len(oids)]
        about = f"order {oid}" if oid else "listing"
        if turn % 2 == 0:
            msg = make_message(from_=f"{buyer.name} <{buyer.address}>", to=pair["seller_alias"],
                               subject=f"Question about {about}",
                               body=f"Hello, when will it arrive?\nParcel reference {token}.")
            return Job(token, buyer.address, pair["seller_alias"], msg, "buyer->seller")
        msg = make_message(from_=f"{seller.name} <{seller.address}>", to=pair["buyer_alias"],
                           subject=f"Your {about}",
                           body=f"It left our warehouse today in a blue box.\n"
                                f"Parcel reference {token}.")
        return Job(token, seller.address, pair["buyer_alias"], msg, "seller->buyer")

    def kill_and_restart(self, down_s: float = 0.3):
        self.h.kill_milter()  # SIGKILL: a crash, mid-message for some
        time.sleep(down_s)
        self.h.start_milter()

    def run(self, workers: int = 4, kills: int = 0, events=()) -> dict:
        """Sends every job from `workers` threads; meanwhile kills the milter
        with SIGKILL `kills` times, evenly over the load, and restarts it
        (or, with `events`, calls each fn once `fraction` of the jobs are
        done).  Returns the reconciliation."""
        events = list(events) or [(k / (kills + 1), self.kill_and_restart)
                                  for k in range(1, kills + 1)]
        todo: queue.Queue = queue.Queue()
        for j in self.jobs:
            todo.put(j)
        outcomes: list = []
        lock = threading.Lock()
        client = RetryingClient(self.h.smtpd_port)

        def work():
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                o = client.send(job)
                with lock:
                    outcomes.append(o)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
        started = time.monotonic()
        for t in threads:
            t.start()
        done = 0
        for fraction, fn in events:
            mark = int(fraction * len(self.jobs))
            while True:
                with lock:
                    if len(outcomes) >= mark:
                        break
                if not any(t.is_alive() for t in threads):
                    break
                time.sleep(0.02)
            fn()
            done += 1
        for t in threads:
            t.join()
        self.h.wait_queue_empty(timeout=120)
        return reconcile(self.h, outcomes, done if kills else 0, time.monotonic() - started)


def _audit_by_id(h: Harness) -> dict:
    return {line.get("audit_id"): line for line in h.audit_lines()}


def reconcile(h: Harness, outcomes: list, kills: int, seconds: float) -> dict:
    deliveries = h.all_deliveries()
    at_sink = collections.Counter()
    by_message_id = collections.Counter()
    unfiltered = []
    for d in deliveries:
        m = TOKEN_RE.search(d.raw.decode("utf-8", "replace"))
        at_sink[m.group(1) if m else "?"] += 1
        by_message_id[d.header("Message-ID") or "?"] += 1
        from_addr = d.from_address[1]
        if d.header("X-Marketplace-Audit") is None or not from_addr.endswith("@" + DOMAIN):
            unfiltered.append(d.summary())
    audit = _audit_by_id(h)
    kinds = collections.Counter(o.kind for o in outcomes)
    refused_by_rule = collections.Counter()
    self_repeats = []
    for o in outcomes:
        if o.kind != "refused":
            continue
        m = AUDIT_ID_RE.search(o.reply[1] if len(o.reply) > 1 else "")
        line = audit.get(m.group(1)) if m else None
        rules = [r.get("id") for r in line.get("rules", [])] if line else ["(no audit line)"]
        refused_by_rule[next((r for r in rules if r.startswith("marketplace.")), rules[0]
                             if rules else "?")] += 1
        if "marketplace.repeat" in rules:
            self_repeats.append(o.job.token)
    delivered_tokens = {o.job.token for o in outcomes if o.kind == "delivered"}
    refused_tokens = {o.job.token for o in outcomes if o.kind == "refused"}
    lines = h.audit_lines()
    return {
        "sent": len(outcomes),
        "delivered": kinds["delivered"],
        "refused": kinds["refused"],
        "gave_up": kinds["gave_up"],
        "lost": sorted(t for t in delivered_tokens if at_sink[t] == 0),
        "delivered_though_refused": sorted(t for t in refused_tokens if at_sink[t]),
        "duplicated": sorted(t for t, n in at_sink.items() if n > 1),
        "duplicated_message_ids": sorted(i for i, n in by_message_id.items() if n > 1),
        "unknown_at_sink": at_sink.get("?", 0),
        "unfiltered": unfiltered,
        "privacy_violations": h.privacy_violations(),
        "self_repeats": self_repeats,
        "refused_by_rule": dict(refused_by_rule),
        "kills": kills,
        "attempts": sum(o.attempts for o in outcomes),
        "tempfailed_attempts": sum(o.attempts - 1 for o in outcomes),
        "retries_judged_as_committed": sum(
            1 for line in lines if any(r.get("id") == "delivery.retry"
                                       for r in line.get("rules", []))),
        "audit_tempfails": sum(1 for line in lines if line.get("decision") == "tempfail"),
        "at_sink": len(deliveries),
        "seconds": round(seconds, 1),
    }


def table(r: dict) -> str:
    rows = [
        ("messages sent (distinct)", r["sent"]),
        ("delivered (250, at the sink)", r["delivered"]),
        ("refused (5xx)", r["refused"]),
        ("  by rule", ", ".join(f"{k} {v}" for k, v in sorted(r["refused_by_rule"].items()))
         or "-"),
        ("gave up (still 4xx after every try)", r["gave_up"]),
        ("sent - delivered - refused", r["sent"] - r["delivered"] - r["refused"]),
        ("lost (250 but not at the sink)", len(r["lost"])),
        ("at the sink though refused", len(r["delivered_though_refused"])),
        ("duplicated at the sink (token / Message-ID)",
         f"{len(r['duplicated'])} / {len(r['duplicated_message_ids'])}"),
        ("delivered unfiltered (no audit header, From not an alias)", len(r["unfiltered"])),
        ("privacy violations", len(r["privacy_violations"])),
        ("refused as a repeat of itself", len(r["self_repeats"])),
        ("milter kills (SIGKILL)", r["kills"]),
        ("SMTP attempts / tempfailed attempts", f"{r['attempts']} / {r['tempfailed_attempts']}"),
        ("tempfail audit lines", r["audit_tempfails"]),
        ("retries judged as their committed first attempt", r["retries_judged_as_committed"]),
        ("messages at the sink", r["at_sink"]),
        ("seconds", r["seconds"]),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"| {k:<{width}} | {v} |" for k, v in rows)
