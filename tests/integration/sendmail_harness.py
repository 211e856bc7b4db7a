"""The harness's world with Debian's Sendmail 8.17 in place of Postfix.

Sendmail conflicts with Postfix as an installed package, so its .debs are
fetched once (`apt-get download`, from Debian's archive) and unpacked with
`dpkg -x` into a private root beside the build; the daemon runs from there
with a .cf of the test's own, built with that root's m4 and sendmail-cf from
the project's etc/sendmail/marketplace-milter.mc (its INPUT_MAIL_FILTER line
with the test's socket, its EOM macros and its Received header without the
"from" clause).  It listens on a loopback port and relays everything to the
harness's smtp-sink.

Sendmail sleeps 60 s when the host's name is unqualified: it runs in a
private mount namespace (unshare -m) whose /etc/hosts names the host with a
domain.  The unpacked binary loses its setgid bit, or ld.so would ignore
LD_LIBRARY_PATH (liblockfile and libwrap come from the private root)."""

import os
import re
import shutil
import signal
import subprocess

from mmharness import DOMAIN, Harness, HarnessError, port_accepts, tail, wait_for

DEBS = ("sendmail-bin", "sendmail-base", "sendmail-cf", "m4", "liblockfile1", "libwrap0")
SNIPPET = "etc/sendmail/marketplace-milter.mc"
SINK_HOST = "sink.sendmail-test.example"  # smtp-sink, in the namespace's /etc/hosts


def sendmail_root(cache_dir: str) -> str:
    """The unpacked packages under cache_dir (made once); raises HarnessError
    when they cannot be fetched."""
    root = os.path.join(cache_dir, "root")
    binary = os.path.join(root, "usr", "libexec", "sendmail", "sendmail")
    if os.access(binary, os.X_OK):
        return root
    debs = os.path.join(cache_dir, "debs")
    os.makedirs(debs, exist_ok=True)
    r = subprocess.run(["apt-get", "download", *DEBS], cwd=debs, capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        raise HarnessError(f"apt-get download {' '.join(DEBS)} failed:\n{r.stderr}")
    staging = root + ".new"
    shutil.rmtree(staging, ignore_errors=True)
    for deb in sorted(os.listdir(debs)):
        subprocess.run(["dpkg", "-x", os.path.join(debs, deb), staging], check=True)
    os.chmod(os.path.join(staging, "usr", "libexec", "sendmail", "sendmail"), 0o755)
    os.replace(staging, root)
    return root


def snippet_lines(repo_root: str, milter_spec: str) -> str:
    """The project's .mc lines (dnl comments dropped), the socket replaced."""
    with open(os.path.join(repo_root, SNIPPET)) as f:
        text = f.read()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("dnl")]
    out = "\n".join(lines) + "\n"
    out, n = re.subn(r"S=[^,']+", f"S={milter_spec}", out)
    if n != 1:
        raise HarnessError(f"{SNIPPET}: expected one S= socket, found {n}")
    return out


class SendmailHarness(Harness):
    """Harness with Sendmail as the MTA: send(), wait_delivered(), the audit
    log and the privacy checker work as with Postfix."""

    def __init__(self, *args, cache_dir: str, **kw):
        super().__init__(*args, **kw)
        self.cache_dir = cache_dir
        self._sendmail = None

    @property
    def queue_dir(self) -> str:
        return self.p("mqueue")

    @property
    def maillog(self) -> str:
        return self.p("sendmail.out")

    def queue_files(self, queues=()) -> list:
        try:
            return [os.path.join(self.queue_dir, n) for n in os.listdir(self.queue_dir)
                    if n.startswith("qf")]
        except FileNotFoundError:
            return []

    def queue_listing(self) -> str:
        return "\n".join(self.queue_files()) or "(empty)"

    def _mc(self) -> str:
        d = self.p("sendmail")
        relay = f"TCP $h {self.sink_port}"
        return (f"divert(0)dnl\nVERSIONID(`marketplace-milter test')dnl\nOSTYPE(`linux')dnl\n"
                f"define(`confDONT_PROBE_INTERFACES', `True')dnl\n"
                f"define(`confDOMAIN_NAME', `mx.{DOMAIN}')dnl\n"
                # by name: Sendmail counts [127.0.0.1] among its own names
                f"define(`SMART_HOST', `[{SINK_HOST}]')dnl\n"
                f"define(`RELAY_MAILER_ARGS', `{relay}')dnl\n"
                f"define(`ESMTP_MAILER_ARGS', `{relay}')dnl\n"
                f"define(`SMTP_MAILER_ARGS', `{relay}')dnl\n"
                f"define(`QUEUE_DIR', `{self.queue_dir}')dnl\n"
                f"define(`MSP_QUEUE_DIR', `{self.queue_dir}')dnl\n"
                f"define(`STATUS_FILE', `{d}/statistics')dnl\n"
                f"define(`confPID_FILE', `{d}/sendmail.pid')dnl\n"
                f"define(`ALIAS_FILE', `')dnl\ndefine(`HELP_FILE', `')dnl\n"
                f"define(`confCW_FILE', `-o {d}/local-host-names')dnl\n"
                f"DAEMON_OPTIONS(`Port={self.smtpd_port}, Addr=127.0.0.1, Name=MTA')dnl\n"
                f"RELAY_DOMAIN(`{DOMAIN}')dnl\n"
                # no DNS here: the test's domains resolve nowhere
                f"FEATURE(`accept_unresolvable_domains')dnl\nFEATURE(`nocanonify')dnl\n"
                + snippet_lines(self.repo_root, f"inet:{self.milter_port}@127.0.0.1")
                + "MAILER(`smtp')dnl\n")

    def _start_postfix(self):
        root = sendmail_root(self.cache_dir)
        d = self.p("sendmail")
        os.makedirs(d)
        os.makedirs(self.queue_dir, mode=0o700)
        open(os.path.join(d, "local-host-names"), "w").close()
        with open(os.path.join(d, "test.mc"), "w") as f:
            f.write(self._mc())
        cf_dir = os.path.join(root, "usr", "share", "sendmail", "cf")
        with open(os.path.join(d, "test.cf"), "w") as out:
            subprocess.run([os.path.join(root, "usr", "bin", "m4"), f"-D_CF_DIR_={cf_dir}/",
                            os.path.join(cf_dir, "m4", "cf.m4"), os.path.join(d, "test.mc")],
                           stdout=out, check=True)
        hosts = os.path.join(d, "hosts")
        host = os.uname().nodename.split(".")[0]
        with open(hosts, "w") as f:
            f.write(f"127.0.0.1 localhost\n127.0.0.1 {host}.sendmail-test.example {host}\n"
                    f"127.0.0.1 {SINK_HOST}\n")
        binary = os.path.join(root, "usr", "libexec", "sendmail", "sendmail")
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr", "lib", "x86_64-linux-gnu"))
        script = (f'mount --bind "{hosts}" /etc/hosts && '
                  f'exec "{binary}" -C "{d}/test.cf" -bD -d0.1 -q1m')
        with open(self.maillog, "w") as log:
            self._sendmail = subprocess.Popen(["unshare", "-m", "sh", "-c", script], env=env,
                                              stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True)
        self._postfix_started = True
        wait_for(lambda: port_accepts(self.smtpd_port), 30,
                 f"Sendmail on port {self.smtpd_port}", on_timeout=lambda: tail(self.maillog))

    def _stop_postfix(self):
        if self._sendmail is not None and self._sendmail.poll() is None:
            os.killpg(self._sendmail.pid, signal.SIGTERM)
            try:
                self._sendmail.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self._sendmail.pid, signal.SIGKILL)
                self._sendmail.wait(10)
        self._postfix_started = False
