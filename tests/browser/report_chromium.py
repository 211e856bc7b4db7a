#!/usr/bin/env python3
"""`marketplace-milter report --format html` in a real browser.

Builds a store and an audit log (three days, refusals, strips, quarantines,
tempfails, [Important] use, and hostile text where mail puts text: link
domains, file names), renders the report, opens it in headless Chromium
through the DevTools protocol (--remote-debugging-pipe: NUL-separated JSON on
fds 3 and 4, so the standard library is enough), and checks that

  - every chart drew: the <svg> has a non-zero size and marks with non-zero size,
  - the console shows no error, no exception was thrown, nothing was blocked,
  - the hostile text stayed text (no element or script of its own ran),
  - a table sorts when its column heading is pressed;

then keeps a screenshot of the whole page.  Exits 77 (ctest: skipped, with
the reason on stdout) when Chromium is not installed.

Usage: report_chromium.py --binary PATH --repo ROOT --out DIR
"""

import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
CHARTS = ["chart-decisions", "chart-refusals", "chart-rules", "chart-sellers"]
HOSTILE_DOMAIN = '"><img src=x onerror="window.__pwned=1">.example'
HOSTILE_FILE = "<script>window.__pwned=2</script>.exe"


def audit_line(time_s, decision, rules, sender, recipient, reply="", audit_id=None):
    audit_line.n = getattr(audit_line, "n", 0) + 1
    return json.dumps({
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time_s)),
        "audit_id": audit_id or f"{audit_line.n:016x}", "queue_id": f"Q{audit_line.n}",
        "client": "192.0.2.1", "decision": decision, "reply": reply,
        "rules": [{"id": i, "detail": d} for i, d in rules],
        "sender_party": sender, "recipient_party": recipient, "policy": "p1", "size": 1000,
        "elapsed_us": 1000, "milter_us": 500, "milter_cpu_us": 400}) + "\n"


def write_log(path):
    day0 = 1772323200  # 2026-03-01T00:00:00Z
    rewrite = ("alias.rewrite", "aliases mapped")
    lines = []
    for day in range(5):
        t = day0 + day * 86400
        for i in range(3 + day):
            lines.append(audit_line(t + 3600 + i * 60, "modify",
                                    [rewrite, ("marketplace.buyer_message", "buyer message")],
                                    f"b{i % 3 + 1}", f"s{i % 4 + 1}"))
            lines.append(audit_line(t + 7200 + i * 600, "modify", [rewrite], f"s{i % 4 + 1}",
                                    f"b{i % 3 + 1}"))
        lines.append(audit_line(t + 9000, "reject",
                                [rewrite, ("links.removed", f"2 link(s): evil.example, {HOSTILE_DOMAIN}")],
                                "s1", "b1", "550 5.7.1 Links (rule links.removed)"))
        for k in range(day % 3 + 1):
            lines.append(audit_line(t + 9500 + k, "reject",
                                    [rewrite, ("marketplace.optout", "buyer opted out")],
                                    f"s{k + 2}", "b2", "550 5.7.1 opted out"))
        lines.append(audit_line(t + 10000, "modify",
                                [rewrite, ("attachment.type",
                                           f'part 2 "{HOSTILE_FILE}" application/x-dosexec: '
                                           "executable (stripped)")], "s2", "b3"))
        if day % 2 == 0:
            lines.append(audit_line(t + 11000, "quarantine",
                                    [rewrite, ("marketplace.important_misuse", "tagged but not critical")],
                                    "s3", "b1", "held"))
        lines.append(audit_line(t + 12000, "tempfail", [("store.unavailable", "database is locked")],
                                "s4", "b2", "451 4.3.0"))
        lines.append(audit_line(t + 13000, "accept", [("marketplace.critical", "tagged and critical")],
                                "s4", "b3"))
    lines.append('{"time": "2026-03-05T23:00:00Z", "audit_id": "cut\n')
    with open(path, "w") as f:
        f.writelines(lines)


def make_fixture(binary, repo, work):
    for name in ("policy.yaml", "concepts.yaml"):  # policy.yaml names concepts.yaml beside it
        shutil.copy(os.path.join(repo, "etc", name), os.path.join(work, name))
    # and its rules' word models under models/ (model.file)
    shutil.copytree(os.path.join(repo, "etc", "models"), os.path.join(work, "models"))
    key = os.path.join(work, "hmac.key")
    with open(key, "w") as f:
        f.write("ab" * 32 + "\n")
    os.chmod(key, 0o600)
    config = os.path.join(work, "marketplace-milter.yaml")
    with open(config, "w") as f:
        f.write("domain: marketplace.example\npolicy: policy.yaml\nstore: {path: store.db}\n"
                "audit_log: audit.log\nhmac_key_file: hmac.key\n")
    parties = [(f"s{i}", "seller") for i in range(1, 5)] + [(f"b{i}", "buyer") for i in range(1, 4)]
    for pid, role in parties:
        subprocess.run([binary, "party", "add", "-c", config, "--id", pid, "--role", role,
                        "--address", f"{pid}@real.example"], check=True, stdout=subprocess.DEVNULL)
    write_log(os.path.join(work, "audit.log"))
    return config


class Browser:
    """Chromium driven over --remote-debugging-pipe."""

    def __init__(self, chromium, profile):
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # The child must see them as fds 3 (it reads) and 4 (it writes).
        high_r = os.dup(to_child_r) if to_child_r > 4 else _dup_high(to_child_r)
        high_w = os.dup(from_child_w) if from_child_w > 4 else _dup_high(from_child_w)

        def child_fds():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "--window-size=1280,1000", "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (to_child_r, from_child_w, high_r, high_w):
            os.close(fd)
        self.out = to_child_w
        self.inp = from_child_r
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.inp], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.inp, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.out)
        os.close(self.inp)


def _dup_high(fd):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


CHECKS = """(() => {
  const charts = %s.map(id => {
    const svg = document.getElementById(id);
    if (!svg) return {id: id, missing: true};
    const box = svg.getBoundingClientRect();
    const marks = Array.from(svg.querySelectorAll('rect.bar, polyline.series, circle.point'))
      .filter(e => { const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length;
    return {id: id, width: box.width, height: box.height, marks: marks};
  });
  return JSON.stringify({
    charts: charts,
    pwned: window.__pwned === undefined ? null : window.__pwned,
    images: document.querySelectorAll('img').length,
    scripts: document.scripts.length,
    hostileShown: document.body.textContent.includes('onerror="window.__pwned=1"'),
  });
})()""" % json.dumps(CHARTS)

SORT = """(() => {
  const table = document.querySelector('#rules table');
  const th = table.tHead.rows[0].cells[1];
  th.querySelector('button').click();
  const first = Array.from(table.tBodies[0].rows).map(r => parseFloat(r.cells[1].textContent));
  const after1 = th.getAttribute('aria-sort');
  th.querySelector('button').click();
  const second = Array.from(table.tBodies[0].rows).map(r => parseFloat(r.cells[1].textContent));
  return JSON.stringify({first: first, second: second, after1: after1,
                         after2: th.getAttribute('aria-sort')});
})()"""


def evaluate(browser, session, expression):
    r = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    if "exceptionDetails" in r:
        raise AssertionError(f"evaluation threw: {r['exceptionDetails']}")
    return json.loads(r["result"]["value"])


def problems_in(events):
    """Console errors, exceptions and log errors (a CSP violation is one)."""
    found = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            found.append(f"console.{p['type']}: {p.get('args')}")
        elif m == "Runtime.exceptionThrown":
            found.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            found.append(f"log: {p['entry'].get('text')} ({p['entry'].get('url', '')})")
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--out", required=True, help="directory for report.html and the screenshot")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIPPED: chromium is not installed (Debian package 'chromium'; scripts/test "
              "installs it): the HTML report was not rendered")
        return SKIP
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="mm-report-browser-")
    try:
        config = make_fixture(args.binary, args.repo, work)
        html = os.path.join(args.out, "report.html")
        subprocess.run([args.binary, "report", "-c", config, "--format", "html", "--out", html],
                       check=True)
        browser = Browser(chromium, os.path.join(work, "profile"))
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget",
                                   {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                browser.send(f"{domain}.enable", session=session)
            browser.send("Page.navigate", {"url": "file://" + os.path.abspath(html)}, session)
            browser.wait_event("Page.loadEventFired")
            checks = evaluate(browser, session, CHECKS)
            sort = evaluate(browser, session, SORT)
            metrics = browser.send("Page.getLayoutMetrics", session=session)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = browser.send("Page.captureScreenshot",
                                {"format": "png", "captureBeyondViewport": True,
                                 "clip": {"x": 0, "y": 0, "width": size["width"],
                                          "height": size["height"], "scale": 1}}, session)
            screenshot = os.path.join(args.out, "report.png")
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            time.sleep(0.2)  # let late console events arrive
            browser.send("Runtime.evaluate", {"expression": "1"}, session)
            problems = problems_in(browser.events)
        finally:
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    failures = []
    for c in checks["charts"]:
        if c.get("missing") or not (c["width"] > 0 and c["height"] > 0) or c["marks"] == 0:
            failures.append(f"chart did not draw: {c}")
    if checks["pwned"] is not None or checks["images"] != 0 or checks["scripts"] != 1:
        failures.append(f"hostile text became markup: {checks}")
    if not checks["hostileShown"]:
        failures.append("the hostile domain is not shown as text")
    if sort["after1"] != "ascending" or sort["first"] != sorted(sort["first"]):
        failures.append(f"ascending sort: {sort}")
    if sort["after2"] != "descending" or sort["second"] != sorted(sort["second"], reverse=True):
        failures.append(f"descending sort: {sort}")
    failures += problems
    print(f"charts: {checks['charts']}")
    print(f"screenshot: {screenshot} ({os.path.getsize(screenshot)} bytes)")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
