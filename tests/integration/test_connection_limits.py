"""Connection limits and descriptor exhaustion.

- max.connections: at the limit the broker stops accepting; a new connection waits (in
  the kernel's backlog, as behind Kafka's blocked acceptor) until one closes.
- max.connections.per.ip: a connection past it is closed at once, with Kafka's log line.
- Out of file descriptors: the acceptor backs off (no spinning core, one log line per
  interval) and serves again once descriptors are free.
"""

import os
import socket
import time
import unittest

import common
import kafka_wire as kw


open_raw = common.open_raw
closed_by_peer = common.closed_by_peer


def api_versions_answered(s, cid, timeout):
    """Sends ApiVersions v3 on s; True when the answer comes within timeout."""
    s.sendall(kw.api_versions_request(cid, 3))
    s.settimeout(timeout)
    try:
        head = s.recv(8)
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return False
    return len(head) == 8


class MaxConnectionsTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"max.connections": "4"}

    def test_a_connection_past_the_limit_waits_for_a_free_slot(self):
        held = [open_raw(self.broker.port) for _ in range(4)]
        try:
            for i, s in enumerate(held):
                self.assertTrue(api_versions_answered(s, i, 10))
            waiting = open_raw(self.broker.port)  # the kernel completes the handshake
            self.assertFalse(api_versions_answered(waiting, 99, 1.5),
                             "a fifth connection was served beyond max.connections=4")
            held.pop().close()
            waiting.settimeout(10)
            self.assertEqual(len(waiting.recv(8)), 8, "served once a slot was free")
            held.append(waiting)
        finally:
            for s in held:
                s.close()
        time.sleep(0.5)
        self.assert_well_behaved_client_served()


class MaxConnectionsPerIpTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"max.connections.per.ip": "3"}

    def test_a_connection_past_the_per_address_limit_is_closed(self):
        held = [open_raw(self.broker.port) for _ in range(3)]
        try:
            for i, s in enumerate(held):
                self.assertTrue(api_versions_answered(s, i, 10))
            extra = open_raw(self.broker.port)
            self.assertTrue(closed_by_peer(extra, 10), "the fourth connection stayed open")
            extra.close()
            line = self.broker.wait_for_log(
                lambda l: "Rejected connection from 127.0.0.1" in l and "maximum of 3" in l)
            self.assertIsNotNone(line, self.broker.stderr()[-2000:])
            held.pop().close()
            time.sleep(0.3)
            again = open_raw(self.broker.port)
            held.append(again)
            self.assertTrue(api_versions_answered(again, 50, 10))
        finally:
            for s in held:
                s.close()


@unittest.skipIf(os.environ.get("FJORD_SANITIZED") == "1",
                 "with ASan/UBSan the sanitizer runtime itself runs out of descriptors: UBSan "
                 "reports an invalid vptr whose memory it 'cannot print' and stops the broker; "
                 "the Release build runs this test")
class DescriptorExhaustionTest(common.BrokerTestCase):
    BROKER_NOFILE = 200

    def test_running_out_of_descriptors_backs_off_and_recovers(self):
        conns = []
        try:
            # More connections than the broker has descriptors for.
            for _ in range(300):
                conns.append(open_raw(self.broker.port))
            time.sleep(1.0)
            cpu_before = self.broker.cpu_seconds()
            time.sleep(3.0)
            cpu = self.broker.cpu_seconds() - cpu_before
            self.assertLess(cpu, 1.0, "the broker spun %.2f s of CPU in 3 s" % cpu)
            failures = [l for l in self.broker.log_lines() if "accept on" in l and "failed" in l]
            self.assertGreaterEqual(len(failures), 1, "no log line says accepting failed")
            self.assertLessEqual(len(failures), 3, "accept failures logged %d times" % len(failures))
            self.assertTrue(self.broker.alive())
        finally:
            for s in conns:
                s.close()
        time.sleep(1.0)
        self.assert_well_behaved_client_served()


if __name__ == "__main__":
    common.main()
