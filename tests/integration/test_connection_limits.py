"""Connection limits and descriptor exhaustion.

- max.connections: at the limit the broker stops accepting; a new connection waits (in
  the kernel's backlog, as behind Kafka's blocked acceptor) until one closes.
- max.connections.per.ip: a connection past it is closed at once, with Kafka's log line.
- Out of file descriptors: the acceptor backs off (no spinning core, one log line per
  interval) and serves again once descriptors are free.
- Idle connections cost no read buffer: thousands of them keep the broker's memory flat.
- queued.max.request.bytes bounds request bytes in flight over the whole broker: past it
  connections stop reading until memory is given back.
"""

import os
import resource
import socket
import struct
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


def raise_own_descriptor_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class IdleConnectionMemoryTest(common.BrokerTestCase):
    def test_idle_connections_hold_no_read_buffers(self):
        count = min(3000, raise_own_descriptor_limit(3300) - 200)
        conns = []
        try:
            # Warm up: the loops' buffer caches and the allocator's arenas.
            warm = [open_raw(self.broker.port) for _ in range(50)]
            for i, s in enumerate(warm):
                self.assertTrue(api_versions_answered(s, i, 10))
            time.sleep(0.3)
            before = self.broker.rss_kib()
            for i in range(count):
                s = open_raw(self.broker.port)
                conns.append(s)
                # Each connection has read and been answered once, then goes idle.
                self.assertTrue(api_versions_answered(s, i, 10), "connection %d not served" % i)
            time.sleep(0.5)
            grown = self.broker.rss_kib() - before
            per_connection = grown / count
            # A connection's socket, timer and state are a few KiB; a 64 KiB read buffer
            # held by every open connection is what this guards against.
            self.assertLess(per_connection, 16,
                            "RSS grew %d KiB for %d idle connections (%.1f KiB each)" %
                            (grown, count, per_connection))
            for s in warm:
                s.close()
        finally:
            for s in conns:
                s.close()
        time.sleep(0.5)
        self.assert_well_behaved_client_served()


def send_partial_frame(port, declared, sent, timeout=0.5):
    """A connection that announces a `declared`-byte request and sends up to `sent` bytes
    of it (less when the broker stops reading for `timeout`)."""
    s = open_raw(port)
    # A Produce header, so the frame looks like the start of a real request.
    body = struct.pack(">hhi", 0, 9, 7) + b"\x01" * (sent - 8)
    s.settimeout(timeout)
    try:
        s.sendall(struct.pack(">i", declared) + body)
    except socket.timeout:
        pass
    return s


class BrokerRequestMemoryTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"queued.max.request.bytes": str(64 * 1024 * 1024)}

    def test_half_sent_large_requests_are_bounded_broker_wide(self):
        big = 50 * 1024 * 1024
        before = self.broker.rss_kib()
        holders = []
        try:
            # 20 connections each announce 50 MiB (within socket.request.max.bytes) and send
            # 8 MiB of it: only those the pool admits get a frame buffer; the rest stop
            # reading (their bytes wait in the kernel, not in the broker).
            for _ in range(20):
                holders.append(send_partial_frame(self.broker.port, big, 8 * 1024 * 1024))
            time.sleep(1.5)
            grown_mib = (self.broker.rss_kib() - before) / 1024
            # Unbounded, the 20 buffers would hold 160 MiB of those bytes.
            self.assertLess(grown_mib, 80,
                            "RSS grew %.0f MiB for 20 part-sent 50 MiB requests" % grown_mib)
            # The pool is spent: a new request is not read until memory comes back.
            other = open_raw(self.broker.port)
            self.assertFalse(api_versions_answered(other, 1, 1.5),
                             "a request was read while queued.max.request.bytes was spent")
            for s in holders:
                s.close()
            holders = []
            other.settimeout(10)
            self.assertEqual(len(other.recv(8)), 8, "answered once the pool had memory again")
            other.close()
        finally:
            for s in holders:
                s.close()
        self.assertTrue(self.broker.alive())
        self.assert_well_behaved_client_served()


class UnboundedRequestMemoryTest(common.BrokerTestCase):
    def test_without_a_broker_budget_a_half_sent_request_stalls_nobody(self):
        holder = send_partial_frame(self.broker.port, 50 * 1024 * 1024, 4096)
        try:
            time.sleep(0.3)
            other = open_raw(self.broker.port)
            self.assertTrue(api_versions_answered(other, 1, 5))
            other.close()
        finally:
            holder.close()


if __name__ == "__main__":
    common.main()
