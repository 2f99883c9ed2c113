"""Shared plumbing for Fjord's integration tests: argument parsing, broker fixtures, helpers.

Each test script is run as `python3 test_x.py --fjord /path/to/fjord [unittest args]`.
Without --fjord, $FJORD_BINARY or the release build path is used.
"""

import itertools
import os
import re
import socket
import sys
import time
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

import broker_process  # noqa: E402
import kafka_wire as kw  # noqa: E402

FJORD = None

# Words of which at least one appears in a log line explaining why a connection was closed.
REASON_WORDS = ("clos", "invalid", "malformed", "error", "unsupported", "unknown", "too large",
                "too big", "exceed", "disconnect", "drop", "reject", "eof", "idle", "truncat",
                "corrupt", "bad", "size", "fail", "short")
_topic_counter = itertools.count(1)


def fjord_binary():
    return FJORD


def main():
    """Parses --fjord and runs unittest on the calling module."""
    global FJORD
    argv = [sys.argv[0]]
    args = iter(sys.argv[1:])
    for a in args:
        if a == "--fjord":
            FJORD = next(args, None)
        elif a.startswith("--fjord="):
            FJORD = a.split("=", 1)[1]
        else:
            argv.append(a)
    if not FJORD:
        FJORD = os.environ.get("FJORD_BINARY",
                               os.path.join(_HERE, "..", "..", "build", "release", "src", "app",
                                            "fjord"))
    FJORD = os.path.abspath(FJORD)
    if not os.access(FJORD, os.X_OK):
        sys.stderr.write("fjord binary not found: %s\n" % FJORD)
        sys.exit(2)
    unittest.main(argv=argv, verbosity=2)


def open_raw(port):
    """A plain TCP connection to the broker, TCP_NODELAY on."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_by_peer(s, timeout):
    """True when the peer closes s (EOF or reset) within timeout seconds."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def unique_topic(prefix="t"):
    return "%s-%d-%d" % (prefix, os.getpid(), next(_topic_counter))


class BrokerTestCase(unittest.TestCase):
    """Starts one broker per test class (settings from BROKER_SETTINGS)."""

    BROKER_SETTINGS = {}
    BROKER_NOFILE = None  # the broker's descriptor limit, when a test needs a small one
    broker = None

    @classmethod
    def setUpClass(cls):
        cls.broker = broker_process.Broker(FJORD, settings=dict(cls.BROKER_SETTINGS),
                                           nofile=cls.BROKER_NOFILE)
        try:
            cls.broker.start()
        except Exception:
            cls.broker.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.broker is not None:
            cls.broker.stop()
            cls.broker.cleanup()

    def setUp(self):
        self.assertTrue(self.broker.alive(), "broker died before this test:\n" +
                        self.broker.stderr()[-4000:])

    def client(self, timeout=10.0):
        c = kw.Client(self.broker.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def create_topic(self, client, topic, attempts=50):
        """Auto-creates topic through Metadata v1 and waits until partition 0 has a leader."""
        for _ in range(attempts):
            md = client.metadata([topic])
            t = md["topics"].get(topic)
            if (t is not None and t["error"] == kw.NONE and t["partitions"] and
                    all(p["leader"] >= 0 and p["error"] == kw.NONE for p in t["partitions"])):
                return t
            time.sleep(0.1)
        self.fail("topic %s never got a leader: %r" % (topic, md))

    def assert_well_behaved_client_served(self, topic=None):
        """A fresh connection doing ApiVersions + Metadata + Produce + Fetch is served."""
        self.assertTrue(self.broker.alive(), "broker died:\n" + self.broker.stderr()[-4000:])
        topic = topic or unique_topic("healthy")
        with kw.Client(self.broker.port) as c:
            av = c.api_versions(3)
            self.assertEqual(av["error"], kw.NONE)
            self.assertIn(kw.PRODUCE, av["apis"])
            self.create_topic(c, topic)
            value = b"still-served-%d" % time.monotonic_ns()
            p = c.produce(topic, 0, kw.record_batch([value]))
            self.assertEqual(p["error"], kw.NONE)
            f = c.fetch(topic, 0, p["base_offset"])
            self.assertEqual(f["error"], kw.NONE)
            values = [v for _, recs in kw.parse_record_batches(f["records"])
                      for _, _, v in recs]
            self.assertIn(value, values)

    def assert_logged_peer(self, peer_port, timeout=5.0):
        """The broker logged a line naming the client's address (127.0.0.1:<port>) and a reason.

        The exact wording is the broker's; a line counts when it names the peer port and
        contains one of REASON_WORDS (case-insensitive).
        """
        needle = re.compile(r":%d(?!\d)" % peer_port)

        def matches(line):
            low = line.lower()
            return needle.search(line) is not None and any(w in low for w in REASON_WORDS)

        line = self.broker.wait_for_log(matches, timeout=timeout)
        self.assertIsNotNone(
            line, "no log line names peer port %d; log tail:\n%s" %
            (peer_port, self.broker.stderr()[-3000:]))
        return line
