"""Shared plumbing of the client-compatibility tests: a real `fjord` broker per test class
and the scale factor that shrinks the message counts under the sanitizer build.

Each script runs as `python3 test_x.py --fjord /path/to/fjord [unittest args]`. It reuses
the broker fixture of the integration tests (tests/integration/broker_process.py).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "integration"))

import broker_process  # noqa: E402
import common  # noqa: E402

# Argument parsing (--fjord) and the unittest run are the integration tests' own.
main = common.main


def fjord_binary():
    return common.fjord_binary()


def scale():
    """FJORD_TEST_SCALE (default 1.0): the ASan build runs a tenth of the messages."""
    return float(os.environ.get("FJORD_TEST_SCALE", "1.0"))


def scaled(n, minimum=100):
    return max(minimum, int(n * scale()))


class BrokerCase(common.BrokerTestCase):
    """One broker per test class (settings from BROKER_SETTINGS), which a test may restart
    on the same data."""

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for old in getattr(cls, "_retired", []):
            old.cleanup()

    @classmethod
    def restart(cls, kill=False):
        """Stops the broker (SIGTERM, or SIGKILL when kill) and starts it on the same data."""
        old = cls.broker
        if kill:
            old.kill()
        else:
            rc = old.stop()
            assert rc == 0, "fjord exited with %s on SIGTERM:\n%s" % (rc, old.stderr()[-3000:])
        settings = dict(old.settings)
        new = broker_process.Broker(fjord_binary(), settings=settings, data_dir=old.data_dir)
        cls._retired = getattr(cls, "_retired", []) + [old]  # owns the data dir
        new.start()
        cls.broker = new
        return new

    def bootstrap(self):
        return "127.0.0.1:%d" % self.broker.port

    def tearDown(self):
        self.assertTrue(self.broker.alive(), "broker died during the test:\n" +
                        self.broker.stderr()[-3000:])
