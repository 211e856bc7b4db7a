"""test_kill_retry with 2,000 messages and eight kills (label long:
scripts/test --long)."""

import unittest

from test_kill_retry import KillRetryTest


class KillRetryLongTest(KillRetryTest):
    harness_name = "killlong"
    messages = 2000
    kills = 8


del KillRetryTest  # run only the long variant here

if __name__ == "__main__":
    unittest.main()
