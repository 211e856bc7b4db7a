"""mmharness: end-to-end test harness for marketplace-milter (stdlib only).

One Harness = one private world under a temp dir:

    client --SMTP--> Postfix smtpd (127.0.0.1:P1) --milter--> marketplace-milter (127.0.0.1:P3)
                          |
                          +--smtp--> smtp-sink (127.0.0.1:P2), one dump file per message

* Postfix runs as a private instance (``postfix -c DIR start``) with its own
  main.cf/master.cf, queue_directory, data_directory and maillog_file inside
  the temp dir; the system's /etc/postfix is never read or changed (as root,
  ``postfix -c`` needs no alternate_config_directories).  chroot is off for
  every service (Debian's chroot needs files that only its init script copies).
* smtp-sink dumps every delivered transaction to ``dump/msg.<hex>``
  (``-d``).  The dump is text, LF line endings, dot-unstuffed:
  ``X-Client-Addr``, ``X-Client-Proto``, ``X-Helo-Args``, ``X-Mail-Args:
  <sender> [params]``, one ``X-Rcpt-Args: <rcpt> [ORCPT=...]`` per recipient,
  a three-line ``Received: ... (smtp-sink) ...`` header, then the message as
  received, then one empty line.  parse_dump() turns that into a Delivery.
* The milter runs with a generated config (own store.db, audit.log,
  hmac.key and a copy of the repo's etc/policy.yaml, with the test class's
  policy overrides applied: set_policy_values()).
* The smtpd that clients talk to is the marketplace's smtpd as
  etc/postfix/master.cf.notes describes it: its own cleanup service
  (mkt-cleanup) with etc/postfix/marketplace_header_checks, which takes the
  client's host name and IP out of Postfix's own Received header.  Clients
  say EHLO SENDER_HELO from SENDER_IP; the privacy checker also looks for
  those in every delivered message.

Ports are random free ports outside the kernel's ephemeral range, so several
harnesses (ctest -j2) can run at once.  Every wait polls a condition with a
deadline and fails loudly with the relevant logs; nothing sleeps and hopes.

Environment:
    MM_BINARY     path of marketplace-milter (default: REPO/build/milter/marketplace-milter)
    MM_REPO_ROOT  repository root (default: two levels above this file)
    MM_KEEP_TMP   keep the temp dir after the run (for debugging)
    MM_TMPDIR     parent of the temp dirs (default: the system temp dir)

Must run as root (Postfix's master does).

The harness is split by job; this module gathers what tests import:
    harness_common   paths, names and addresses, waits, ports, processes
    harness_mail     messages, the SMTP client, sink dumps, the privacy checker
    harness_store    parties, policy.yaml patching, the SQLite lock, PgServer
    harness_postfix  smtp-sink, the private Postfix, the queue (PostfixMixin)
    harness_milter   the daemon, the CLI and provisioning, the audit log (MilterMixin)
    harness_world    Harness itself: paths, lifecycle, clean-up of leftovers
    harness_cases    HarnessTestCase, OnePairTestCase, CorpusTestCase, corpora
"""


from harness_cases import (CorpusTestCase, HarnessTestCase, OnePairTestCase,  # noqa: F401
                           add_test_per_entry, audit_decision_and_rules, corpus_parties,
                           load_corpus)
from harness_common import (DEFAULT_WAIT, DOMAIN, EXTERNAL_DOMAINS, HEADER_CHECKS,  # noqa: F401
                            HERE, IN_FLIGHT_QUEUES, POSTFIX, POSTQUEUE, REPO_ROOT, SENDER_HELO,
                            SENDER_IP, SINK_USER, SMTP_SINK, HarnessError, default_binary,
                            free_port, pid_alive, port_accepts, tail, wait_for)
from harness_mail import (Delivery, SendResult, addr_of, client_trace_patterns, crlf,  # noqa: F401
                          make_message, parse_dump, privacy_violations, smtp_send, unique_line)
from harness_store import (PG_SERVER, Party, PgServer, postgres_available,  # noqa: F401
                           set_yaml_scalar, sqlite_store_locked)
from harness_world import Harness, reap_dir, reap_stale_harnesses  # noqa: F401
