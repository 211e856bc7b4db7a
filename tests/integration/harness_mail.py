"""Mail as the tests see it: messages to send, the SMTP client side, what
reached smtp-sink (parse_dump -> Delivery), and the privacy checker that
looks for real addresses and the sender's host in every delivered message."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import email.utils
import itertools
import os
import quopri
import re
import smtplib
from typing import Iterable, Optional

from harness_common import SENDER_HELO, SENDER_IP, HarnessError

def crlf(data: bytes | str) -> bytes:
    """Normalises line endings to CRLF."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data.replace(b"\n", b"\r\n")


def make_message(*, from_: str, to: str | Iterable[str], subject: str, body: str,
                 headers: Iterable[tuple[str, str]] = (), message_id: Optional[str] = None,
                 date: Optional[str] = None) -> bytes:
    """A simple text/plain message with CRLF line endings."""
    if not isinstance(to, str):
        to = ", ".join(to)
    lines = [f"From: {from_}", f"To: {to}", f"Subject: {subject}",
             f"Date: {date or email.utils.formatdate(localtime=False)}",
             f"Message-ID: {message_id or email.utils.make_msgid(domain='client.test')}",
             "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
             "Content-Transfer-Encoding: 8bit"]
    lines += [f"{k}: {v}" for k, v in headers]
    return crlf("\n".join(lines) + "\n\n" + body.rstrip("\n") + "\n")


_unique = itertools.count(1)


def unique_line() -> str:
    """A sentence no other test message has: the marketplace refuses the same
    text sent twice to one buyer (marketplace.repeat), so tests that are not
    about that rule send a different text each time."""
    return f"(Message {next(_unique)} of this test run.)"


def addr_of(angle: str) -> str:
    """'<a@b> SIZE=1' -> 'a@b'."""
    m = re.match(r"\s*<([^>]*)>", angle)
    if m:
        return m.group(1)
    return angle.split()[0] if angle.split() else ""


# --------------------------------------------------------------------------
# SMTP client side


@dataclasses.dataclass
class SendResult:
    """What the MTA answered at each stage of one transaction.

    Stages that did not happen are None.  Replies are (code, text) with the
    text as Postfix sent it (multi-line replies joined with "\\n")."""
    mail_from: str
    rcpt_list: list
    greeting: Optional[tuple] = None
    ehlo: Optional[tuple] = None
    mail: Optional[tuple] = None
    rcpts: dict = dataclasses.field(default_factory=dict)
    data: Optional[tuple] = None
    error: Optional[str] = None  # connection-level failure

    @property
    def accepted_rcpts(self) -> list:
        return [r for r, (code, _) in self.rcpts.items() if 200 <= code < 300]

    @property
    def queued(self) -> bool:
        """True if the MTA took responsibility (250 after DATA)."""
        return self.data is not None and 200 <= self.data[0] < 300

    def refusal(self, rcpt: Optional[str] = None) -> Optional[tuple]:
        """The first non-2xx reply that stopped `rcpt` (or the message when
        rcpt is None): (stage, code, text), or None if it was queued."""
        for stage, reply in (("connect", self.greeting), ("ehlo", self.ehlo),
                             ("mail", self.mail)):
            if reply is not None and not 200 <= reply[0] < 300:
                return stage, reply[0], reply[1]
        if self.error:
            return "error", 0, self.error
        if rcpt is not None:
            if rcpt not in self.rcpts:
                return "not-sent", 0, "RCPT never sent"
            code, text = self.rcpts[rcpt]
            if not 200 <= code < 300:
                return "rcpt", code, text
        elif self.rcpts and not self.accepted_rcpts:
            first = next(iter(self.rcpts.items()))
            return "rcpt", first[1][0], first[1][1]
        if self.data is not None and not 200 <= self.data[0] < 300:
            return "data", self.data[0], self.data[1]
        if self.data is None:
            return "not-sent", 0, "DATA never sent"
        return None

    def __str__(self) -> str:
        parts = [f"EHLO -> {self.ehlo}"] if self.ehlo and self.ehlo[0] >= 300 else []
        parts.append(f"MAIL FROM:<{self.mail_from}> -> {self.mail}")
        parts += [f"RCPT TO:<{r}> -> {v}" for r, v in self.rcpts.items()]
        parts.append(f"DATA -> {self.data}")
        if self.error:
            parts.append(f"error: {self.error}")
        return "; ".join(parts)


def _reply(code, text) -> tuple:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return int(code), text


def smtp_send(port: int, mail_from: str, rcpts: Iterable[str], message: bytes,
              timeout: float = 120.0, helo: str = SENDER_HELO,
              auth: Optional[tuple] = None) -> SendResult:
    """auth: (login, password) for SMTP AUTH after EHLO; a refused login is
    result.error."""
    rcpts = list(rcpts)
    result = SendResult(mail_from=mail_from, rcpt_list=rcpts)
    try:
        client = smtplib.SMTP(timeout=timeout, local_hostname=helo)
    except OSError as e:
        result.error = f"socket: {e}"
        return result
    try:
        result.greeting = _reply(*client.connect("127.0.0.1", port))
        if not 200 <= result.greeting[0] < 300:
            return result
        result.ehlo = _reply(*client.ehlo())
        if not 200 <= result.ehlo[0] < 300:
            return result
        if auth is not None:
            client.login(*auth)
        result.mail = _reply(*client.mail(mail_from))
        if not 200 <= result.mail[0] < 300:
            return result
        for r in rcpts:
            result.rcpts[r] = _reply(*client.rcpt(r))
        if result.accepted_rcpts:
            try:
                result.data = _reply(*client.data(crlf(message)))
            except smtplib.SMTPDataError as e:
                result.data = _reply(e.smtp_code, e.smtp_error)
        else:
            client.rset()
    except smtplib.SMTPServerDisconnected as e:
        result.error = f"disconnected: {e}"
    except (OSError, smtplib.SMTPException) as e:
        result.error = f"{type(e).__name__}: {e}"
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return result


# --------------------------------------------------------------------------
# what reached the sink


@dataclasses.dataclass
class Delivery:
    """One message as smtp-sink received it."""
    path: str
    mail_from: str          # envelope sender, without <>
    mail_args: str          # the whole MAIL FROM argument line
    rcpts: list             # envelope recipients, without <>
    rcpt_args: list         # the whole RCPT TO argument lines
    raw: bytes              # the message (headers + body), LF line endings
    sink_lines: list        # smtp-sink's own header lines (X-Client-Addr, X-Mail-Args, ...)
    file_bytes: bytes       # the whole dump file

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    def headers(self, name: str) -> list:
        """All values of header `name` (decoded, unfolded), in order."""
        return [str(v) for v in (self.message.get_all(name) or [])]

    def header(self, name: str) -> Optional[str]:
        values = self.headers(name)
        return values[0] if values else None

    def header_names(self) -> list:
        return [k for k, _ in self.message.items()]

    @property
    def from_address(self) -> tuple:
        """(display name, address) of the From: header."""
        return email.utils.parseaddr(self.header("From") or "")

    @property
    def body_text(self) -> str:
        """Decoded text of every text part, joined."""
        out = []
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                try:
                    out.append(part.get_content())
                except (LookupError, ValueError):
                    out.append(part.get_payload(decode=True).decode("utf-8", "replace"))
        return "\n".join(out)

    def summary(self) -> str:
        return (f"{os.path.basename(self.path)}: from=<{self.mail_from}> "
                f"to={['<%s>' % r for r in self.rcpts]} subject={self.header('Subject')!r}")


def parse_dump(path: str) -> Delivery:
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    mail_args, rcpt_args, sink_lines = None, [], []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(b"X-"):
            sink_lines.append(line.decode("utf-8", "replace"))
        if line.startswith(b"X-Mail-Args:"):
            mail_args = line.split(b":", 1)[1].strip().decode("utf-8", "replace")
        elif line.startswith(b"X-Rcpt-Args:"):
            rcpt_args.append(line.split(b":", 1)[1].strip().decode("utf-8", "replace"))
        elif line.startswith(b"Received:") and b"(smtp-sink)" in b"".join(lines[i:i + 3]):
            i += 1
            while i < len(lines) and lines[i][:1] in (b"\t", b" "):
                i += 1
            break
        elif not line.startswith(b"X-"):
            raise HarnessError(f"{path}: unexpected smtp-sink header line {line!r}")
        i += 1
    else:
        raise HarnessError(f"{path}: no smtp-sink Received header (incomplete dump?)")
    if mail_args is None:
        raise HarnessError(f"{path}: no X-Mail-Args line")
    raw = b"\n".join(lines[i:])
    # smtp-sink appends one empty line after the message.
    if raw.endswith(b"\n\n"):
        raw = raw[:-1]
    return Delivery(path=path, mail_from=addr_of(mail_args), mail_args=mail_args,
                    rcpts=[addr_of(a) for a in rcpt_args], rcpt_args=rcpt_args, raw=raw,
                    sink_lines=sink_lines, file_bytes=data)


# --------------------------------------------------------------------------
# the privacy checker


def _decoded_views(d: Delivery) -> list:
    """Texts to search besides the raw bytes: decoded headers and decoded
    bodies of every MIME part (base64 / quoted-printable hide addresses)."""
    views = []
    try:
        msg = d.message
        for part in msg.walk():
            for k, v in part.items():
                views.append(f"{k}: {v}")
            if not part.is_multipart():
                payload = part.get_payload(decode=True)
                if payload:
                    views.append(payload.decode("utf-8", "replace"))
    except Exception as e:  # a message we cannot parse is searched raw only
        views.append(f"(unparsable: {e!r})")
    # belt and braces: try base64 / QP decoding of every long-enough run
    raw = d.raw.decode("latin-1")
    for run in re.findall(r"(?:[A-Za-z0-9+/]{16,}={0,2}\n?){1,}", raw):
        try:
            views.append(base64.b64decode(run.replace("\n", ""), validate=False)
                         .decode("latin-1"))
        except (ValueError, base64.binascii.Error):
            pass
    views.append(quopri.decodestring(d.raw).decode("latin-1"))
    return views


def client_trace_patterns(helo: str = SENDER_HELO, ip: str = SENDER_IP) -> list:
    """(label, regex) pairs for the sending client's host name and IP, as
    Postfix's own Received header writes them ("from HELO (NAME [IP])").
    The IP is matched as a whole dotted quad, bracketed or bare: in the
    delivered message itself (not smtp-sink's X-Client-Addr line, which is
    about the Postfix -> sink hop) nothing else puts the loopback address."""
    return [(f"sender host name {helo}", re.compile(re.escape(helo), re.I)),
            (f"sender IP {ip}", re.compile(r"(?<![0-9.])" + re.escape(ip) + r"(?![0-9])"))]


def privacy_violations(deliveries: Iterable[Delivery], real_addresses: Iterable[str],
                       client_traces: Iterable[tuple] = ()) -> list:
    """No delivered message may contain a real address of a provisioned
    party anywhere (envelope sender, sink-recorded headers, message headers
    and body, raw or decoded, case-insensitive) -- except a recipient's own
    address in its own envelope recipient (X-Rcpt-Args) line.

    Nor may the message (headers and body, raw or decoded) contain any of
    client_traces, (label, regex) pairs from client_trace_patterns(): the
    sending client's host name and IP, which Postfix's own Received header
    carries unless marketplace_header_checks took them out."""
    reals = sorted({a.lower() for a in real_addresses if a})
    traces = list(client_traces)
    problems = []
    for d in deliveries:
        found = set()
        message_texts = [("message", d.raw.decode("latin-1"))]
        message_texts += [("decoded message", v) for v in _decoded_views(d)]
        for label, pattern in traces:
            for where, text in message_texts:
                m = pattern.search(text)
                if m:
                    line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0]
                    problems.append(f"{d.summary()}: {label} in {where}: {line.strip()[:200]!r}")
                    break
        # Envelope recipient lines: the recipient's own address may appear
        # (also as ORCPT); any other real address may not.
        for args in d.rcpt_args:
            own = addr_of(args).lower()
            rest = args.lower().replace(own, "")
            for a in reals:
                if a in rest:
                    found.add((a, f"envelope recipient line {args!r}"))
        # Everything else: the sink's other header lines and the message.
        other_lines = [ln for ln in d.sink_lines if not ln.startswith("X-Rcpt-Args:")]
        texts = [("envelope", "\n".join(other_lines))] + message_texts
        for where, text in texts:
            low = text.lower()
            for a in reals:
                if a in low:
                    found.add((a, where))
        for a, where in sorted(found):
            problems.append(f"{d.summary()}: real address {a} in {where}")
    return problems
