"""The Postfix side of a Harness: smtp-sink, the private Postfix instance
(main.cf, master.cf with the marketplace's smtpd and cleanup, SASL), and
the queue and the sink as tests wait on them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from typing import Iterable

from harness_common import (DEFAULT_WAIT, DOMAIN, EXTERNAL_DOMAINS, HEADER_CHECKS,
                            IN_FLIGHT_QUEUES, POSTFIX, POSTQUEUE, SINK_USER, SMTP_SINK,
                            HarnessError, pid_alive, port_accepts, tail, wait_for)
from harness_mail import parse_dump
from harness_store import sqlite_store_locked


class PostfixMixin:
    """Harness methods for smtp-sink, Postfix and the queue (see harness_world.Harness)."""

    # ---- smtp-sink ----------------------------------------------------------
    def _start_sink(self):
        os.makedirs(self.dump_dir)
        shutil.chown(self.dump_dir, user=SINK_USER)
        os.chmod(self.dump_dir, 0o755)
        self._spawn_sink(["-d", os.path.join(self.dump_dir, "msg."),
                          f"127.0.0.1:{self.sink_port}", "128"], self.p("sink.log"))

    def _spawn_sink(self, args: list, out_path: str):
        """Starts smtp-sink (as SINK_USER) with `args`, its output to
        out_path, and waits until it accepts connections."""
        out = open(out_path, "wb")
        self._sink = subprocess.Popen(
            [SMTP_SINK, "-u", SINK_USER, *args],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self._write_pid("sink.pid", self._sink.pid)

        def up():
            if self._sink.poll() is not None:
                raise HarnessError(f"smtp-sink exited with {self._sink.returncode}:\n"
                                   + tail(out_path))
            return port_accepts(self.sink_port)
        wait_for(up, 10, f"smtp-sink on port {self.sink_port}")

    # ---- Postfix ------------------------------------------------------------
    def postfix_main_cf(self) -> dict:
        relay_domains = ", ".join((DOMAIN,) + EXTERNAL_DOMAINS)
        milters = self.postfix_milter if self.with_milter else ""
        return {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.p("data"),
            "myhostname": "mx.marketplace.example",
            "mydomain": "marketplace.example",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": relay_domains,
            "mynetworks": "127.0.0.0/8",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "relayhost": f"[127.0.0.1]:{self.sink_port}",
            "default_transport": "smtp",
            "relay_transport": "smtp",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "in_flow_delay": "0",
            "smtpd_error_sleep_time": "0",
            "message_size_limit": "52428800",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "smtpd_milters": milters,
            "non_smtpd_milters": "",
            "milter_protocol": "6",
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "10s",
            "milter_command_timeout": "30s",
            "milter_content_timeout": "60s",
            # a refused delivery to the sink is an error to see, not to retry later
            "minimal_backoff_time": "300s",
            "delay_warning_time": "0",
            **(self._sasl_main_cf(self.conf_dir) if self.sasl_users else {}),
        }

    @staticmethod
    def _sasl_main_cf(conf_dir: str) -> dict:
        return {
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            # -> smtpd.conf in conf_dir/sasl: Debian's Postfix looks there
            # whatever cyrus_sasl_config_path says; other builds need it said
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": os.path.join(conf_dir, "sasl"),
            "smtpd_sasl_security_options": "noanonymous",  # plain text on loopback
        }

    def _write_sasl_db(self):
        """smtpd.conf and a sasldb with self.sasl_users (login user@realm)."""
        db = os.path.join(self.conf_dir, "sasldb2")
        os.makedirs(os.path.join(self.conf_dir, "sasl"), mode=0o755)
        with open(os.path.join(self.conf_dir, "sasl", "smtpd.conf"), "w") as f:
            f.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                    f"mech_list: PLAIN LOGIN\nsasldb_path: {db}\n")
        for login, password in self.sasl_users.items():
            user, _, realm = login.partition("@")
            r = subprocess.run(["saslpasswd2", "-f", db, "-p", "-c",
                                *(["-u", realm] if realm else []), user],
                               input=password, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise HarnessError(f"saslpasswd2 {login}: {r.stdout}{r.stderr}")
        os.chmod(db, 0o644)  # smtpd reads it as the postfix user

    MASTER_CF = """\
# private test instance: no chroot anywhere
{smtpd}   inet  n       -       n       -       -       smtpd
{smtpd_options}pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
{extra_services}"""

    # The marketplace's smtpd, as etc/postfix/master.cf.notes (5.) sets it up:
    # its mail goes through a cleanup service of its own whose header_checks
    # take the client's host and IP out of Postfix's Received header; other
    # services keep the default cleanup and their Received headers.
    MARKETPLACE_SMTPD_OPTIONS = """\
  -o cleanup_service_name=mkt-cleanup
"""
    MARKETPLACE_CLEANUP = """\
mkt-cleanup unix n      -       n       -       0       cleanup
  -o header_checks=regexp:{header_checks}
  -o mime_header_checks=
  -o nested_header_checks=
"""

    def _start_postfix(self):
        os.makedirs(self.conf_dir)
        os.makedirs(self.queue_dir, mode=0o755)
        with open(os.path.join(self.conf_dir, "main.cf"), "w") as f:
            for k, v in self.postfix_main_cf().items():
                f.write(f"{k} = {v}\n")
        if self.sasl_users:
            self._write_sasl_db()
        smtpd_options = extra_services = ""
        if self.hide_client_received:
            if not os.path.exists(HEADER_CHECKS):
                raise HarnessError(f"{HEADER_CHECKS} missing")
            header_checks = os.path.join(self.conf_dir, "marketplace_header_checks")
            shutil.copy(HEADER_CHECKS, header_checks)
            smtpd_options = self.MARKETPLACE_SMTPD_OPTIONS
            extra_services = self.MARKETPLACE_CLEANUP.format(header_checks=header_checks)
        with open(os.path.join(self.conf_dir, "master.cf"), "w") as f:
            f.write(self.MASTER_CF.format(smtpd=f"127.0.0.1:{self.smtpd_port}",
                                          smtpd_options=smtpd_options,
                                          extra_services=extra_services))
        r = subprocess.run([POSTFIX, "-c", self.conf_dir, "start"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise HarnessError(f"postfix start failed ({r.returncode}):\n{r.stdout}{r.stderr}\n"
                               + tail(self.maillog))
        self._postfix_started = True
        pid_file = os.path.join(self.queue_dir, "pid", "master.pid")

        def master_pid():
            try:
                with open(pid_file) as f:
                    return int(f.read().strip() or 0)
            except (OSError, ValueError):
                return 0
        self._master_pid = wait_for(master_pid, 20, "Postfix master.pid",
                                    on_timeout=lambda: tail(self.maillog))
        wait_for(lambda: port_accepts(self.smtpd_port), 20,
                 f"Postfix smtpd on port {self.smtpd_port}", on_timeout=lambda: tail(self.maillog))

    def _stop_postfix(self):
        subprocess.run([POSTFIX, "-c", self.conf_dir, "stop"], capture_output=True, timeout=60)
        pid = self._master_pid
        if pid:
            try:
                wait_for(lambda: not pid_alive(pid), 20, f"Postfix master {pid} to exit")
            except HarnessError:
                os.kill(pid, signal.SIGKILL)
        self._postfix_started = False

    def postconf(self, *settings: str):
        """postconf -e on the private instance, then reload."""
        subprocess.run(["postconf", "-c", self.conf_dir, "-e", *settings], check=True)
        subprocess.run([POSTFIX, "-c", self.conf_dir, "reload"], check=True,
                       capture_output=True)

    # ---- the queue and the sink -----------------------------------------------
    def queue_files(self, queues: Iterable[str] = IN_FLIGHT_QUEUES) -> list:
        out = []
        for q in queues:
            for root, _, files in os.walk(os.path.join(self.queue_dir, q)):
                out += [os.path.join(root, f) for f in files]
        return out

    def queue_listing(self) -> str:
        r = subprocess.run([POSTQUEUE, "-c", self.conf_dir, "-p"], capture_output=True,
                           text=True, timeout=30)
        return (r.stdout + r.stderr).strip()

    def _dump_files(self) -> list:
        try:
            names = os.listdir(self.dump_dir)
        except FileNotFoundError:
            return []
        paths = [os.path.join(self.dump_dir, n) for n in names if n.startswith("msg.")]
        return sorted(paths, key=lambda p: (os.stat(p).st_mtime_ns, p))

    def diagnostics(self) -> str:
        return ("queue:\n" + self.queue_listing() + "\n--- maillog (tail):\n" + tail(self.maillog)
                + "\n--- milter output (tail):\n" + tail(self.milter_stderr, 40))

    def wait_queue_empty(self, timeout: float = DEFAULT_WAIT):
        wait_for(lambda: not self.queue_files(), timeout, "the Postfix queue to empty",
                 on_timeout=self.diagnostics)

    def wait_delivered(self, n: int, timeout: float = DEFAULT_WAIT) -> list:
        """Waits until exactly n messages that no earlier call returned have
        reached the sink and nothing is left in the queue; returns them
        parsed, oldest first.  More than n is an error too."""
        def ready():
            new = [p for p in self._dump_files() if p not in self._consumed]
            return len(new) >= n and not self.queue_files()
        wait_for(ready, timeout, f"{n} message(s) at the sink",
                 on_timeout=lambda: f"new at sink: {self._new_dumps()}\n" + self.diagnostics())
        new = self._new_dumps()
        if len(new) != n:
            raise HarnessError(f"expected {n} new message(s) at the sink, got {len(new)}:\n"
                               + "\n".join(parse_dump(p).summary() for p in new))
        self._consumed.update(new)
        return [parse_dump(p) for p in new]

    def _new_dumps(self) -> list:
        return [p for p in self._dump_files() if p not in self._consumed]

    def assert_nothing_delivered(self, timeout: float = DEFAULT_WAIT):
        """Waits for the queue to drain, then asserts that nothing new
        reached the sink (and that nothing sits in the hold queue)."""
        self.wait_queue_empty(timeout)
        new = self._new_dumps()
        if new:
            self._consumed.update(new)
            raise AssertionError("unexpected deliveries:\n"
                                 + "\n".join(parse_dump(p).summary() for p in new))

    def all_deliveries(self) -> list:
        return [parse_dump(p) for p in self._dump_files()]

    def hold_queue(self) -> list:
        return self.queue_files(("hold",))

    def drain(self, timeout: float = DEFAULT_WAIT):
        """Waits for the queue to empty and forgets whatever reached the sink
        so far (so one failed test does not confuse the next one's count)."""
        self.wait_queue_empty(timeout)
        self._consumed.update(self._dump_files())

    def lock_store(self, timeout: float = 10.0):
        """Context manager: the milter's SQLite store is unavailable inside."""
        return sqlite_store_locked(self.store_path, timeout)
